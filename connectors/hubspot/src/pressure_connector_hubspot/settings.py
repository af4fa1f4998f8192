"""``[accounts.settings]`` of a HubSpot account."""

from __future__ import annotations

from pydantic import Field, field_validator

from pressure_sdk.connectors.http import HttpSettings


class HubSpotSettings(HttpSettings):
    """What a HubSpot account may tune; every field has a working default."""

    #: Lists API root; HubSpot also serves date-versioned roots such as ``/crm/lists/2026-03``
    lists_path_prefix: str = "/crm/v3/lists"
    #: events per page of ``/email/public/v1/events`` (HubSpot's maximum is 1000)
    page_size: int = Field(default=1000, ge=1, le=1000)
    #: seconds re-read before the watermark, for events HubSpot records late
    overlap: int = Field(default=3600, ge=0)
    #: seconds before now left for the next run, because tracking data arrives late
    lag: int = Field(default=600, ge=0)
    #: days of history the first run reads
    backfill_days: int = Field(default=90, ge=1, le=3650)
    #: seconds per time slice; the watermark moves at the end of each slice
    slice: int = Field(default=86400, ge=60)
    #: the widest a slice grows: a slice read in one page is followed by one twice as wide (empty days cost little)
    max_slice: int = Field(default=30 * 86400, ge=60)
    #: record ids per add-and-remove call (the v3 maximum is not documented; 1000 is conservative)
    membership_batch_size: int = Field(default=1000, ge=1, le=100_000)
    #: drop events HubSpot itself filtered out (bot opens and clicks)
    exclude_filtered_events: bool = True
    #: family of the touches made from sent marketing emails
    family: str = "marketing"
    #: also read the subscriptions timeline (unsubscribes and spam reports outside a send)
    subscriptions_timeline: bool = True
    #: seconds re-read before the audience watermark (search index lag, clock skew)
    audience_overlap: int = Field(default=300, ge=0)
    #: contacts per page of the contacts list and of the contacts search (HubSpot's maximum is 100)
    audience_page_size: int = Field(default=100, ge=2, le=100)
    #: CRM search requests per second (HubSpot allows about 4 per account, apart from the other limits)
    search_rate: float = Field(default=4.0, gt=0, le=10)

    @field_validator("lists_path_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if not v.startswith("/"):
            msg = "must be a path starting with '/', e.g. '/crm/v3/lists'"
            raise ValueError(msg)
        return v
