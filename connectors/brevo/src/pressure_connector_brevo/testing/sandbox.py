"""A stateful local Brevo: the API subset the connector uses, as ``swagger_definition_v3.yml`` describes it.

Contacts, contact lists and folders, transactional events, email campaigns (their recipient
lists and global statistics), campaign events per contact and import processes live in
memory. A contact's ``modifiedAt`` moves whenever it changes (list
membership, blocklisting, an import), and ``modifiedSince`` filters on it. Parameters are
checked against the spec's limits (400 ``out_of_range``), errors use the spec's
``errorModel`` body ``{code, message}``, the key travels in the ``api-key`` header, and each
rate-limit bucket answers 429 with the ``x-sib-ratelimit-*`` headers once its budget is spent.
"""

from __future__ import annotations

import math
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from pressure_sdk.testing.exports import read_export
from pressure_sdk.testing.sandbox import BadRequest, Reply, Sandbox, SandboxRequest, route

#: the spec's ``errorModel.code`` for each status the sandbox answers
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "permission_denied",
    404: "document_not_found",
    405: "method_not_allowed",
}
#: ledger engagement type → transactional event name (``GET /smtp/statistics/events``)
TX_OF = {
    "delivered": "delivered",
    "open": "opened",
    "click": "clicks",
    "bounce": "hardBounces",
    "complaint": "spam",
    "unsubscribe": "unsubscribed",
}
#: ledger engagement type → campaign statistics key
CAMPAIGN_OF = {
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "hardBounces",
    "complaint": "complaints",
    "unsubscribe": "userUnsubscription",
}
CAMPAIGN_KINDS = frozenset(
    {
        "messagesSent",
        "delivered",
        "opened",
        "clicked",
        "hardBounces",
        "softBounces",
        "complaints",
        "userUnsubscription",
        "adminUnsubscription",
    }
)
#: budgets no test meets unless it sets its own (the defaults pace a real client to Brevo's speed)
GENEROUS_LIMITS: dict[str, tuple[int, float]] = {
    "smtp": (100_000, 3600.0),
    "contacts": (100_000, 1.0),
    "other": (100_000, 3600.0),
}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rate_bucket(path: str) -> str:
    """The rate-limit bucket Brevo counts a request against (vendor-apis §2.4, "general" tier).

    Written from the published table, not taken from the connector: ``POST /smtp/email`` and
    ``GET /smtp/blockedContacts`` (1,000/s), ``GET /smtp/emails`` (2/s), the rest of ``/smtp``
    (300/h), ``/contacts`` and below (10/s), ``POST /events`` (10/s), everything else (100/h).
    """
    if path in ("/smtp/email", "/smtp/blockedContacts"):
        return "smtp-send"
    if path == "/smtp/emails":
        return "smtp-emails"
    if path.startswith("/smtp/"):
        return "smtp"
    if path == "/contacts" or path.startswith("/contacts/"):
        return "contacts"
    if path == "/events":
        return "events"
    return "other"


@dataclass
class Contact:
    id: int
    email: str
    list_ids: set[int] = field(default_factory=set)
    created: float = 0.0
    modified: float = 0.0
    blacklisted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "id": self.id,
            "emailBlacklisted": self.blacklisted,
            "smsBlacklisted": False,
            "createdAt": iso(self.created),
            "modifiedAt": iso(self.modified),
            "listIds": sorted(self.list_ids),
            "attributes": {},
        }


@dataclass
class CampaignEvent:
    contact_id: int
    kind: str
    campaign_id: int | None
    at: int
    url: str | None = None


