"""``[accounts.settings]`` of an SFMC account. Defaults are the platform's documented maxima."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from pressure_sdk.connectors.http import HttpSettings

#: the five tracking objects of the SOAP API (WSDL: subclasses of ``TrackingEvent``)
TRACKING_OBJECTS = ("SentEvent", "OpenEvent", "ClickEvent", "BounceEvent", "UnsubEvent")


class SfmcSettings(HttpSettings):
    """Tenant, page sizes, windows and push options of the SFMC connector (unknown keys are refused)."""

    #: the tenant's subdomain: the token is asked of ``https://{subdomain}.auth.marketingcloudapis.com``;
    #: an account's ``base_url`` (a sandbox) replaces that host
    subdomain: str | None = Field(default=None, min_length=1, max_length=63)
    #: ``scope`` of the token request, space-separated; unset means the package's scopes
    scope: str | None = None
    #: ``RetrieveOptions.BatchSize``: objects per SOAP page (the API pages tracking data by 2,500)
    batch_size: int = Field(default=2500, ge=1, le=2500)
    #: ``$pageSize`` of the rowset read (2,500 is the default; no larger page is documented)
    rowset_page_size: int = Field(default=2500, ge=1, le=2500)
    #: subscriber keys per ``Subscriber`` lookup (``SubscriberKey IN …``) when keys are not emails
    lookup_size: int = Field(default=500, ge=1, le=2500)
    #: tracking objects pulled; complaints have no SOAP object and arrive as their automatic unsubscribe
    tracking: list[Literal["SentEvent", "OpenEvent", "ClickEvent", "BounceEvent", "UnsubEvent"]] = Field(
        default_factory=lambda: list(TRACKING_OBJECTS), min_length=1
    )
    #: days read on the first run (tracking data is kept six months)
    backfill_days: int = Field(default=90, ge=1, le=180)
    #: hours of one ``EventDate`` window: the watermark moves when a window is read whole
    window_hours: int = Field(default=168, ge=1, le=24 * 31)
    #: minutes re-read before the watermark: tracking data is written late
    overlap_minutes: int = Field(default=60, ge=0, le=24 * 60)
    #: family of a send without a triggered send definition (a job sent to a list or audience)
    send_family: str = Field(default="marketing", min_length=1)
    #: family of a send made by a triggered send definition
    triggered_family: str = Field(default="trigger", min_length=1)
    #: minutes re-read before the audience watermark (``CreatedDate`` / ``UnsubscribedDate``)
    audience_overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)
    #: rows per synchronous call (rowset upsert, SOAP Delete): the documented soft limit is 50
    sync_batch: int = Field(default=50, ge=1, le=50)
    #: rows per asynchronous upsert: the documented hard limit is 32,000
    async_batch: int = Field(default=32_000, ge=1, le=32_000)
    #: seconds between polls of an asynchronous upsert's status
    async_poll_interval: float = Field(default=5.0, ge=0, le=600)
    #: polls before an unfinished asynchronous upsert is left to the next run
    async_max_polls: int = Field(default=60, ge=1, le=1000)
    #: prefix of the external key (CustomerKey) of each suppression data extension; the list name follows
    key_prefix: str = Field(default="pressure-", max_length=100)
    #: folder (``CategoryID``) new suppression data extensions are created in; unset means the default folder
    folder_id: int | None = Field(default=None, ge=1)

    @field_validator("subdomain")
    @classmethod
    def _host_label(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", v):
            msg = "a subdomain is the tenant's host label (letters, digits, dashes), e.g. mc563885gzs27c5t9-63k636ttgm"
            raise ValueError(msg)
        return v

    @field_validator("tracking")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each tracking object at most once")
        return v
