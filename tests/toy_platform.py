"""A toy platform, its sandbox and its connector: the smallest complete HTTP connector.

The README's "Writing a connector" walks through this file. The toy API has events with a
cursor, and named lists whose members are added and removed by email, 50 per call: the
connector declares the events as a stream and the lists as a sink.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import Field

from pressure_sdk.connectors import (
    HttpConnector,
    HttpSettings,
    HttpStream,
    IncrementalCursor,
    ListSink,
    PushBatch,
    Targets,
    Window,
    contact_ids,
    pull_windows,
)
from pressure_sdk.http import BearerToken, CursorPaginator, HeaderPacer
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.testing import BadRequest, Reply, Sandbox, SandboxRequest, route


class ToySandbox(Sandbox):
    platform = "toy"
    prefix = "/api"
    default_limits = {"default": (1000, 10.0)}

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.events: list[dict[str, Any]] = []
        self.lists: dict[str, set[str]] = {}

    @property
    def credential(self) -> str:
        return "toy-token-0123456789"

    def authenticate(self, request: SandboxRequest) -> Reply | None:
        if request.headers.get("Authorization") != f"Bearer {self.credential}":
            return self.error(401, "bad token")
        return None

    def rate_headers(self, bucket: str, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {"X-Toy-Remaining": str(remaining), "X-Toy-Reset": f"{reset:.0f}"}

    @route("GET", "/me")
    def me(self, request: SandboxRequest) -> Reply:
        return Reply(200, {"account": "toy"})

    @route("GET", "/events")
    def list_events(self, request: SandboxRequest) -> Reply:
        since = int(request.arg("since", "0") or 0)
        until = int(request.arg("until", str(2**62)) or 0)
        limit = int(request.arg("limit", "10") or 10)
        start = int(request.arg("cursor", "0") or 0)
        hits = [e for e in sorted(self.events, key=lambda e: (e["at"], e["id"])) if since <= e["at"] < until]
        page = hits[start : start + limit]
        nxt = start + limit if start + limit < len(hits) else None
        return Reply(200, {"events": page, "next": None if nxt is None else str(nxt)})

    @route("POST", "/lists/(?P<name>[^/]+)/members")
    def change_members(self, request: SandboxRequest) -> Reply:
        body = request.json() or {}
        add, remove = body.get("add", []), body.get("remove", [])
        if len(add) > 50 or len(remove) > 50:
            raise BadRequest("at most 50 emails per call")
        members = self.lists.setdefault(request.params["name"], set())
        members |= set(add)
        members -= set(remove)
        return Reply(200, {"added": add, "removed": remove})


class ToySettings(HttpSettings):
    page_size: int = Field(default=100, ge=1, le=100)
    #: seconds re-read before the watermark, for events that arrive late
    overlap: int = 3600


class ToyEvents(HttpStream):
    """``GET /events``: a pull endpoint, declared."""

    path = "/events"
    records_path = ("events",)
    primary_key = ("id",)

    def paginator(self) -> CursorPaginator:
        return CursorPaginator(["next"], "cursor")

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {"since": int(window.start), "until": int(window.end), "limit": self.settings.page_size}

    def parse(self, e: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Touch | Engagement:
        if e["type"] == "sent":
            return Touch(e["id"], e["email"], "email", "contract", "marketing", e["at"])
        return Engagement(e["id"], e["email"], e["type"], e["at"])


class ToyList(ListSink[str]):
    """Named lists whose members are added and removed by email, 50 of each per call."""

    batch_size = 50
    combined = True

    def find(self, name: str) -> str | None:
        return name  # the toy's lists exist once named

    def add_and_remove(self, handle: str, adds: Targets, removes: Targets) -> PushBatch:
        body = {"add": [ms[0].email for ms in adds.values()], "remove": [ms[0].email for ms in removes.values()]}
        self.client.json("POST", f"/lists/{handle}/members", json=body, idempotent=True)
        return PushBatch(added=contact_ids(adds), removed=contact_ids(removes))


class ToyConnector(HttpConnector):
    name: ClassVar[str] = "toy"
    settings_model: ClassVar[type[ToySettings]] = ToySettings
    default_base_url: ClassVar[str] = "https://api.toy.example/api"
    max_batch: ClassVar[int] = 50
    sink_class = ToyList
    settings: ToySettings

    def auth(self, credential: str) -> BearerToken:
        return BearerToken(credential)

    def pacer(self) -> HeaderPacer:
        return HeaderPacer("X-Toy-Remaining", "X-Toy-Reset")

    def check(self) -> str:
        self.client.json("GET", "/me")
        return "token ok"

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        # everything on the first run; then from the watermark minus the overlap, to now
        cursor = IncrementalCursor(backfill=10 * 365 * 86400, overlap=self.settings.overlap)
        return pull_windows(cursor, [ToyEvents(self)], state, now=self.now())
