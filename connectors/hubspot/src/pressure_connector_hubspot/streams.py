"""What the HubSpot connector pulls, declared: email events and subscription changes, in time windows.

Both endpoints are read for the same window of the incremental cursor (``[startTimestamp,
endTimestamp]`` inclusive, in epoch ms, hence ``end - 1``), newest first with a short-lived
``offset`` token: not resumable, so the watermark moves only at a window's end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pressure_sdk.connectors import HttpStream, Window
from pressure_sdk.http import CursorPaginator
from pressure_sdk.models import Engagement, Touch

from .mapping import map_event, map_timeline_item

EVENTS_PATH = "/email/public/v1/events"
TIMELINE_PATH = "/email/public/v1/subscriptions/timeline"


class _Windowed(HttpStream):
    """HubSpot's legacy email APIs: a time range in ms and ``offset``/``hasMore`` paging."""

    def paginator(self) -> CursorPaginator:
        return CursorPaginator(("offset",), "offset", more_path=("hasMore",))

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {"startTimestamp": window.start_ms, "endTimestamp": window.end_ms - 1, "limit": self.settings.page_size}


class EmailEvents(_Windowed):
    """``GET /email/public/v1/events``: SENT/PROCESSED make touches, the rest engagements."""

    path = EVENTS_PATH
    records_path = ("events",)
    primary_key = ("created", "id")  # HubSpot's EventId

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        exclude = {"excludeFilteredEvents": "true"} if self.settings.exclude_filtered_events else {}
        return {**super().params(window, parent), **exclude}

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Touch | Engagement | None:
        return map_event(record, family=self.settings.family, brand=self.connector.account.brand or "")


class SubscriptionTimeline(_Windowed):
    """``GET /email/public/v1/subscriptions/timeline``: unsubscribes and spam reports outside a send."""

    path = TIMELINE_PATH
    records_path = ("timeline",)

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> list[Engagement]:
        return list(map_timeline_item(record))
