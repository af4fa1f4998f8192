"""``[accounts.settings]`` of a Mailchimp account. Defaults are the maxima of Mailchimp's API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pressure_sdk.connectors.http import HttpSettings


class MailchimpSettings(HttpSettings):
    """The audience, windows, page sizes and push options of the Mailchimp connector (unknown keys are refused)."""

    #: the audience (list) id: its campaigns are read, its members are the audience, its segments the lists
    list_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9]+$")
    #: ``count`` of every collection read ("Maximum value is 1000")
    page_size: int = Field(default=1000, ge=1, le=1000)
    #: days of sent campaigns read on the first run
    backfill_days: int = Field(default=30, ge=1, le=365)
    #: days after its send during which a campaign's activity, unsubscribes and abuse reports are read again
    activity_days: int = Field(default=30, ge=1, le=365)
    #: minutes read again before the activity watermark (``email-activity`` ``since``) and the campaign listing
    overlap_minutes: int = Field(default=60, ge=0, le=1440)
    #: minutes read again before the audience watermark (``since_last_changed``)
    audience_overlap_minutes: int = Field(default=10, ge=0, le=1440)
    #: emails per array of a segment's batch add/remove: fixed by the API ("A maximum of 500 members")
    segment_batch_size: Literal[500] = 500
    #: create contacts the audience lacks (as ``transactional``) before adding them to a segment
    add_missing_members: bool = True
    #: run reads through ``POST /batches`` when a stage has at least this many pages to read (0: never)
    batch_min_operations: int = Field(default=50, ge=0)
    #: operations per ``POST /batches`` (bounds the size of one results archive)
    batch_max_operations: int = Field(default=200, ge=1, le=10_000)
    #: seconds before the first poll of a batch; each later poll waits twice as long, up to ``batch_poll_max``
    batch_poll_interval: float = Field(default=5.0, ge=0, le=600)
    batch_poll_max: float = Field(default=60.0, ge=0, le=3600)
    #: seconds to wait for a batch before reading its pages directly instead
    batch_timeout: float = Field(default=1800.0, gt=0)
