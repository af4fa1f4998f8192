"""``HubSpotSandbox``: a stateful fake of the HubSpot API subset the connector uses.

It serves, on localhost, the Email Events API and the subscriptions timeline (newest
first, ``hasMore``/``offset`` paging, ``limit`` at most 1000), contacts batch read by email
(100 inputs at most; 207 with ``errors`` for unknown emails), the contacts list (id order,
``limit`` ≤ 100, ``after`` cursor) and the contacts search (filters, one sort, ``limit`` ≤ 100,
``after`` offsets refused from the 10,000th result on, its own budget of 5 requests per second
without rate-limit headers), Lists v3 lookup by name, creation and membership (GET with
``limit`` ≤ 250 and an ``after`` cursor; PUT add-and-remove answering with HubSpot's
``recordsIdsAdded`` spelling), HubSpot's error bodies, Bearer auth and the ten-second rate
budget with ``X-HubSpot-RateLimit-*`` headers. Contacts carry ``email``, ``hs_email_optout``
(set by portal unsubscribes) and a ``lastmodifieddate`` that moves when they change; email
events do not change contacts here. Facts follow vendor-apis.md §1 and HubSpot's CRM search
documentation; anything outside that subset answers 404.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import json
import math
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pressure_sdk.testing.exports import read_export
from pressure_sdk.testing.sandbox import BadRequest, Reply, Sandbox, SandboxRequest, route

TOKEN = "pat-na1-sandbox-0000-0000-000000000000"  # noqa: S105 - the sandbox's own fake token
PORTAL_ID = 62515
EVENTS_MAX = 1000
MEMBERSHIPS_MAX = 250
BATCH_READ_MAX = 100
#: contacts per page of the contacts list and of a search
CONTACTS_MAX = 100
#: results one search query can reach (HubSpot refuses to page past them)
SEARCH_CAP = 10_000
#: properties every contact read returns besides those asked for
ALWAYS = ("hs_object_id", "createdate", "lastmodifieddate")
#: properties a search returns when none are asked for
SEARCH_DEFAULT = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
#: list roots served: v3 and the date-versioned ones (same shapes)
LISTS = r"/crm/(?:v3/lists|lists/\d{4}-\d{2})"
#: export families that HubSpot would send as marketing emails
MARKETING_FAMILIES = frozenset({"marketing", "trigger"})
_EVENT_OF_ENGAGEMENT = {
    "open": "OPEN",
    "click": "CLICK",
    "bounce": "BOUNCE",
    "complaint": "SPAMREPORT",
    "unsubscribe": "STATUSCHANGE",
}


@dataclass
class HubList:
    list_id: str
    name: str
    processing_type: str = "MANUAL"
    created_at: int = 0
    #: record id → membership time (ms)
    members: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(self.created_at / 1000).astimezone().isoformat()
        return {
            "listId": self.list_id,
            "listVersion": 1,
            "name": self.name,
            "objectTypeId": "0-1",
            "processingType": self.processing_type,
            "processingStatus": "COMPLETE",
            "size": len(self.members),
            "createdAt": stamp,
            "updatedAt": stamp,
        }


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def _iso(ms: int) -> str:
    """Epoch milliseconds as HubSpot's v3 objects write dates: ``2024-01-01T00:00:00.123Z``."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _stable_uuid(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hubspot-sandbox:{text}"))


