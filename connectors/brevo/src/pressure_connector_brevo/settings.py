"""``[accounts.settings]`` of a Brevo account. Defaults are the maxima of Brevo's API description."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pressure_sdk.connectors.http import HttpSettings


class BrevoSettings(HttpSettings):
    """Page sizes, windows and push options of the Brevo connector (unknown keys are refused)."""

    #: ``GET /smtp/statistics/events`` ``limit`` (spec: maximum 5000)
    events_page_size: int = Field(default=5000, ge=1, le=5000)
    #: ``GET /contacts`` ``limit`` (spec: maximum 1000)
    contacts_page_size: int = Field(default=1000, ge=1, le=1000)
    #: ``GET /contacts/lists`` and ``GET /contacts/folders`` ``limit`` (spec: maximum 50)
    lists_page_size: int = Field(default=50, ge=1, le=50)
    #: ``GET /contacts/lists/{listId}/contacts`` ``limit`` (spec: maximum 500)
    members_page_size: int = Field(default=500, ge=1, le=500)
    #: days re-read before the watermark: Brevo's date filters are whole days, and events arrive late
    overlap_days: int = Field(default=1, ge=1, le=30)
    #: days read on the first run (spec: a date range may not exceed 90 days)
    backfill_days: int = Field(default=30, ge=1, le=90)
    #: pull campaign sends and engagements with one ``campaignStats`` call per contact (see README for the cost)
    campaigns: bool = True
    #: only read campaign stats of contacts in these lists (``GET /contacts?listIds=``); empty means every contact
    campaign_list_ids: list[int] = Field(default_factory=list)
    #: days before a pass's window whose sent campaigns it checks for moved statistics (their events may still come)
    campaign_horizon_days: int = Field(default=90, ge=1, le=180)
    #: minutes read again before the audience watermark (``modifiedSince``): clock skew and late changes
    audience_overlap_minutes: int = Field(default=10, ge=0, le=1440)
    #: folder new suppression lists are created in; if unset, a folder named ``folder_name`` is found or created
    folder_id: int | None = Field(default=None, ge=1)
    folder_name: str = Field(default="pressure-sdk", min_length=1)
    #: emails per add/remove call: fixed by the spec (``maxItems: 150``), shown here so it is not a surprise
    list_batch_size: Literal[150] = 150
    #: seconds between polls of an import process (``/processes`` shares the 100/hour bucket)
    import_poll_interval: float = Field(default=15.0, ge=0, le=600)
    #: polls before giving up on an import this run (its contacts are retried next run)
    import_max_polls: int = Field(default=8, ge=1, le=50)