class BrevoSandbox(Sandbox):
    """Brevo on localhost; ``limits`` maps a bucket (smtp, contacts, other) to ``(requests, seconds)``."""

    platform: ClassVar[str] = "brevo"
    prefix: ClassVar[str] = "/v3"
    demo_brand: ClassVar[str] = "velo"
    # vendor-apis §2.4, "general" tier
    default_limits: ClassVar[dict[str, tuple[int, float]]] = {
        "smtp-send": (1000, 1.0),
        "smtp-emails": (2, 1.0),
        "smtp": (300, 3600.0),
        "contacts": (10, 1.0),
        "events": (10, 1.0),
        "other": (100, 3600.0),
    }

    def __init__(self, *, import_polls: int = 2, **kw: Any) -> None:
        super().__init__(**kw)
        self.key = f"xkeysib-{secrets.token_hex(24)}"
        self.contacts: dict[int, Contact] = {}
        self.by_email: dict[str, int] = {}
        self.lists: dict[int, dict[str, Any]] = {}
        self.folders: dict[int, str] = {}
        self.tx_events: list[dict[str, Any]] = []
        self.campaign_events: dict[int, list[CampaignEvent]] = defaultdict(list)
        self.campaigns: dict[int, str] = {}
        #: recipient lists of each campaign (``recipients.lists``); none: sent to a segment
        self.campaign_lists: dict[int, list[int]] = {}
        self.processes: dict[int, dict[str, Any]] = {}
        #: polls an import process answers ``in_process`` before it completes
        self.import_polls = import_polls
        #: every import body received, to check no request ever blocklists
        self.imports: list[dict[str, Any]] = []
        self._ids = {"contact": 0, "list": 0, "folder": 0, "process": 0, "campaign": 0}

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # -- Sandbox hooks ----------------------------------------------------------------------

    @property
    def credential(self) -> str:
        return self.key

    def use_credential(self, value: str) -> None:
        self.key = value

    def authenticate(self, request: SandboxRequest) -> Reply | None:
        if request.headers.get("api-key") == self.key:
            return None
        return self.error(401, "Key not found", "unauthorized")

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        return Reply(status, {"code": code or CODES.get(status, "bad_request"), "message": message})

    def bucket(self, path: str) -> str:
        path = path.split("?", 1)[0].rstrip("/")
        return rate_bucket(path[len(self.prefix) :] if path.startswith(self.prefix) else path)

    def rate_headers(self, bucket: str, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-sib-ratelimit-limit": str(limit),
            "x-sib-ratelimit-remaining": str(max(0, remaining)),
            "x-sib-ratelimit-reset": str(math.ceil(reset)),
        }

    def rate_limited(self, bucket: str, reset: float) -> Reply:
        limit = self.limits.get(bucket, (0, 0.0))[0]
        # Brevo sends no Retry-After: the reset header is the only hint
        return Reply(
            429,
            {"code": "too_many_requests", "message": "Too many requests"},
            self.rate_headers(bucket, limit, 0, reset),
        )

    # -- test helpers -----------------------------------------------------------------------

    def add_contact(self, email: str, *, lists: tuple[int, ...] = (), at: float | None = None) -> int:
        """Create (or find) a contact; returns its id. ``at`` is its creation (and modification) time."""
        email = email.strip().lower()
        with self.lock:
            now = self.clock() if at is None else at
            if email in self.by_email:
                contact = self.contacts[self.by_email[email]]
                if not set(lists) <= contact.list_ids:
                    contact.modified = now
            else:
                contact = Contact(self._next("contact"), email, created=now, modified=now)
                self.contacts[contact.id] = contact
                self.by_email[email] = contact.id
            contact.list_ids.update(lists)
            return contact.id

    def modify_contact(self, email: str, *, blacklisted: bool | None = None, at: float | None = None) -> None:
        """Change a contact as someone would in Brevo's app: its ``modifiedAt`` moves to ``at`` (now by default).

        ``blacklisted`` sets ``emailBlacklisted``; without it, the change is one to an attribute.
        """
        with self.lock:
            contact = self.contacts[self.by_email[email.strip().lower()]]
            if blacklisted is not None:
                contact.blacklisted = blacklisted
            contact.modified = self.clock() if at is None else at

    def edit_list(self, name: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
        """Change a list's members by hand, as in Brevo's app (unknown emails in ``add`` become contacts)."""
        with self.lock:
            list_id = self._list_named(name)
            for email in add:
                self.add_contact(email, lists=(list_id,))
            for email in remove:
                contact = self.contacts.get(self.by_email.get(email.strip().lower(), -1))
                if contact is not None and list_id in contact.list_ids:
                    contact.list_ids.discard(list_id)
                    contact.modified = self.clock()

    def delete_list(self, name: str) -> None:
        """Delete the list called ``name`` by hand; its contacts stay, without it."""
        with self.lock:
            self._drop_list(self._list_named(name))

    def _list_named(self, name: str) -> int:
        found = [i for i, lst in self.lists.items() if lst["name"] == name]
        if not found:
            raise KeyError(f"no list called {name!r}")
        return found[0]

    def _drop_list(self, list_id: int) -> None:
        del self.lists[list_id]
        for contact in self.contacts.values():
            contact.list_ids.discard(list_id)

    def add_list(self, name: str, folder_id: int | None = None) -> int:
        with self.lock:
            folder = folder_id or next(iter(self.folders), None) or self._folder("Your first folder")
            list_id = self._next("list")
            self.lists[list_id] = {"id": list_id, "name": name, "folderId": folder}
            return list_id

    def _folder(self, name: str) -> int:
        folder = self._next("folder")
        self.folders[folder] = name
        return folder

    def campaign(self, name: str, *, lists: tuple[int, ...] = ()) -> int:
        """The id of the campaign called ``name`` (created on first use), sent to ``lists``.

        Without lists it stands for a campaign sent to a segment. A contact that gets an event
        of a campaign with lists is on the first of them (it was a recipient).
        """
        with self.lock:
            for cid, existing in self.campaigns.items():
                if existing == name:
                    return cid
            cid = self._next("campaign")
            self.campaigns[cid] = name
            self.campaign_lists[cid] = list(lists)
            return cid

    def add_event(
        self,
        email: str,
        event: str,
        at: float,
        *,
        campaign: int | None = None,
        message_id: str | None = None,
        link: str | None = None,
    ) -> None:
        """A transactional event (``event`` as ``/smtp/statistics/events`` names it) or, with ``campaign``,
        a campaign event (``event`` a ``campaignStats`` key: messagesSent, opened, clicked, …)."""
        contact_id = self.add_contact(email)
        with self.lock:
            if campaign is None:
                row = {
                    "email": email.strip().lower(),
                    "date": iso(at),
                    "event": event,
                    "messageId": message_id or f"<{secrets.token_hex(8)}@sandbox.brevo>",
                    "subject": "Sandbox",
                }
                if link:
                    row["link"] = link
                self.tx_events.append(row)
            else:
                if event not in CAMPAIGN_KINDS:
                    raise ValueError(f"unknown campaign event {event!r}; one of {sorted(CAMPAIGN_KINDS)}")
                self.campaign_events[contact_id].append(CampaignEvent(contact_id, event, campaign, int(at), link))
                lists = self.campaign_lists.get(campaign) or []
                contact = self.contacts[contact_id]
                if lists and not contact.list_ids & set(lists):
                    contact.list_ids.add(lists[0])

    def list_members(self, name: str) -> set[str]:
        """Emails on the list called ``name`` now (empty if there is no such list)."""
        with self.lock:
            ids = {i for i, lst in self.lists.items() if lst["name"] == name}
            return {c.email for c in self.contacts.values() if c.list_ids & ids}

    # -- seeding ----------------------------------------------------------------------------

    def load_exports(self, folder: Path) -> None:
        """Seed from the files connector's exports, deterministically.

        Email touches of family transactional or service become transactional ``requests``
        events; marketing email touches become campaign sends grouped by ``campaign``; email
        engagements attach to the contact's latest email touch at or before them (its
        campaign, or its transactional message). Other channels and families are left out.
        """
        for row in read_export(folder, "contacts"):
            self.add_contact(row["email"], at=0)
        last: dict[str, list[tuple[int, int | None, str]]] = defaultdict(list)
        for row in read_export(folder, "touches"):
            if row.get("channel") != "email":
                continue
            at = _epoch(row["sent_at"])
            email = row["email"].strip().lower()
            family = row.get("family")
            if family in ("transactional", "service"):
                message_id = f"<{row['event_id']}@sandbox.brevo>"
                self.add_event(email, "requests", at, message_id=message_id)
                last[email].append((at, None, message_id))
            elif family == "marketing":
                cid = self.campaign(row.get("campaign") or "untitled")
                self.add_event(email, "messagesSent", at, campaign=cid)
                last[email].append((at, cid, ""))
        for touches in last.values():
            touches.sort(key=lambda t: (t[0], t[1] or 0, t[2]))
        for row in read_export(folder, "engagements"):
            kind = row.get("type", "")
            if row.get("channel") != "email" or kind not in TX_OF:
                continue
            email = row["email"].strip().lower()
            at = _epoch(row["occurred_at"])
            before = [t for t in last.get(email, []) if t[0] <= at]
            if not before:
                continue
            _, sent_in, message_id = before[-1]
            link = f"https://velo.example/{row['event_id']}" if kind == "click" else None
            if sent_in is None:
                self.add_event(email, TX_OF[kind], at, message_id=message_id, link=link)
            else:
                self.add_event(email, CAMPAIGN_OF[kind], at, campaign=sent_in, link=link)

    # -- helpers for the routes -------------------------------------------------------------

    @staticmethod
    def _int(request: SandboxRequest, name: str, default: int, maximum: int | None = None) -> int:
        raw = request.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} should be an integer", code="invalid_parameter") from None
        if value < 0 or (maximum is not None and value > maximum):
            raise BadRequest(f"{name} must be between 0 and {maximum}", code="out_of_range")
        return value

    @staticmethod
    def _day(raw: str, name: str) -> date:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise BadRequest(f"{name} should be a date in YYYY-MM-DD format", code="invalid_parameter") from None

    def _window(self, request: SandboxRequest, default_days: int | None) -> tuple[date, date] | None:
        """startDate/endDate as the spec says: both or neither, start ≤ end, at most 90 days apart."""
        start, end = request.arg("startDate"), request.arg("endDate")
        if (start is None) != (end is None):
            raise BadRequest("startDate and endDate must be passed together", code="missing_parameter")
        if start is None or end is None:
            if default_days is None:
                return None
            today = datetime.fromtimestamp(self.clock(), UTC).date()
            return today - timedelta(days=default_days - 1), today
        first, last = self._day(start, "startDate"), self._day(end, "endDate")
        if first > last:
            raise BadRequest("startDate must be lower than or equal to endDate", code="invalid_parameter")
        if (last - first).days > 90:
            raise BadRequest("The date range can not exceed 90 days", code="out_of_range")
        return first, last

    @staticmethod
    def _sorted(items: list[Any], request: SandboxRequest) -> list[Any]:
        sort = request.arg("sort", "desc")
        if sort not in ("asc", "desc"):
            raise BadRequest("sort must be asc or desc", code="invalid_parameter")
        return items if sort == "asc" else list(reversed(items))

    def _page(self, items: list[Any], request: SandboxRequest, default: int, maximum: int) -> list[Any]:
        limit = self._int(request, "limit", default, maximum)
        offset = self._int(request, "offset", 0)
        return items[offset : offset + limit]

    @staticmethod
    def _since(request: SandboxRequest) -> float | None:
        """``modifiedSince`` as epoch seconds (the spec's ``YYYY-MM-DDTHH:mm:ss.SSSZ``, offsets allowed)."""
        since = request.arg("modifiedSince")
        if since is None:
            return None
        try:
            dt = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest("modifiedSince is not a date-time", code="invalid_parameter") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()

    def _contact(self, identifier: str) -> Contact:
        key = identifier.strip().lower()
        cid = int(key) if key.isdigit() else self.by_email.get(key)
        if cid is None or cid not in self.contacts:
            raise BadRequest("Contact does not exist", status=404, code="document_not_found")
        return self.contacts[cid]

    def _list(self, raw: str) -> dict[str, Any]:
        if not raw.isdigit() or int(raw) not in self.lists:
            raise BadRequest("List ID does not exist", status=404, code="document_not_found")
        return self.lists[int(raw)]

    # -- routes: account, transactional -------------------------------------------------------

    @route("GET", "/account")
    def get_account(self, request: SandboxRequest) -> Reply:
        return Reply(200, {"email": "sandbox@example.com", "companyName": "Sandbox", "plan": [{"type": "free"}]})

    @route("GET", "/smtp/statistics/events")
    def get_email_events(self, request: SandboxRequest) -> Reply:
        # spec: limit max 5000, default 2500; default range the last 30 days; sort by creation, desc by default
        limit = self._int(request, "limit", 2500, 5000)
        if request.arg("days") is not None and request.arg("startDate") is not None:
            raise BadRequest("days is not compatible with startDate and endDate", code="invalid_parameter")
        days = request.arg("days")
        window = self._window(request, int(days) if days and days.isdigit() else 30)
        assert window is not None
        first, last = window
        event, email = request.arg("event"), request.arg("email")
        rows = [
            e
            for e in self.tx_events
            if first <= date.fromisoformat(e["date"][:10]) <= last
            and (event is None or e["event"] == event)
            and (email is None or e["email"] == email.lower())
        ]
        rows = self._sorted(rows, request)
        offset = self._int(request, "offset", 0)
        page = rows[offset : offset + limit]
        # Brevo answers {} rather than an empty list when nothing matches
        return Reply(200, {"events": page} if page else {})

    # -- routes: email campaigns ---------------------------------------------------------------

    def _campaign_json(self, cid: int, events: list[CampaignEvent]) -> dict[str, Any]:
        """getEmailCampaigns' item: sent when its first event happened, statistics counted from its events."""

        def count(kind: str) -> int:
            return sum(1 for e in events if e.kind == kind)

        def unique(kind: str) -> int:
            return len({e.contact_id for e in events if e.kind == kind})

        stats = {
            "sent": count("messagesSent"),
            "delivered": count("delivered"),
            "hardBounces": count("hardBounces"),
            "softBounces": count("softBounces"),
            "complaints": count("complaints"),
            "uniqueViews": unique("opened"),
            "viewed": count("opened"),
            "uniqueClicks": unique("clicked"),
            "clickers": count("clicked"),
            "unsubscriptions": count("userUnsubscription"),
        }
        return {
            "id": cid,
            "name": self.campaigns[cid],
            "type": "classic",
            "status": "sent",
            "sentDate": iso(min(e.at for e in events)),
            "recipients": {"lists": list(self.campaign_lists.get(cid, [])), "exclusionLists": []},
            "statistics": {"globalStats": stats},
        }

    @route("GET", "/emailCampaigns")
    def get_email_campaigns(self, request: SandboxRequest) -> Reply:
        # spec getEmailCampaigns: limit ≤ 100 (default 50); startDate/endDate filter the sent date, both or
        # neither, only with status unset or sent; sort on creation, desc by default
        status = request.arg("status")
        if status not in (None, "suspended", "archive", "sent", "queued", "draft", "inProcess"):
            raise BadRequest("status is not valid", code="invalid_parameter")
        start, end = request.arg("startDate"), request.arg("endDate")
        if (start is None) != (end is None):
            raise BadRequest("startDate and endDate must be passed together", code="missing_parameter")
        if start is not None and status not in (None, "sent"):
            raise BadRequest("startDate and endDate need status sent", code="invalid_parameter")
        bounds = [self._instant(v, n) for v, n in ((start, "startDate"), (end, "endDate")) if v is not None]
        by_campaign: dict[int, list[CampaignEvent]] = defaultdict(list)
        for events in self.campaign_events.values():
            for e in events:
                if e.campaign_id is not None:
                    by_campaign[e.campaign_id].append(e)
        found = []
        for cid in sorted(self.campaigns):
            events = by_campaign.get(cid, [])
            sent = min(e.at for e in events) if events else None
            if status not in (None, "sent") or sent is None:
                continue  # the sandbox's campaigns are all sent once they have events; drafts otherwise
            if bounds and not bounds[0] <= sent <= bounds[1]:
                continue
            found.append(self._campaign_json(cid, events))
        found = self._sorted(found, request)
        page = self._page(found, request, 50, 100)
        return Reply(200, {"campaigns": page, "count": len(found)} if found else {"count": 0})

    @staticmethod
    def _instant(raw: str, name: str) -> float:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            msg = f"{name} should be a date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)"
            raise BadRequest(msg, code="invalid_parameter") from None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()

    # -- routes: contacts ---------------------------------------------------------------------

    @route("GET", "/contacts")
    def get_contacts(self, request: SandboxRequest) -> Reply:
        contacts = list(self.contacts.values())
        list_ids = [int(v) for raw in request.query.get("listIds", []) for v in raw.split(",") if v.strip()]
        if list_ids:
            contacts = [c for c in contacts if c.list_ids & set(list_ids)]
        cut = self._since(request)
        if cut is not None:
            contacts = [c for c in contacts if c.modified >= cut]
        contacts = self._sorted(contacts, request)
        page = self._page(contacts, request, 50, 1000)
        return Reply(200, {"contacts": [c.as_json() for c in page], "count": len(contacts)})

    @route("GET", r"/contacts/(?P<identifier>(?!lists$|folders$)[^/]+)")
    def get_contact(self, request: SandboxRequest) -> Reply:
        return Reply(200, self._contact(request.params["identifier"]).as_json())

    @route("GET", r"/contacts/(?P<identifier>[^/]+)/campaignStats")
    def get_contact_stats(self, request: SandboxRequest) -> Reply:
        contact = self._contact(request.params["identifier"])
        window = self._window(request, None)
        events = [
            e
            for e in self.campaign_events.get(contact.id, [])
            if window is None or window[0] <= datetime.fromtimestamp(e.at, UTC).date() <= window[1]
        ]
        events.sort(key=lambda e: (e.at, e.campaign_id or 0, e.url or ""))
        out: dict[str, Any] = {}
        simple = ("messagesSent", "delivered", "hardBounces", "softBounces", "complaints")
        for key in simple:
            items = [{"campaignId": e.campaign_id, "eventTime": iso(e.at)} for e in events if e.kind == key]
            if items:
                out[key] = items
        # opens: one entry per campaign with a count and the first open's time (getContactCampaignStats)
        opened: dict[int | None, dict[str, Any]] = {}
        for e in events:
            if e.kind == "opened":
                first = {"campaignId": e.campaign_id, "count": 0, "eventTime": iso(e.at), "ip": "203.0.113.7"}
                entry = opened.setdefault(e.campaign_id, first)
                entry["count"] += 1
        if opened:
            out["opened"] = list(opened.values())
        clicked: dict[int | None, dict[str, dict[str, Any]]] = {}
        for e in events:
            if e.kind == "clicked":
                links = clicked.setdefault(e.campaign_id, {})
                link = links.setdefault(
                    e.url or "", {"count": 0, "eventTime": iso(e.at), "ip": "203.0.113.7", "url": e.url or ""}
                )
                link["count"] += 1
        if clicked:
            out["clicked"] = [{"campaignId": c, "links": list(v.values())} for c, v in clicked.items()]
        user = [
            {"campaignId": e.campaign_id, "eventTime": iso(e.at), "ip": "203.0.113.7"}
            for e in events
            if e.kind == "userUnsubscription"
        ]
        admin = [{"eventTime": iso(e.at), "ip": "203.0.113.7"} for e in events if e.kind == "adminUnsubscription"]
        if user or admin:
            out["unsubscriptions"] = {"userUnsubscription": user, "adminUnsubscription": admin}
        return Reply(200, out)

    # -- routes: folders and lists -------------------------------------------------------------

    @route("GET", "/contacts/folders")
    def get_folders(self, request: SandboxRequest) -> Reply:
        folders = self._sorted(
            [
                {"id": i, "name": n, "totalBlacklisted": 0, "totalSubscribers": 0, "uniqueSubscribers": 0}
                for i, n in self.folders.items()
            ],
            request,
        )
        return Reply(200, {"folders": self._page(folders, request, 10, 50), "count": len(folders)})

    @route("POST", "/contacts/folders")
    def create_folder(self, request: SandboxRequest) -> Reply:
        body = request.json() or {}
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise BadRequest("name is missing", code="missing_parameter")
        return Reply(201, {"id": self._folder(body["name"])})

    @route("GET", "/contacts/lists")
    def get_lists(self, request: SandboxRequest) -> Reply:
        lists = []
        for lst in self.lists.values():
            members = [c for c in self.contacts.values() if lst["id"] in c.list_ids]
            blocked = sum(1 for c in members if c.blacklisted)
            # as the spec's getLists examples add up: unique = total (not blocklisted) + blocklisted
            counts = {
                "totalSubscribers": len(members) - blocked,
                "totalBlacklisted": blocked,
                "uniqueSubscribers": len(members),
            }
            lists.append({**lst, **counts})
        lists = self._sorted(lists, request)
        return Reply(200, {"lists": self._page(lists, request, 10, 50), "count": len(lists)})

    @route("POST", "/contacts/lists")
    def create_list(self, request: SandboxRequest) -> Reply:
        # spec createList: name and folderId are required
        body = request.json() or {}
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise BadRequest("name is missing", code="missing_parameter")
        if not isinstance(body.get("folderId"), int):
            raise BadRequest("folderId is missing", code="missing_parameter")
        if body["folderId"] not in self.folders:
            raise BadRequest("Folder ID does not exist", status=404, code="document_not_found")
        return Reply(201, {"id": self.add_list(body["name"], body["folderId"])})

    @route("DELETE", r"/contacts/lists/(?P<list_id>[^/]+)")
    def delete_list_route(self, request: SandboxRequest) -> Reply:
        # spec deleteList: 204 "List deleted", 404 "List ID not found"
        with self.lock:
            self._drop_list(self._list(request.params["list_id"])["id"])
        return Reply(204)

    @route("GET", r"/contacts/lists/(?P<list_id>[^/]+)/contacts")
    def get_list_contacts(self, request: SandboxRequest) -> Reply:
        lst = self._list(request.params["list_id"])
        members = [c for c in self.contacts.values() if lst["id"] in c.list_ids]
        cut = self._since(request)
        if cut is not None:
            members = [c for c in members if c.modified >= cut]
        members = self._sorted(members, request)
        page = self._page(members, request, 50, 500)
        return Reply(200, {"contacts": [c.as_json() for c in page], "count": len(members)})

    def _emails(self, request: SandboxRequest) -> list[str]:
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("the body must be an object", code="invalid_parameter")
        given = [k for k in ("emails", "ids", "extIds", "all") if k in body]
        if len(given) != 1:
            raise BadRequest("pass exactly one of emails, ids, extIds", code="invalid_parameter")
        if given[0] != "emails":
            raise BadRequest(f"the sandbox only supports emails, not {given[0]}", code="invalid_parameter")
        emails = body["emails"]
        if not isinstance(emails, list) or not emails:
            raise BadRequest("emails must be a non-empty array", code="invalid_parameter")
        if len(emails) > 150:
            raise BadRequest("You can pass a maximum of 150 emails in one request", code="out_of_range")
        return [str(e).strip().lower() for e in emails]

    @route("POST", r"/contacts/lists/(?P<list_id>[^/]+)/contacts/add")
    def add_to_list(self, request: SandboxRequest) -> Reply:
        lst = self._list(request.params["list_id"])
        success, failure = [], []
        for email in self._emails(request):
            cid = self.by_email.get(email)
            contact = self.contacts.get(cid) if cid is not None else None
            if contact is None or lst["id"] in contact.list_ids:
                failure.append(email)  # "already in list and/or doesn't exist"
            else:
                contact.list_ids.add(lst["id"])
                contact.modified = self.clock()
                success.append(email)
        return Reply(201, {"contacts": {"success": success, "failure": failure}})

    @route("POST", r"/contacts/lists/(?P<list_id>[^/]+)/contacts/remove")
    def remove_from_list(self, request: SandboxRequest) -> Reply:
        lst = self._list(request.params["list_id"])
        success, failure = [], []
        for email in self._emails(request):
            cid = self.by_email.get(email)
            contact = self.contacts.get(cid) if cid is not None else None
            if contact is None or lst["id"] not in contact.list_ids:
                failure.append(email)
            else:
                contact.list_ids.discard(lst["id"])
                contact.modified = self.clock()
                success.append(email)
        return Reply(201, {"contacts": {"success": success, "failure": failure}})

    # -- routes: import and processes ----------------------------------------------------------

    @route("POST", "/contacts/import")
    def import_contacts(self, request: SandboxRequest) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("the body must be an object", code="invalid_parameter")
        self.imports.append(body)
        rows = body.get("jsonBody")
        if not isinstance(rows, list) or not rows:
            raise BadRequest("the sandbox supports jsonBody imports only", code="missing_parameter")
        list_ids = body.get("listIds")
        if not isinstance(list_ids, list) or not list_ids:
            raise BadRequest("listIds is mandatory if newList is not defined", code="missing_parameter")
        for lid in list_ids:
            self._list(str(lid))
        process = self._next("process")
        self.processes[process] = {"id": process, "name": "IMPORTUSER", "status": "queued", "polls": 0, "body": body}
        return Reply(202, {"processId": process})

    @route("GET", r"/processes/(?P<process_id>[^/]+)")
    def get_process(self, request: SandboxRequest) -> Reply:
        raw = request.params["process_id"]
        if not raw.isdigit() or int(raw) not in self.processes:
            raise BadRequest("Process does not exist", status=404, code="document_not_found")
        proc = self.processes[int(raw)]
        proc["polls"] += 1
        if proc["status"] != "completed" and proc["polls"] >= self.import_polls:
            self._run_import(proc["body"])
            proc["status"] = "completed"
        elif proc["status"] == "queued":
            proc["status"] = "in_process"
        return Reply(200, {"id": proc["id"], "name": proc["name"], "status": proc["status"]})

    def _run_import(self, body: dict[str, Any]) -> None:
        update = body.get("updateExistingContacts", True)
        for row in body["jsonBody"]:
            email = str(row.get("email") or "").strip().lower()
            if "@" not in email:
                continue  # Brevo skips invalid rows
            exists = email in self.by_email
            cid = self.add_contact(email)
            contact = self.contacts[cid]
            if not exists or update:
                contact.list_ids.update(int(x) for x in body["listIds"])
                contact.modified = self.clock()
                if body.get("emailBlacklist"):
                    contact.blacklisted = True


def _epoch(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