class HubSpotSandbox(Sandbox):
    """HubSpot on localhost: contacts, email events, the subscriptions timeline, MANUAL lists."""

    platform: ClassVar[str] = "hubspot"
    #: HubSpot answers ``POST /crm/v3/lists/`` (as its reference writes it) like ``POST /crm/v3/lists``
    trailing_slash: ClassVar[bool] = True
    demo_brand: ClassVar[str] = "maison-paris"
    #: Professional/Enterprise private apps: 190 requests per rolling 10 seconds; the CRM
    #: search has its own budget of about 5 per second
    default_limits: ClassVar[Mapping[str, tuple[int, float]]] = {"default": (190, 10.0), "search": (5, 1.0)}

    def __init__(self, *, token: str = TOKEN, membership_max: int = 100_000, **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token
        #: ids per add-and-remove call before a 400 (HubSpot documents none; see vendor-apis.md §1.3)
        self.membership_max = membership_max
        self.contacts: dict[str, str] = {}  # id → email (lower case; "" for a contact without one)
        self.by_email: dict[str, str] = {}
        self.created_at: dict[str, int] = {}  # id → ms
        self.modified_at: dict[str, int] = {}  # id → lastmodifieddate, ms
        self.optouts: set[str] = set()  # ids with hs_email_optout = true
        self.events: list[dict[str, Any]] = []
        self.timeline: list[dict[str, Any]] = []
        self.lists: dict[str, HubList] = {}
        self._ids = itertools.count(101)
        self._list_ids = itertools.count(1)
        self._event_seq = itertools.count(1)

    # -- platform behaviour -------------------------------------------------------------

    @property
    def credential(self) -> str:
        return self.token

    def use_credential(self, value: str) -> None:
        self.token = value

    def authenticate(self, request: SandboxRequest) -> Reply | None:
        if request.headers.get("Authorization", "") == f"Bearer {self.token}":
            return None
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        category = code or {
            400: "VALIDATION_ERROR",
            401: "INVALID_AUTHENTICATION",
            403: "MISSING_SCOPES",
            404: "OBJECT_NOT_FOUND",
            405: "VALIDATION_ERROR",
        }.get(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")
        correlation = str(uuid.uuid4())
        body = {"status": "error", "message": message, "correlationId": correlation, "category": category}
        return Reply(status, body, {"X-HubSpot-Correlation-Id": correlation})

    def bucket(self, path: str) -> str:
        return "search" if path.endswith("/search") else "default"

    def rate_headers(self, bucket: str, limit: int, remaining: int, reset: float) -> dict[str, str]:
        if bucket == "search":
            return {}  # the client paces its searches itself
        window = int(self.limits.get(bucket, (limit, 10.0))[1] * 1000)
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(window),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
        }

    def rate_limited(self, bucket: str, reset: float) -> Reply:
        limit, window = self.limits.get(bucket, (190, 10.0))
        correlation = str(uuid.uuid4())
        policy = "SECONDLY" if bucket == "search" else "TEN_SECONDLY_ROLLING"
        body = {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation,
            "policyName": policy,
            "groupName": f"private-app:{PORTAL_ID}",
        }
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-Correlation-Id": correlation,
            "Retry-After": str(max(1, math.ceil(reset))),
        }
        return Reply(429, body, headers)

    # -- test helpers -------------------------------------------------------------------

    def add_contact(self, email: str, *, optout: bool = False, at: int | None = None) -> str:
        """The contact id of ``email``, creating the contact if needed, created and modified at ``at`` (ms) or now."""
        key = email.strip().lower()
        with self.lock:
            if key not in self.by_email:
                cid = self._new_contact(key, at)
                self.by_email[key] = cid
                if optout:
                    self.optouts.add(cid)
            return self.by_email[key]

    def add_contact_without_email(self) -> str:
        """A contact with no email address (HubSpot allows them; the audience pull skips them)."""
        with self.lock:
            return self._new_contact("")

    def _new_contact(self, email: str, at: int | None = None) -> str:
        cid = str(next(self._ids))
        now = self._now_ms() if at is None else int(at)
        self.contacts[cid] = email
        self.created_at[cid] = self.modified_at[cid] = now
        return cid

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def modify_contact(self, email: str, *, optout: bool | None = None, at: int | None = None) -> str:
        """Change a contact as HubSpot's UI would: its ``lastmodifieddate`` becomes ``at`` (ms) or now."""
        with self.lock:
            cid = self.by_email[email.strip().lower()]
            if optout is True:
                self.optouts.add(cid)
            elif optout is False:
                self.optouts.discard(cid)
            self.modified_at[cid] = self._now_ms() if at is None else int(at)
            return cid

    def _opt_out(self, recipient: str, at: int) -> None:
        cid = self.add_contact(recipient)
        self.optouts.add(cid)
        self.modified_at[cid] = max(self.modified_at[cid], at)

    def add_event(
        self,
        type: str,  # noqa: A002 - HubSpot's field name
        recipient: str,
        created: int,
        *,
        id: str | None = None,  # noqa: A002
        campaign: int | None = 1,
        **fields: Any,
    ) -> dict[str, Any]:
        """Record an email event (``created`` in ms) and return it as the API will serve it."""
        event: dict[str, Any] = {
            "id": id or _stable_uuid(f"event-{next(self._event_seq)}-{type}-{recipient}-{created}"),
            "created": int(created),
            "type": type,
            "recipient": recipient,
            "portalId": PORTAL_ID,
            "appId": 113,
            "appName": "Batch",
            "emailCampaignId": campaign,
            **fields,
        }
        with self.lock:
            self.add_contact(recipient)
            self.events.append(event)
        return event

    def add_send(self, recipient: str, created: int, *, campaign: int = 1, delivered: bool = True) -> dict[str, Any]:
        """A message as HubSpot logs it: SENT, then PROCESSED (``sentBy`` the SENT), then DELIVERED."""
        sent = self.add_event("SENT", recipient, created, campaign=campaign)
        ref = {"id": sent["id"], "created": sent["created"]}
        self.add_event("PROCESSED", recipient, created + 1000, campaign=campaign, sentBy=ref)
        if delivered:
            self.add_event("DELIVERED", recipient, created + 2000, campaign=campaign, sentBy=ref)
        return sent

    def add_timeline(self, recipient: str, timestamp: int, changes: list[dict[str, Any]]) -> dict[str, Any]:
        """A subscriptions timeline item (``timestamp`` in ms)."""
        item = {"timestamp": timestamp, "portalId": PORTAL_ID, "recipient": recipient, "changes": changes}
        with self.lock:
            self.add_contact(recipient)
            self.timeline.append(item)
        return item

    def unsubscribe(self, recipient: str, created: int) -> dict[str, Any]:
        """A portal unsubscribe: a STATUSCHANGE event and the timeline item it caused."""
        event = self.add_event(
            "STATUSCHANGE",
            recipient,
            created,
            portalSubscriptionStatus="UNSUBSCRIBED",
            source="SOURCE_RECIPIENT",
            subscriptions=[],
        )
        cause = {"id": event["id"], "created": event["created"]}
        self.add_timeline(
            recipient,
            created,
            [
                {
                    "change": "UNSUBSCRIBED",
                    "changeType": "PORTAL_STATUS",
                    "source": "SOURCE_RECIPIENT",
                    "portalId": PORTAL_ID,
                    "causedByEvent": cause,
                },
            ],
        )
        with self.lock:
            self._opt_out(recipient, created)
        return event

    def list_members(self, name: str) -> set[str]:
        """Emails (lower case) on the list called ``name`` (empty if it does not exist)."""
        with self.lock:
            found = self._list_by_name(name)
            return {self.contacts[r] for r in found.members if r in self.contacts} if found else set()

    def list_by_name(self, name: str) -> HubList | None:
        with self.lock:
            return self._list_by_name(name)

    def add_list(self, name: str, processing_type: str = "MANUAL") -> HubList:
        """Create a list directly (e.g. a DYNAMIC one, which the API client must refuse to write)."""
        with self.lock:
            hl = HubList(str(next(self._list_ids)), name, processing_type, int(self.clock() * 1000))
            self.lists[hl.list_id] = hl
            return hl

    def delete_list(self, name: str) -> bool:
        """Delete the list called ``name`` as someone would in HubSpot's UI; False if there was none."""
        with self.lock:
            found = self._list_by_name(name)
            if found is None:
                return False
            del self.lists[found.list_id]
            return True

    def edit_list(self, name: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Add and remove members by email, by hand (contacts are created if needed)."""
        with self.lock:
            found = self._list_by_name(name)
            if found is None:
                raise KeyError(name)
            now = self._now_ms()
            for email in add:
                found.members.setdefault(self.add_contact(email), now)
            for email in remove:
                cid = self.by_email.get(email.strip().lower())
                if cid is not None:
                    found.members.pop(cid, None)

    def _list_by_name(self, name: str) -> HubList | None:
        key = name.strip().lower()  # HubSpot list names are not case-sensitive
        return next((x for x in self.lists.values() if x.name.lower() == key), None)

    # -- seeding ------------------------------------------------------------------------

    def load_exports(self, folder: Path) -> None:
        """Contacts, email sends and email engagements of an export folder, deterministically.

        Email touches of the families HubSpot sends as marketing email (marketing, trigger)
        become SENT, PROCESSED and DELIVERED events; email engagements open, click, bounce,
        complaint and unsubscribe become OPEN, CLICK, BOUNCE, SPAMREPORT and STATUSCHANGE
        events, complaints and unsubscribes also with the timeline item they cause.
        """
        for row in read_export(folder, "contacts"):
            if row.get("email"):
                self.add_contact(row["email"])
        for row in read_export(folder, "touches"):
            if row.get("channel") != "email" or row.get("family") not in MARKETING_FAMILIES:
                continue
            created = _ms(row["sent_at"])
            sent = self.add_event(
                "SENT",
                row["email"],
                created,
                id=_stable_uuid(row["event_id"]),
                campaign=zlib.crc32((row.get("campaign") or "-").encode()) % 10_000_000,
            )
            ref = {"id": sent["id"], "created": created}
            self.add_event(
                "PROCESSED",
                row["email"],
                created + 1000,
                id=_stable_uuid(row["event_id"] + "/p"),
                campaign=sent["emailCampaignId"],
                sentBy=ref,
            )
            self.add_event(
                "DELIVERED",
                row["email"],
                created + 2000,
                id=_stable_uuid(row["event_id"] + "/d"),
                campaign=sent["emailCampaignId"],
                sentBy=ref,
            )
        for row in read_export(folder, "engagements"):
            kind = _EVENT_OF_ENGAGEMENT.get(row.get("type", ""))
            if kind is None or row.get("channel") not in ("email", ""):
                continue
            created = _ms(row["occurred_at"])
            extra: dict[str, Any] = {}
            if kind == "STATUSCHANGE":
                extra = {"portalSubscriptionStatus": "UNSUBSCRIBED", "source": "SOURCE_RECIPIENT", "subscriptions": []}
            elif kind == "BOUNCE":
                extra = {"category": "HARD_BOUNCE"}
            event = self.add_event(
                kind, row["email"], created, id=_stable_uuid(row["event_id"]), campaign=None, **extra
            )
            cause = {"id": event["id"], "created": created}
            if kind == "STATUSCHANGE":
                self._opt_out(row["email"], created)
                self.add_timeline(
                    row["email"],
                    created,
                    [
                        {
                            "change": "UNSUBSCRIBED",
                            "changeType": "PORTAL_STATUS",
                            "source": "SOURCE_RECIPIENT",
                            "causedByEvent": cause,
                        }
                    ],
                )
            elif kind == "SPAMREPORT":
                self.add_timeline(
                    row["email"],
                    created,
                    [
                        {
                            "change": "REPORTED_SPAM",
                            "changeType": "PORTAL_SPAM_REPORT",
                            "source": "SOURCE_SPAM_REPORT",
                            "causedByEvent": cause,
                        }
                    ],
                )

    # -- paging helpers -----------------------------------------------------------------

    @staticmethod
    def _query_hash(request: SandboxRequest) -> str:
        others = sorted((k, v) for k, v in request.query.items() if k != "offset")
        return hashlib.sha1(json.dumps(others).encode()).hexdigest()[:8]  # noqa: S324 - not security

    def _window(self, request: SandboxRequest, max_limit: int) -> tuple[int, int, int, tuple[Any, ...] | None]:
        def num(name: str, default: int) -> int:
            raw = request.arg(name)
            if raw is None or raw == "":
                return default
            try:
                return int(raw)
            except ValueError:
                raise BadRequest(f"{name} must be an integer, got {raw!r}") from None

        limit = num("limit", 10)
        if limit < 1 or limit > max_limit:
            raise BadRequest(f"limit must be between 1 and {max_limit}, got {limit}")
        start, end = num("startTimestamp", 0), num("endTimestamp", 2**62)
        token = request.arg("offset")
        after = None
        if token:
            try:
                q, pos = json.loads(base64.urlsafe_b64decode(token.encode()))
            except (ValueError, TypeError):
                raise BadRequest(f"invalid offset {token!r}") from None
            if q != self._query_hash(request):
                raise BadRequest("the offset is only valid with the same other query parameters")
            after = tuple(pos)
        return start, end, limit, after

    def _offset(self, request: SandboxRequest, pos: tuple[Any, ...]) -> str:
        return base64.urlsafe_b64encode(json.dumps([self._query_hash(request), list(pos)]).encode()).decode()

    # -- routes -------------------------------------------------------------------------

    @route("GET", "/email/public/v1/events")
    def get_events(self, request: SandboxRequest) -> Reply:
        start, end, limit, after = self._window(request, EVENTS_MAX)
        kind = request.arg("eventType")
        recipient = request.arg("recipient")
        campaign = request.arg("campaignId")
        exclude = (request.arg("excludeFilteredEvents") or "").lower() == "true"
        chosen = [
            e
            for e in self.events
            if start <= e["created"] <= end
            and (kind is None or e["type"] == kind)
            and (recipient is None or e["recipient"].lower() == recipient.lower())
            and (campaign is None or str(e.get("emailCampaignId")) == campaign)
            and not (exclude and e.get("filteredEvent"))
        ]
        # newest first; (created, id) is the EventId, so it orders ties too
        chosen.sort(key=lambda e: (e["created"], e["id"]), reverse=True)
        if after is not None:
            chosen = [e for e in chosen if (e["created"], e["id"]) < after]
        page = chosen[:limit]
        more = len(chosen) > limit
        body: dict[str, Any] = {"events": page, "hasMore": more}
        if page:
            body["offset"] = self._offset(request, (page[-1]["created"], page[-1]["id"]))
        return Reply(200, body)

    @route("GET", "/email/public/v1/subscriptions/timeline")
    def get_timeline(self, request: SandboxRequest) -> Reply:
        start, end, limit, after = self._window(request, EVENTS_MAX)
        kind = request.arg("changeType")
        keyed = [
            ((item["timestamp"], n), item)
            for n, item in enumerate(self.timeline)
            if start <= item["timestamp"] <= end
            and (kind is None or any(c.get("changeType") == kind for c in item["changes"]))
        ]
        keyed.sort(key=lambda p: p[0], reverse=True)
        if after is not None:
            keyed = [p for p in keyed if p[0] < after]
        page = keyed[:limit]
        body: dict[str, Any] = {"timeline": [p[1] for p in page], "hasMore": len(keyed) > limit}
        if page:
            body["offset"] = self._offset(request, page[-1][0])
        return Reply(200, body)

    @route("POST", "/crm/v3/objects/contacts/batch/read")
    def batch_read(self, request: SandboxRequest) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise BadRequest("Invalid input JSON: 'inputs' is required")
        inputs = body["inputs"]
        if len(inputs) > BATCH_READ_MAX:
            raise BadRequest(f"Batch input cannot exceed {BATCH_READ_MAX} inputs, got {len(inputs)}")
        by_email = body.get("idProperty") == "email"
        results, unknown = [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            cid = self.by_email.get(key.strip().lower()) if by_email else (key if key in self.contacts else None)
            if cid is None:
                unknown.append(key)
                continue
            results.append(
                {
                    "id": cid,
                    "properties": {"email": self.contacts[cid], "hs_object_id": cid},
                    "createdAt": "2024-01-01T00:00:00Z",
                    "updatedAt": "2024-01-01T00:00:00Z",
                    "archived": False,
                }
            )
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2024-01-01T00:00:00Z",
            "completedAt": "2024-01-01T00:00:00Z",
        }
        if not unknown:
            return Reply(200, answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                "context": {"ids": unknown},
            }
        ]
        return Reply(207, answer)

    # -- contacts: list and search --------------------------------------------------------

    def _contact_json(self, cid: str, wanted: tuple[str, ...] | list[str]) -> dict[str, Any]:
        values = {
            "email": self.contacts[cid] or None,
            "hs_email_optout": "true" if cid in self.optouts else "false",
            "hs_object_id": cid,
            "createdate": _iso(self.created_at[cid]),
            "lastmodifieddate": _iso(self.modified_at[cid]),
            "firstname": None,
            "lastname": None,
        }
        props = {name: values.get(name) for name in (*wanted, *ALWAYS)}
        return {
            "id": cid,
            "properties": props,
            "createdAt": _iso(self.created_at[cid]),
            "updatedAt": _iso(self.modified_at[cid]),
            "archived": False,
        }

    def _value(self, cid: str, prop: str) -> Any:
        """A property as the search compares it: dates and ids as numbers, the rest as text."""
        if prop == "lastmodifieddate":
            return self.modified_at[cid]
        if prop == "createdate":
            return self.created_at[cid]
        if prop == "hs_object_id":
            return int(cid)
        if prop == "email":
            return self.contacts[cid] or None
        if prop == "hs_email_optout":
            return "true" if cid in self.optouts else "false"
        raise BadRequest(f"property {prop!r} is not searchable here")

    @staticmethod
    def _operand(prop: str, raw: Any) -> Any:
        if prop in ("lastmodifieddate", "createdate"):
            text = str(raw).strip()
            if text.isdigit():
                return int(text)
            try:
                return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
            except ValueError:
                raise BadRequest(f"{raw!r} is not a valid date for {prop}") from None
        if prop == "hs_object_id":
            try:
                return int(str(raw))
            except ValueError:
                raise BadRequest(f"{raw!r} is not a valid number for {prop}") from None
        return str(raw).lower()

    def _matches(self, cid: str, f: Mapping[str, Any]) -> bool:
        prop, op = f.get("propertyName"), f.get("operator", "EQ")
        if not isinstance(prop, str):
            raise BadRequest("a filter needs a propertyName")
        have = self._value(cid, prop)
        if op == "HAS_PROPERTY":
            return have is not None
        if op == "NOT_HAS_PROPERTY":
            return have is None
        if op in ("IN", "NOT_IN"):
            values = f.get("values")
            if not isinstance(values, list):
                raise BadRequest(f"operator {op} needs 'values'")
            inside = have is not None and have in {self._operand(prop, v) for v in values}
            return inside if op == "IN" else not inside
        if "value" not in f:
            raise BadRequest(f"operator {op} needs 'value'")
        want = self._operand(prop, f["value"])
        if have is None:
            return op == "NEQ"
        compare = {
            "EQ": lambda a, b: a == b,
            "NEQ": lambda a, b: a != b,
            "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b,
            "LT": lambda a, b: a < b,
            "LTE": lambda a, b: a <= b,
        }.get(str(op))
        if compare is None:
            raise BadRequest(f"operator {op!r} is not supported here")
        return bool(compare(have, want))

    def _ids_in_order(self) -> list[str]:
        # ids come from an increasing counter and contacts are never removed: insertion order is id order
        return list(self.contacts)

    @route("GET", "/crm/v3/objects/contacts")
    def list_contacts(self, request: SandboxRequest) -> Reply:
        try:
            limit = int(request.arg("limit") or 10)
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        if limit < 1 or limit > CONTACTS_MAX:
            raise BadRequest(f"limit must be between 1 and {CONTACTS_MAX}, got {limit}")
        wanted: list[str] = []
        for value in request.query.get("properties", []):
            wanted += [p.strip() for p in value.split(",") if p.strip()]
        ids = self._ids_in_order()
        start = 0
        after = request.arg("after")
        if after:
            try:
                last = int(base64.urlsafe_b64decode(after.encode()).decode())
            except ValueError:
                raise BadRequest(f"invalid after {after!r}") from None
            start = bisect.bisect_right(ids, last, key=int)
        page = ids[start : start + limit]
        body: dict[str, Any] = {"results": [self._contact_json(c, wanted) for c in page]}
        if len(ids) > start + limit:
            token = base64.urlsafe_b64encode(page[-1].encode()).decode()
            body["paging"] = {"next": {"after": token, "link": f"{request.path}?after={token}"}}
        return Reply(200, body)

    @route("POST", "/crm/v3/objects/contacts/search")
    def search_contacts(self, request: SandboxRequest) -> Reply:
        body = request.json()
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or limit < 1 or limit > CONTACTS_MAX:
            raise BadRequest(f"limit must be between 1 and {CONTACTS_MAX}, got {limit!r}")
        try:
            offset = int(body.get("after") or 0)
        except (TypeError, ValueError):
            raise BadRequest(f"invalid after {body.get('after')!r}") from None
        if offset >= SEARCH_CAP:
            raise BadRequest(
                f"There was a problem with the request: paging past the first {SEARCH_CAP} results is not allowed"
            )
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5:
            raise BadRequest("filterGroups must be a list of at most 5 groups")
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            raise BadRequest("at most one sort is supported")
        chosen = []
        for cid in self._ids_in_order():
            filters_ok = not groups or any(
                all(self._matches(cid, f) for f in (g.get("filters") or []) if isinstance(f, dict))
                for g in groups
                if isinstance(g, dict)
            )
            if filters_ok:
                chosen.append(cid)
        if sorts:
            sort = sorts[0]
            prop = sort.get("propertyName") if isinstance(sort, dict) else str(sort)
            descending = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"

            # ties keep id order, as the search index gives them
            def key(cid: str) -> tuple[bool, Any]:
                value = self._value(cid, str(prop))
                return value is None, value

            chosen.sort(key=key, reverse=descending)
        wanted = body.get("properties") or list(SEARCH_DEFAULT)
        end = min(offset + limit, SEARCH_CAP)
        page = chosen[offset:end]
        answer: dict[str, Any] = {"total": len(chosen), "results": [self._contact_json(c, wanted) for c in page]}
        if len(chosen) > end:
            answer["paging"] = {"next": {"after": str(end), "link": f"?after={end}"}}
        return Reply(200, answer)

    @route("GET", LISTS + r"/object-type-id/(?P<otype>[^/]+)/name/(?P<name>[^/]+)")
    def list_by_name_route(self, request: SandboxRequest) -> Reply:
        found = self._list_by_name(request.params["name"]) if request.params["otype"] == "0-1" else None
        if found is None:
            return self.error(404, f"List does not exist with name {request.params['name']}.", "OBJECT_NOT_FOUND")
        return Reply(200, {"list": found.as_json()})

    @route("POST", LISTS)
    def create_list(self, request: SandboxRequest) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON")
        name, otype, ptype = body.get("name"), body.get("objectTypeId"), body.get("processingType")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name is required")
        if otype != "0-1":
            raise BadRequest(f"objectTypeId {otype!r} is not supported here")
        if ptype not in ("MANUAL", "DYNAMIC", "SNAPSHOT"):
            raise BadRequest(f"processingType must be MANUAL, DYNAMIC or SNAPSHOT, got {ptype!r}")
        if self._list_by_name(name) is not None:
            raise BadRequest(f"A list with the name {name} already exists.", code="VALIDATION_ERROR")
        hl = self.add_list(name, ptype)
        return Reply(200, {"list": hl.as_json()})

    def _list(self, request: SandboxRequest) -> HubList:
        found = self.lists.get(request.params["list_id"])
        if found is None:
            raise BadRequest(f"List does not exist with id {request.params['list_id']}.", 404, "OBJECT_NOT_FOUND")
        return found

    @route("GET", LISTS + r"/(?P<list_id>\d+)/memberships")
    def memberships(self, request: SandboxRequest) -> Reply:
        hl = self._list(request)
        try:
            limit = int(request.arg("limit") or 100)
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        if limit < 1 or limit > MEMBERSHIPS_MAX:
            raise BadRequest(f"limit must be between 1 and {MEMBERSHIPS_MAX}, got {limit}")
        after = request.arg("after")
        ids = sorted(hl.members, key=int)
        if after:
            ids = [r for r in ids if int(r) > int(after)]
        page = ids[:limit]
        iso = datetime.fromtimestamp(0).astimezone().isoformat()
        body: dict[str, Any] = {
            "results": [{"recordId": r, "membershipTimestamp": iso} for r in page],
            "total": len(hl.members),
        }
        if len(ids) > limit:
            nxt = page[-1]
            body["paging"] = {"next": {"after": nxt, "link": f"{request.path}?after={nxt}&limit={limit}"}}
        return Reply(200, body)

    @route("PUT", LISTS + r"/(?P<list_id>\d+)/memberships/add-and-remove")
    def add_and_remove(self, request: SandboxRequest) -> Reply:
        hl = self._list(request)
        if hl.processing_type not in ("MANUAL", "SNAPSHOT"):
            raise BadRequest(
                f"List {hl.list_id} is a {hl.processing_type} list; memberships can only be changed "
                "for MANUAL or SNAPSHOT lists"
            )
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON")
        adds, removes = body.get("recordIdsToAdd", []), body.get("recordIdsToRemove", [])
        if not isinstance(adds, list) or not isinstance(removes, list):
            raise BadRequest("recordIdsToAdd and recordIdsToRemove must be arrays of record ids")
        if len(adds) + len(removes) > self.membership_max:
            raise BadRequest(f"at most {self.membership_max} record ids per call")
        added, removed, missing = [], [], []
        now = int(self.clock() * 1000)
        for rid in map(str, adds):
            if rid not in self.contacts:
                missing.append(rid)
            elif rid not in hl.members:  # existing members are ignored
                hl.members[rid] = now
                added.append(rid)
        for rid in map(str, removes):
            if rid not in self.contacts:
                missing.append(rid)
            elif hl.members.pop(rid, None) is not None:
                removed.append(rid)
        # "recordsIdsAdded" is HubSpot's own spelling
        return Reply(200, {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing})
