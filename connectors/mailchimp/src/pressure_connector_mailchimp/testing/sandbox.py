"""``MailchimpSandbox``: a stateful local Mailchimp Marketing API v3 for tests and demos.

It models one account: audiences (lists) and their members, static segments (tags), sent
campaigns with their recipients, email activity, unsubscribes and abuse reports, and batch
operations. Shapes follow ``vendor-apis-mailchimp-sfmc.md`` §1 (Mailchimp's own SDK types):

- HTTP Basic auth, any user name, the API key as password; the key ends in ``-<dc>``;
- collections page with ``count`` (default 10, at most 1000) and ``offset`` and answer
  ``total_items``; ``fields`` and ``exclude_fields`` (comma-separated, dot notation) trim answers;
- errors are RFC 7807 problem documents (``application/problem+json``) with ``type``,
  ``title``, ``status``, ``detail`` and ``instance`` (equal to the ``X-Request-Id`` header),
  and ``errors[{field, message}]`` on validation errors;
- at most ``max_connections`` requests (10) are served at once; more answer 429;
- ``POST /batches`` runs its operations when polled, and serves the results as a gzipped
  tar of JSON files (``[{status_code, operation_id, response}]``, ``response`` a JSON string)
  from an unauthenticated URL, as Mailchimp's storage links are.

It imports nothing from the connector: it is a model of the platform, not of the client.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import math
import re
import secrets
import tarfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from pressure_sdk.testing.exports import read_export
from pressure_sdk.testing.sandbox import Fault, Reply, Sandbox, SandboxRequest, route

#: the ``type`` of every problem document (the older glossary URL appears in old answers)
ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
TITLES = {
    400: "Invalid Resource",
    401: "API Key Invalid",
    403: "Forbidden",
    404: "Resource Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
#: ``count`` of every collection: "Default value is 10. Maximum value is 1000"
COUNT_DEFAULT, COUNT_MAX = 10, 1000
#: members per ``POST /lists/{list_id}`` and emails per array of a segment batch
MEMBERS_MAX = 500
#: pending batches an account may hold (release note 2021-11-16)
PENDING_BATCHES_MAX = 500
MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
CAMPAIGN_STATUSES = ("save", "paused", "schedule", "sending", "sent")
BATCH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ARCHIVE_PREFIX = "/batch-results/"
#: activity kinds of ``email-activity``
ACTIONS = ("open", "click", "bounce")
#: the detail of a validation error, whose ``errors`` array names the fields
VALIDATION = "The resource submitted could not be validated. For field-specific details, see the 'errors' array."


def subscriber_hash(email: str) -> str:
    """The MD5 of the lowercase address: a member's ``id`` and the ``{subscriber_hash}`` of paths."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - Mailchimp's own id


def iso(epoch: float | None) -> str:
    """Mailchimp's date-times: ``2015-10-21T15:41:36+00:00``; an unset one is ``""``."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class Invalid(Exception):
    """A refusal answered with a problem document (not a ``BadRequest``, to keep ``errors``)."""

    def __init__(
        self, detail: str, status: int = 400, *, title: str | None = None, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.errors = errors


@dataclass
class Member:
    email: str
    list_id: str
    contact_id: str
    unique_email_id: str
    web_id: int
    status: str = "subscribed"
    signup: float = 0.0
    opted: float = 0.0
    changed: float = 0.0
    unsubscribe_reason: str = ""

    @property
    def id(self) -> str:
        return subscriber_hash(self.email)

    def as_json(self, tags: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "email_address": self.email,
            "unique_email_id": self.unique_email_id,
            "contact_id": self.contact_id,
            "full_name": "",
            "web_id": self.web_id,
            "email_type": "html",
            "status": self.status,
            "consents_to_one_to_one_messaging": True,
            "merge_fields": {"FNAME": "", "LNAME": ""},
            "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
            "ip_signup": "",
            "timestamp_signup": iso(self.signup),
            "ip_opt": "",
            "timestamp_opt": iso(self.opted),
            "member_rating": 2,
            "last_changed": iso(self.changed),
            "language": "",
            "vip": False,
            "email_client": "",
            "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0, "country_code": "", "timezone": ""},
            "source": "API - Generic",
            "tags_count": len(tags),
            # "tags: up to 50 only"
            "tags": tags[:50],
            "list_id": self.list_id,
            "_links": [],
        }
        if self.status == "unsubscribed":
            out["unsubscribe_reason"] = self.unsubscribe_reason or "N/A (Unsubscribed by an admin)"
        return out


@dataclass
class Segment:
    id: int
    name: str
    list_id: str
    type: str = "static"
    created: float = 0.0
    updated: float = 0.0
    #: member ids (subscriber hashes), in the order they joined
    members: dict[str, None] = field(default_factory=dict)


@dataclass
class Audience:
    id: str
    name: str
    members: dict[str, Member] = field(default_factory=dict)
    segments: dict[int, Segment] = field(default_factory=dict)


@dataclass
class Activity:
    action: str
    at: float
    url: str | None = None
    bounce: str | None = None


@dataclass
class Campaign:
    id: str
    web_id: int
    title: str
    list_id: str
    status: str = "sent"
    created: float = 0.0
    send_time: float | None = None
    type: str = "regular"
    #: member id → ``sent``, ``hard`` or ``soft``, in send order
    recipients: dict[str, str] = field(default_factory=dict)
    activity: dict[str, list[Activity]] = field(default_factory=dict)
    #: (member id, time, reason)
    unsubscribes: list[tuple[str, float, str]] = field(default_factory=list)
    #: (report id, member id, time)
    abuse: list[tuple[int, str, float]] = field(default_factory=list)


@dataclass
class BatchJob:
    id: str
    operations: list[dict[str, Any]]
    submitted: float
    polls: int = 0
    status: str = "pending"
    completed: float | None = None
    finished_operations: int = 0
    errored_operations: int = 0
    archive: str = ""


class MailchimpSandbox(Sandbox):
    """Mailchimp on localhost. One audience (``list_id``) exists from the start.

    ``batch_polls`` is how many ``GET /batches/{id}`` a batch answers before it is
    ``finished``; ``max_connections`` the requests served at once (more answer 429),
    ``latency`` seconds added to each answer (to make concurrency visible), and
    ``retry_after`` whether a 429 carries a ``Retry-After`` header (unverified for
    Mailchimp: tests run both ways).
    """

    platform: ClassVar[str] = "mailchimp"
    prefix: ClassVar[str] = "/3.0"
    demo_brand: ClassVar[str] = "maison-outlet"
    #: Mailchimp has no per-hour quota: its limit is on concurrent connections
    default_limits: ClassVar[dict[str, tuple[int, float]]] = {}

    def __init__(
        self,
        *,
        dc: str = "us1",
        batch_polls: int = 1,
        max_connections: int = 10,
        latency: float = 0.0,
        retry_after: bool = True,
        results_per_file: int = 50,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.dc = dc
        self.key = f"{secrets.token_hex(16)}-{dc}"
        self.batch_polls = batch_polls
        self.max_connections = max_connections
        self.latency = latency
        self.send_retry_after = retry_after
        self.results_per_file = results_per_file
        self.audiences: dict[str, Audience] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.batches: dict[str, BatchJob] = {}
        self.archives: dict[str, bytes] = {}
        #: most requests ever served at once, and how many were refused for concurrency
        self.peak_connections = 0
        self.refused_connections = 0
        self._in_flight = 0
        self._flight_lock = threading.Lock()
        self._serial = {"web": 1000, "segment": 0, "abuse": 0}
        self.list_id = self.add_list("Sandbox audience")

    # -- Sandbox hooks ------------------------------------------------------------------------

    @property
    def credential(self) -> str:
        return self.key

    def use_credential(self, value: str) -> None:
        self.key = value
        if "-" in value:
            self.dc = value.rsplit("-", 1)[1]

    def authenticate(self, request: SandboxRequest) -> Reply | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            # "you can use any string as the user name"
            if decoded.partition(":")[2] == self.key:
                return None
        return self.error(
            401, "Your API key may be invalid, or you've attempted to access the wrong datacenter.", "API Key Invalid"
        )

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        return self._problem(status, message, code)

    def _problem(
        self, status: int, detail: str, title: str | None = None, errors: list[dict[str, str]] | None = None
    ) -> Reply:
        instance = str(uuid.uuid4())
        body: dict[str, Any] = {
            "type": ERROR_TYPE,
            "title": title or TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "instance": instance,
        }
        if errors:
            body["errors"] = errors
        headers = {
            "Content-Type": "application/problem+json; charset=utf-8",
            "X-Request-Id": instance,
            "Link": f'<https://{self.dc}.api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"',
        }
        return Reply(status, body, headers)

    def rate_limited(self, bucket: str, reset: float) -> Reply:
        reply = self._problem(
            429, f"You have exceeded the limit of {self.max_connections} simultaneous connections.", "Too Many Requests"
        )
        if self.send_retry_after:
            reply.headers["Retry-After"] = str(max(1, math.ceil(reset)))
        return reply

    def handle(self, request: SandboxRequest) -> tuple[Reply, Fault | None]:
        """Results archives first (no auth, like a storage link), then the connection limit."""
        if request.path.startswith(ARCHIVE_PREFIX):
            fault = self._take_fault(request)
            if fault is not None and fault.kind == "status":
                # the storage's own refusal, not a problem document
                return Reply(
                    fault.status, "<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"}
                ), None
            return self._archive(request), fault
        with self._flight_lock:
            self._in_flight += 1
            self.peak_connections = max(self.peak_connections, self._in_flight)
            over = self._in_flight > self.max_connections
            if over:
                self.refused_connections += 1
        try:
            if over:
                return self.rate_limited("connections", 1.0), None
            if self.latency:
                time.sleep(self.latency)
            reply, fault = super().handle(request)
            if reply.status < 400 and isinstance(reply.body, dict | list) and request.method == "GET":
                reply.body = _trim(reply.body, request.arg("fields"), request.arg("exclude_fields"))
            return reply, fault
        finally:
            with self._flight_lock:
                self._in_flight -= 1

    def _dispatch(self, request: SandboxRequest) -> Reply:
        try:
            reply = super()._dispatch(request)
        except Invalid as exc:
            return self._problem(exc.status, str(exc), exc.title, exc.errors)
        if reply.status < 400 and reply.body is not None:
            reply.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return reply

    # -- test helpers: the account as someone would change it in Mailchimp's app ---------------

    def _web_id(self) -> int:
        self._serial["web"] += 1
        return self._serial["web"]

    def add_list(self, name: str) -> str:
        """A new audience; returns its id (10 hex digits, as Mailchimp's)."""
        with self.lock:
            list_id = hashlib.md5(f"{name}-{len(self.audiences)}".encode()).hexdigest()[:10]  # noqa: S324
            self.audiences[list_id] = Audience(list_id, name)
            return list_id

    def audience(self, list_id: str | None = None) -> Audience:
        return self.audiences[list_id or self.list_id]

    def add_member(
        self, email: str, *, status: str = "subscribed", at: float | None = None, list_id: str | None = None
    ) -> str:
        """Add a member (or find it: its status is then left alone); returns its id. ``at`` is its signup time."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        with self.lock:
            aud = self.audience(list_id)
            email = email.strip().lower()
            mid = subscriber_hash(email)
            if mid not in aud.members:
                now = self.clock() if at is None else at
                aud.members[mid] = Member(
                    email,
                    aud.id,
                    contact_id=hashlib.md5(f"contact-{email}".encode()).hexdigest(),  # noqa: S324
                    unique_email_id=hashlib.md5(f"unique-{email}".encode()).hexdigest()[:10],  # noqa: S324
                    web_id=self._web_id(),
                    status=status,
                    signup=now,
                    opted=now,
                    changed=now,
                )
            return mid

    def set_status(self, email: str, status: str, *, at: float | None = None, list_id: str | None = None) -> None:
        """Change a member's status by hand; its ``last_changed`` moves to ``at`` (now by default)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        with self.lock:
            member = self.audience(list_id).members[subscriber_hash(email)]
            member.status = status
            member.changed = self.clock() if at is None else at

    def member(self, email: str, list_id: str | None = None) -> Member | None:
        return self.audience(list_id).members.get(subscriber_hash(email))

    def add_campaign(
        self,
        title: str,
        send_time: float,
        recipients: Iterable[str] = (),
        *,
        list_id: str | None = None,
        status: str = "sent",
    ) -> str:
        """A campaign sent at ``send_time`` to ``recipients`` (added to the audience if new); returns its id."""
        with self.lock:
            aud = self.audience(list_id)
            cid = hashlib.md5(f"{aud.id}-{title}-{send_time}".encode()).hexdigest()[:10]  # noqa: S324
            campaign = self.campaigns.get(cid)
            if campaign is None:
                campaign = Campaign(cid, self._web_id(), title, aud.id, status, send_time - 3600, send_time)
                self.campaigns[cid] = campaign
            for email in recipients:
                campaign.recipients.setdefault(self.add_member(email, at=send_time - 86400, list_id=aud.id), "sent")
            return cid

    def _recipient(self, campaign_id: str, email: str) -> tuple[Campaign, str]:
        campaign = self.campaigns[campaign_id]
        mid = subscriber_hash(email)
        if mid not in campaign.recipients:
            raise ValueError(f"{email} was not sent campaign {campaign_id}")
        return campaign, mid

    def add_activity(
        self, campaign_id: str, email: str, action: str, at: float, *, url: str | None = None, bounce: str = "hard"
    ) -> None:
        """An open, click or bounce of a recipient; a bounce also sets its ``sent-to`` status."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")
        with self.lock:
            campaign, mid = self._recipient(campaign_id, email)
            campaign.activity.setdefault(mid, []).append(
                Activity(action, at, url if action == "click" else None, bounce if action == "bounce" else None)
            )
            if action == "bounce":
                campaign.recipients[mid] = bounce

    def add_unsubscribe(self, campaign_id: str, email: str, at: float, reason: str = "") -> None:
        """A recipient unsubscribes from the campaign: the member turns ``unsubscribed``."""
        with self.lock:
            campaign, mid = self._recipient(campaign_id, email)
            campaign.unsubscribes.append((mid, at, reason))
            member = self.audience(campaign.list_id).members[mid]
            member.status, member.changed, member.unsubscribe_reason = "unsubscribed", at, reason

    def add_abuse(self, campaign_id: str, email: str, at: float) -> int:
        """A recipient reports the campaign as spam; returns the report's (integer) id."""
        with self.lock:
            campaign, mid = self._recipient(campaign_id, email)
            self._serial["abuse"] += 1
            campaign.abuse.append((self._serial["abuse"], mid, at))
            member = self.audience(campaign.list_id).members[mid]
            member.status, member.changed, member.unsubscribe_reason = "unsubscribed", at, "abuse"
            return self._serial["abuse"]

    def _new_segment(self, aud: Audience, name: str, type_: str = "static") -> Segment:
        self._serial["segment"] += 1
        now = self.clock()
        seg = Segment(self._serial["segment"], name, aud.id, type_, now, now)
        aud.segments[seg.id] = seg
        return seg

    def add_segment(
        self, name: str, emails: Iterable[str] = (), *, kind: str = "static", list_id: str | None = None
    ) -> int:
        """A segment made by hand (``kind`` static or saved); returns its integer id."""
        with self.lock:
            aud = self.audience(list_id)
            seg = self._new_segment(aud, name, kind)
            for email in emails:
                seg.members[self.add_member(email, list_id=aud.id)] = None
            return seg.id

    def _segment_named(self, name: str, list_id: str | None = None) -> Segment:
        found = [s for s in self.audience(list_id).segments.values() if s.name == name]
        if not found:
            raise KeyError(f"no segment called {name!r}")
        return min(found, key=lambda s: s.id)

    def segment_members(self, name: str, list_id: str | None = None) -> set[str]:
        """Emails in the segment called ``name`` now (empty if there is none)."""
        with self.lock:
            aud = self.audience(list_id)
            ids = {mid for s in aud.segments.values() if s.name == name for mid in s.members}
            return {aud.members[mid].email for mid in ids if mid in aud.members}

    def edit_segment(
        self, name: str, *, add: Iterable[str] = (), remove: Iterable[str] = (), list_id: str | None = None
    ) -> None:
        """Change a segment by hand (unknown emails in ``add`` join the audience first)."""
        with self.lock:
            seg = self._segment_named(name, list_id)
            for email in add:
                seg.members[self.add_member(email, list_id=seg.list_id)] = None
            for email in remove:
                seg.members.pop(subscriber_hash(email), None)
            seg.updated = self.clock()

    def delete_segment(self, name: str, list_id: str | None = None) -> None:
        with self.lock:
            seg = self._segment_named(name, list_id)
            del self.audience(seg.list_id).segments[seg.id]

    # -- seeding ------------------------------------------------------------------------------

    def load_exports(self, folder: Path) -> None:
        """Seed the audience, campaigns and their reports from an export folder, deterministically.

        Every contact and every email address of an email touch becomes a subscribed member.
        Email touches of family ``marketing`` become sent campaigns, one per ``campaign`` (or
        per day when a touch names none), sent at the earliest of their touches. Email
        engagements attach to the contact's latest campaign sent at or before them: opens,
        clicks and bounces as its email activity, unsubscribes and complaints as its
        unsubscribes and abuse reports. Other channels and families have no Mailchimp campaign
        and are left out.
        """
        rows = [r for r in read_export(folder, "touches") if r.get("channel") == "email"]
        first = min((_epoch(r["sent_at"]) for r in rows), default=time.time())
        for contact in read_export(folder, "contacts"):
            self.add_member(contact["email"], at=first - 30 * 86400)
        groups: dict[str, list[tuple[float, str]]] = {}
        for r in rows:
            self.add_member(r["email"], at=first - 30 * 86400)
            if r.get("family") != "marketing":
                continue
            at = _epoch(r["sent_at"])
            name = r.get("campaign") or f"campaign-{datetime.fromtimestamp(at, UTC).date().isoformat()}"
            groups.setdefault(name, []).append((at, r["email"].strip().lower()))
        sent: dict[str, list[tuple[float, str]]] = {}
        for name, touches in sorted(groups.items()):
            send_time = min(at for at, _ in touches)
            cid = self.add_campaign(name, send_time, [e for _, e in sorted(touches)])
            for _, email in touches:
                sent.setdefault(email, []).append((send_time, cid))
        for times in sent.values():
            times.sort()
        for row in read_export(folder, "engagements"):
            if row.get("channel") != "email":
                continue
            email, kind, at = row["email"].strip().lower(), row["type"], _epoch(row["occurred_at"])
            before = [cid for t, cid in sent.get(email, []) if t <= at]
            if not before:
                continue
            cid = before[-1]
            if kind in ("open", "click", "bounce"):
                url = f"https://shop.example/{row['event_id']}" if kind == "click" else None
                self.add_activity(cid, email, kind, at, url=url)
            elif kind == "unsubscribe":
                self.add_unsubscribe(cid, email, at)
            elif kind == "complaint":
                self.add_abuse(cid, email, at)

    # -- request helpers ----------------------------------------------------------------------

    @staticmethod
    def _int(request: SandboxRequest, name: str, default: int, low: int = 0, high: int | None = None) -> int:
        raw = request.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Invalid(f"{name} must be an integer", errors=[{"field": name, "message": "not an integer"}]) from None
        if value < low or (high is not None and value > high):
            most = f" and {high}" if high is not None else ""
            raise Invalid(
                f"{name} must be between {low}{most}",
                errors=[{"field": name, "message": f"{value} is out of range"}],
            )
        return value

    def _page(self, request: SandboxRequest, items: list[Any]) -> list[Any]:
        count = self._int(request, "count", COUNT_DEFAULT, 1, COUNT_MAX)
        offset = self._int(request, "offset", 0)
        return items[offset : offset + count]

    @staticmethod
    def _time(request: SandboxRequest, name: str) -> float | None:
        raw = request.arg(name)
        if raw is None or raw == "":
            return None
        # an unencoded "+" of an offset arrives as a space
        text = raw.strip().replace(" ", "+").replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise Invalid(
                f"{name} must be an ISO 8601 date-time, such as 2015-10-21T15:41:36+00:00",
                errors=[{"field": name, "message": "not a date-time"}],
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()

    @staticmethod
    def _flag(request: SandboxRequest, name: str) -> bool:
        return (request.arg(name) or "").strip().lower() == "true"

    def _audience(self, request: SandboxRequest) -> Audience:
        aud = self.audiences.get(request.params["list_id"])
        if aud is None:
            raise Invalid("The requested resource could not be found.", 404)
        return aud

    def _campaign(self, request: SandboxRequest) -> Campaign:
        campaign = self.campaigns.get(request.params["campaign_id"])
        if campaign is None or campaign.status != "sent":
            raise Invalid("The requested resource could not be found.", 404)
        return campaign

    def _segment(self, request: SandboxRequest, aud: Audience) -> Segment:
        raw = request.params["segment_id"]
        seg = aud.segments.get(int(raw)) if raw.isdigit() else None
        if seg is None:
            raise Invalid("The requested resource could not be found.", 404)
        return seg

    @staticmethod
    def _body(request: SandboxRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            raise Invalid("We encountered an unspecified JSON parsing error.", title="JSON Parse Exception") from None
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.")
        return body

    def _tags(self, aud: Audience, mid: str) -> list[dict[str, Any]]:
        return [{"id": s.id, "name": s.name} for s in aud.segments.values() if s.type == "static" and mid in s.members]

    def _member_json(self, aud: Audience, member: Member) -> dict[str, Any]:
        return member.as_json(self._tags(aud, member.id))

    def _links(self, request: SandboxRequest) -> list[dict[str, str]]:
        return [{"rel": "self", "href": f"https://{self.dc}.api.mailchimp.com{request.path}", "method": "GET"}]

    def _recipient_common(self, campaign: Campaign, mid: str) -> dict[str, Any]:
        member = self.audiences[campaign.list_id].members[mid]
        return {
            "email_id": mid,
            "email_address": member.email,
            "merge_fields": {"FNAME": "", "LNAME": ""},
            "vip": False,
            "campaign_id": campaign.id,
            "list_id": campaign.list_id,
            "list_is_active": True,
        }

    # -- routes: campaigns and reports --------------------------------------------------------

    def _campaign_json(self, c: Campaign) -> dict[str, Any]:
        aud = self.audiences[c.list_id]
        return {
            "id": c.id,
            "web_id": c.web_id,
            "type": c.type,
            "create_time": iso(c.created),
            "archive_url": f"https://mailchi.mp/sandbox/{c.id}",
            "status": c.status,
            "emails_sent": len(c.recipients) if c.status == "sent" else 0,
            "send_time": iso(c.send_time) if c.status in ("sending", "sent") else "",
            "content_type": "template",
            "recipients": {
                "list_id": c.list_id,
                "list_is_active": True,
                "list_name": aud.name,
                "segment_text": "",
                "recipient_count": len(c.recipients),
            },
            "settings": {
                "subject_line": c.title,
                "title": c.title,
                "from_name": "Sandbox",
                "reply_to": "s@example.com",
            },
            "tracking": {"opens": True, "html_clicks": True, "text_clicks": False},
            "_links": [],
        }

    @route("GET", "/campaigns")
    def list_campaigns(self, request: SandboxRequest) -> Reply:
        campaigns = list(self.campaigns.values())
        status = request.arg("status")
        if status:
            if status not in CAMPAIGN_STATUSES:
                raise Invalid(f"status must be one of {', '.join(CAMPAIGN_STATUSES)}")
            campaigns = [c for c in campaigns if c.status == status]
        for name, keep in (("list_id", lambda c, v: c.list_id == v), ("type", lambda c, v: c.type == v)):
            value = request.arg(name)
            if value:
                campaigns = [c for c in campaigns if keep(c, value)]
        since, before = self._time(request, "since_send_time"), self._time(request, "before_send_time")
        # "campaigns sent after the set time"
        if since is not None:
            campaigns = [c for c in campaigns if c.send_time is not None and c.send_time > since]
        if before is not None:
            campaigns = [c for c in campaigns if c.send_time is not None and c.send_time < before]
        since_c, before_c = self._time(request, "since_create_time"), self._time(request, "before_create_time")
        if since_c is not None:
            campaigns = [c for c in campaigns if c.created > since_c]
        if before_c is not None:
            campaigns = [c for c in campaigns if c.created < before_c]
        sort_field, sort_dir = request.arg("sort_field"), (request.arg("sort_dir") or "ASC").upper()
        if sort_field is not None:
            if sort_field not in ("create_time", "send_time"):
                raise Invalid("sort_field must be create_time or send_time")
            if sort_dir not in ("ASC", "DESC"):
                raise Invalid("sort_dir must be ASC or DESC")
            key = (lambda c: (c.created, c.id)) if sort_field == "create_time" else (lambda c: (c.send_time or 0, c.id))
            campaigns.sort(key=key, reverse=sort_dir == "DESC")
        page = self._page(request, campaigns)
        return Reply(
            200,
            {
                "campaigns": [self._campaign_json(c) for c in page],
                "total_items": len(campaigns),
                "_links": self._links(request),
            },
        )

    @route("GET", r"/reports/(?P<campaign_id>[^/]+)/sent-to")
    def sent_to(self, request: SandboxRequest) -> Reply:
        campaign = self._campaign(request)
        ids = list(campaign.recipients)
        rows = []
        for mid in self._page(request, ids):  # only the page's rows are built
            opens = [a.at for a in campaign.activity.get(mid, []) if a.action == "open"]
            rows.append(
                {
                    **self._recipient_common(campaign, mid),
                    "status": campaign.recipients[mid],
                    "open_count": len(opens),
                    "last_open": iso(max(opens)) if opens else "",
                    "absplit_group": "",
                    "gmt_offset": 0,
                    "_links": [],
                }
            )
        return Reply(
            200,
            {"sent_to": rows, "campaign_id": campaign.id, "total_items": len(ids), "_links": self._links(request)},
        )

    def _activity_of(self, campaign: Campaign, mid: str, since: float | None) -> list[dict[str, Any]]:
        out = []
        # "Member activity limited to 1,000 open activities and 1,000 click activities per member per campaign"
        kept = {"open": 0, "click": 0}
        for a in campaign.activity.get(mid, []):
            if a.action in kept:
                kept[a.action] += 1
                if kept[a.action] > 1000:
                    continue
            if since is not None and a.at <= since:
                continue
            item: dict[str, Any] = {"action": a.action, "timestamp": iso(a.at), "ip": "203.0.113.7"}
            if a.action == "bounce":
                item["type"] = a.bounce
            if a.action == "click":
                item["url"] = a.url or ""
            out.append(item)
        return out

    @route("GET", r"/reports/(?P<campaign_id>[^/]+)/email-activity")
    def email_activity(self, request: SandboxRequest) -> Reply:
        campaign = self._campaign(request)
        since = self._time(request, "since")
        if since is None:
            ids = list(campaign.recipients)  # without "since", every recipient, activity or not
        else:
            # with "since", only recipients with activity after it
            ids = [mid for mid, acts in campaign.activity.items() if any(a.at > since for a in acts)]
        rows = []
        for mid in self._page(request, ids):  # only the page's rows are built
            row = {**self._recipient_common(campaign, mid), "activity": self._activity_of(campaign, mid, since)}
            del row["merge_fields"], row["vip"]
            rows.append({**row, "_links": []})
        return Reply(
            200,
            {"emails": rows, "campaign_id": campaign.id, "total_items": len(ids), "_links": self._links(request)},
        )

    @route("GET", r"/reports/(?P<campaign_id>[^/]+)/email-activity/(?P<subscriber_hash>[^/]+)")
    def member_activity(self, request: SandboxRequest) -> Reply:
        campaign = self._campaign(request)
        mid = request.params["subscriber_hash"].strip().lower()
        if "@" in mid:
            mid = subscriber_hash(mid)
        if mid not in campaign.recipients:
            raise Invalid("The requested resource could not be found.", 404)
        activity = self._activity_of(campaign, mid, self._time(request, "since"))
        row = {**self._recipient_common(campaign, mid), "activity": activity, "_links": []}
        del row["merge_fields"], row["vip"]
        return Reply(200, row)

    @route("GET", r"/reports/(?P<campaign_id>[^/]+)/unsubscribed")
    def unsubscribed(self, request: SandboxRequest) -> Reply:
        campaign = self._campaign(request)
        rows = [
            {**self._recipient_common(campaign, mid), "timestamp": iso(at), "reason": reason, "_links": []}
            for mid, at, reason in campaign.unsubscribes
        ]
        return Reply(
            200,
            {
                "unsubscribes": self._page(request, rows),
                "campaign_id": campaign.id,
                "total_items": len(rows),
                "_links": self._links(request),
            },
        )

    @route("GET", r"/reports/(?P<campaign_id>[^/]+)/abuse-reports")
    def abuse_reports(self, request: SandboxRequest) -> Reply:
        # no count or offset: every report in one answer
        campaign = self._campaign(request)
        rows = [
            {"id": rid, **self._recipient_common(campaign, mid), "date": iso(at), "_links": []}
            for rid, mid, at in campaign.abuse
        ]
        return Reply(200, {"abuse_reports": rows, "campaign_id": campaign.id, "total_items": len(rows), "_links": []})

    # -- routes: audience members -------------------------------------------------------------

    @route("GET", r"/lists/(?P<list_id>[^/]+)/members")
    def list_members(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        members = list(aud.members.values())
        status = request.arg("status")
        if status:
            if status not in MEMBER_STATUSES:
                raise Invalid(f"status must be one of {', '.join(MEMBER_STATUSES)}")
            members = [m for m in members if m.status == status]
        if request.arg("unsubscribed_since") and status != "unsubscribed":
            raise Invalid("Using any status other than unsubscribed with unsubscribed_since will result in an error.")
        if request.arg("since_last_campaign") and not status:
            raise Invalid("Member status is required to use since_last_campaign.")
        bounds = (
            ("since_last_changed", lambda m: m.changed, True),
            ("before_last_changed", lambda m: m.changed, False),
            ("since_timestamp_opt", lambda m: m.opted, True),
            ("before_timestamp_opt", lambda m: m.opted, False),
            ("unsubscribed_since", lambda m: m.changed, True),
        )
        for name, value, after in bounds:
            cut = self._time(request, name)
            if cut is not None:
                # "changed after the set timeframe"
                members = [m for m in members if (value(m) > cut if after else value(m) < cut)]
        page = self._page(request, members)
        return Reply(
            200,
            {
                "members": [self._member_json(aud, m) for m in page],
                "list_id": aud.id,
                "total_items": len(members),
                "_links": self._links(request),
            },
        )

    @route("POST", r"/lists/(?P<list_id>[^/]+)")
    def batch_subscribe(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        body = self._body(request)
        members = body.get("members")
        if not isinstance(members, list):
            raise Invalid(
                VALIDATION,
                errors=[{"field": "members", "message": "Required field not provided"}],
            )
        if len(members) > MEMBERS_MAX:
            raise Invalid(f"Up to {MEMBERS_MAX} members may be added or updated with each API call.")
        update = body.get("update_existing") is True
        skip_duplicates = self._flag(request, "skip_duplicate_check")
        created, updated, errors = [], [], []
        seen: set[str] = set()
        now = self.clock()
        for item in members:
            email = str(item.get("email_address") or "").strip().lower() if isinstance(item, dict) else ""
            status = item.get("status") if isinstance(item, dict) else None
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                errors.append(_member_error(email, "Please provide a valid email address.", "email_address"))
                continue
            if email in seen:
                if not skip_duplicates:
                    errors.append(_member_error(email, f"{email} appears more than once in this request."))
                continue
            seen.add(email)
            if status not in MEMBER_STATUSES or status == "archived":
                errors.append(_member_error(email, "Please provide a valid status.", "status"))
                continue
            mid = subscriber_hash(email)
            member = aud.members.get(mid)
            if member is None:
                self.add_member(email, status=status, at=now, list_id=aud.id)
                created.append(self._member_json(aud, aud.members[mid]))
            elif update:
                if member.status != status:
                    member.status, member.changed = status, now
                updated.append(self._member_json(aud, member))
            else:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member. Use PUT to insert or update list members.",
                        "error_code": "ERROR_CONTACT_EXISTS",
                        "field": "",
                        "field_message": "",
                    }
                )
        return Reply(
            200,
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
                "_links": [],
            },
        )

    @route("POST", r"/lists/(?P<list_id>[^/]+)/members/(?P<subscriber_hash>[^/]+)/tags")
    def member_tags(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        mid = request.params["subscriber_hash"].strip().lower()
        if "@" in mid:
            mid = subscriber_hash(mid)
        if mid not in aud.members:
            raise Invalid("The requested resource could not be found.", 404)
        tags = self._body(request).get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, dict) and t.get("name") for t in tags):
            raise Invalid("tags must be an array of {name, status}", errors=[{"field": "tags", "message": "invalid"}])
        for tag in tags:
            found = [s for s in aud.segments.values() if s.type == "static" and s.name == tag["name"]]
            if tag.get("status") == "active":
                # a tag set active that does not exist yet is created
                seg = min(found, key=lambda s: s.id) if found else self._new_segment(aud, str(tag["name"]))
                seg.members[mid] = None
                seg.updated = self.clock()
            elif tag.get("status") == "inactive":
                for seg in found:
                    seg.members.pop(mid, None)
            else:
                raise Invalid("status must be active or inactive", errors=[{"field": "status", "message": "invalid"}])
        return Reply(204)

    # -- routes: segments ----------------------------------------------------------------------

    def _segment_json(self, aud: Audience, seg: Segment) -> dict[str, Any]:
        # "The number of active subscribers currently included in the segment"
        active = sum(1 for mid in seg.members if mid in aud.members and aud.members[mid].status == "subscribed")
        return {
            "id": seg.id,
            "name": seg.name,
            "member_count": active,
            "type": seg.type,
            "created_at": iso(seg.created),
            "updated_at": iso(seg.updated),
            "options": {},
            "list_id": aud.id,
            "_links": [],
        }

    @route("GET", r"/lists/(?P<list_id>[^/]+)/segments")
    def list_segments(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        segments = sorted(aud.segments.values(), key=lambda s: s.id)
        kind = request.arg("type")
        if kind:
            if kind not in ("saved", "static", "fuzzy"):
                raise Invalid("type must be saved, static or fuzzy")
            segments = [s for s in segments if s.type == kind]
        for name, after, attr in (
            ("since_created_at", True, "created"),
            ("before_created_at", False, "created"),
            ("since_updated_at", True, "updated"),
            ("before_updated_at", False, "updated"),
        ):
            cut = self._time(request, name)
            if cut is not None:
                segments = [s for s in segments if (getattr(s, attr) > cut if after else getattr(s, attr) < cut)]
        page = self._page(request, segments)
        return Reply(
            200,
            {
                "segments": [self._segment_json(aud, s) for s in page],
                "list_id": aud.id,
                "total_items": len(segments),
                "_links": self._links(request),
            },
        )

    def _emails_on_list(self, aud: Audience, emails: Any, field_name: str) -> list[str]:
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise Invalid(
                VALIDATION,
                errors=[{"field": field_name, "message": "Schema describes array, string found instead"}],
            )
        # "Any emails provided that are not present on the list will be ignored"
        return [mid for e in emails if (mid := subscriber_hash(e)) in aud.members]

    @route("POST", r"/lists/(?P<list_id>[^/]+)/segments")
    def create_segment(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        body = self._body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise Invalid(
                VALIDATION,
                errors=[{"field": "name", "message": "Required field not provided"}],
            )
        has_static, has_options = "static_segment" in body, "options" in body
        if has_static == has_options:
            raise Invalid(
                'Must provide either an "options" field or a "static_segment" field'
                if not has_static
                else "static_segment cannot be provided with the options field"
            )
        if has_options:
            seg = self._new_segment(aud, name, "saved")
        else:
            members = self._emails_on_list(aud, body["static_segment"], "static_segment")
            seg = self._new_segment(aud, name, "static")
            seg.members.update(dict.fromkeys(members))
        return Reply(200, self._segment_json(aud, seg))

    @route("GET", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)")
    def get_segment(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        return Reply(200, self._segment_json(aud, self._segment(request, aud)))

    @route("PATCH", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)")
    def update_segment(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        seg = self._segment(request, aud)
        body = self._body(request)
        if isinstance(body.get("name"), str) and body["name"].strip():
            seg.name = body["name"]
        if "static_segment" in body:
            if seg.type != "static":
                raise Invalid(f"A Static Segment with an id of {seg.id} does not exist for this list.")
            seg.members = dict.fromkeys(self._emails_on_list(aud, body["static_segment"], "static_segment"))
        seg.updated = self.clock()
        return Reply(200, self._segment_json(aud, seg))

    @route("DELETE", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)")
    def delete_segment_route(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        del aud.segments[self._segment(request, aud).id]
        return Reply(204)

    @route("POST", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)")
    def batch_segment(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        seg = self._segment(request, aud)
        if seg.type != "static":
            raise Invalid(f"A Static Segment with an id of {seg.id} does not exist for this list.")
        body = self._body(request)
        for name in ("members_to_add", "members_to_remove"):
            values = body.get(name)
            if isinstance(values, list) and len(values) > MEMBERS_MAX:
                raise Invalid(
                    "Maximum allowed member items exceeded, please provide at most 500 items in members_to_add "
                    "field or members_to_remove field"
                )
        to_add = self._emails_on_list(aud, body.get("members_to_add", []), "members_to_add")
        to_remove = self._emails_on_list(aud, body.get("members_to_remove", []), "members_to_remove")
        added = [mid for mid in dict.fromkeys(to_add) if mid not in seg.members]
        for mid in added:
            seg.members[mid] = None
        removed = [mid for mid in dict.fromkeys(to_remove) if mid in seg.members]
        for mid in removed:
            del seg.members[mid]
        if added or removed:
            seg.updated = self.clock()
        return Reply(
            200,
            {
                "members_added": [self._member_json(aud, aud.members[mid]) for mid in added],
                "members_removed": [self._member_json(aud, aud.members[mid]) for mid in removed],
                "errors": [],
                "total_added": len(added),
                "total_removed": len(removed),
                "error_count": 0,
                "_links": [],
            },
        )

    @route("GET", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)/members")
    def segment_members_route(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        seg = self._segment(request, aud)
        shown = {"subscribed"}
        for flag, status in (
            ("include_cleaned", "cleaned"),
            ("include_transactional", "transactional"),
            ("include_unsubscribed", "unsubscribed"),
        ):
            if self._flag(request, flag):
                shown.add(status)
        members = [aud.members[mid] for mid in seg.members if mid in aud.members]
        members = [m for m in members if m.status in shown]
        page = self._page(request, members)
        return Reply(
            200,
            {
                "members": [self._member_json(aud, m) for m in page],
                "total_items": len(members),
                "_links": self._links(request),
            },
        )

    @route("POST", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)/members")
    def add_segment_member(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        seg = self._segment(request, aud)
        email = self._body(request).get("email_address")
        if not isinstance(email, str) or subscriber_hash(email) not in aud.members:
            raise Invalid("The requested resource could not be found.", 404)
        seg.members[subscriber_hash(email)] = None
        seg.updated = self.clock()
        return Reply(200, self._member_json(aud, aud.members[subscriber_hash(email)]))

    @route("DELETE", r"/lists/(?P<list_id>[^/]+)/segments/(?P<segment_id>[^/]+)/members/(?P<subscriber_hash>[^/]+)")
    def remove_segment_member(self, request: SandboxRequest) -> Reply:
        aud = self._audience(request)
        seg = self._segment(request, aud)
        mid = request.params["subscriber_hash"].strip().lower()
        if "@" in mid:
            mid = subscriber_hash(mid)
        if mid not in seg.members:
            raise Invalid("The requested resource could not be found.", 404)
        del seg.members[mid]
        seg.updated = self.clock()
        return Reply(204)

    # -- routes: batch operations -------------------------------------------------------------

    def _batch_json(self, job: BatchJob) -> dict[str, Any]:
        return {
            "id": job.id,
            "status": job.status,
            "total_operations": len(job.operations),
            "finished_operations": job.finished_operations,
            "errored_operations": job.errored_operations,
            "submitted_at": iso(job.submitted),
            "completed_at": iso(job.completed),
            "response_body_url": (
                f"http://{self.host}:{self.port}{ARCHIVE_PREFIX}{job.archive}.tar.gz" if job.archive else ""
            ),
            "_links": [],
        }

    @route("POST", "/batches")
    def start_batch(self, request: SandboxRequest) -> Reply:
        body = self._body(request)
        operations = body.get("operations")
        if not isinstance(operations, list):
            raise Invalid(
                VALIDATION,
                errors=[{"field": "operations", "message": "Required field not provided"}],
            )
        for i, op in enumerate(operations):
            problem = _operation_problem(op)
            if problem:
                raise Invalid(
                    VALIDATION,
                    errors=[{"field": f"operations.item:{i}", "message": problem}],
                )
        pending = sum(1 for b in self.batches.values() if b.status != "finished")
        if pending >= PENDING_BATCHES_MAX:
            raise Invalid(f"You have more than {PENDING_BATCHES_MAX} pending batches.", 429, title="Too Many Requests")
        job = BatchJob(secrets.token_hex(5), operations, self.clock())
        self.batches[job.id] = job
        return Reply(200, self._batch_json(job))

    @route("GET", "/batches")
    def list_batches(self, request: SandboxRequest) -> Reply:
        jobs = list(self.batches.values())
        return Reply(
            200,
            {
                "batches": [self._batch_json(j) for j in self._page(request, jobs)],
                "total_items": len(jobs),
                "_links": [],
            },
        )

    @route("GET", r"/batches/(?P<batch_id>[^/]+)")
    def batch_status(self, request: SandboxRequest) -> Reply:
        job = self.batches.get(request.params["batch_id"])
        if job is None:
            raise Invalid("The requested resource could not be found.", 404)
        if job.status != "finished":
            job.polls += 1
            if job.polls >= self.batch_polls:
                self._run_batch(job)
            else:
                job.status = "started"
        return Reply(200, self._batch_json(job))

    @route("DELETE", r"/batches/(?P<batch_id>[^/]+)")
    def delete_batch(self, request: SandboxRequest) -> Reply:
        if self.batches.pop(request.params["batch_id"], None) is None:
            raise Invalid("The requested resource could not be found.", 404)
        return Reply(204)

    def _run_batch(self, job: BatchJob) -> None:
        """Run every operation as its own request would be answered, and write the results archive."""
        results: list[dict[str, Any]] = []
        errored = 0
        for op in job.operations:
            params = op.get("params") or {}
            query = {str(k): [_param(v)] for k, v in params.items()}
            body = op.get("body")
            inner = SandboxRequest(
                str(op["method"]).upper(),
                f"{self.prefix}{op['path']}",
                query,
                {},
                body.encode() if isinstance(body, str) else b"",
            )
            reply = self._dispatch(inner)
            errored += reply.status >= 400
            if inner.method == "GET" and reply.status < 400 and isinstance(reply.body, dict | list):
                reply.body = _trim(reply.body, inner.arg("fields"), inner.arg("exclude_fields"))
            results.append(
                {
                    "status_code": reply.status,
                    "operation_id": op.get("operation_id"),
                    "response": "" if reply.body is None else json.dumps(reply.body),
                }
            )
        job.finished_operations = len(results)
        job.errored_operations = errored
        job.status, job.completed = "finished", self.clock()
        job.archive = f"{job.id}-{secrets.token_hex(8)}"
        self.archives[job.archive] = _tar_gz(results, self.results_per_file)

    def _archive(self, request: SandboxRequest) -> Reply:
        name = unquote(request.path[len(ARCHIVE_PREFIX) :]).removesuffix(".tar.gz")
        data = self.archives.get(name)
        if data is None or request.method != "GET":
            # a storage link that does not exist: not a Mailchimp problem document
            return Reply(404, "<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "application/xml"})
        return Reply(200, data, {"Content-Type": "application/x-gzip"})


def _member_error(email: str, message: str, field_name: str = "") -> dict[str, str]:
    return {
        "email_address": email,
        "error": message,
        "error_code": "ERROR_GENERIC",
        "field": field_name,
        "field_message": message if field_name else "",
    }


def _operation_problem(op: Any) -> str | None:
    if not isinstance(op, dict):
        return "an operation must be an object"
    if str(op.get("method", "")).upper() not in BATCH_METHODS:
        return f"method must be one of {', '.join(BATCH_METHODS)}"
    path = op.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        return "path must be a relative path, such as /lists"
    if "body" in op and not isinstance(op["body"], str):
        return "body must be a string containing the JSON body"
    if "params" in op and not isinstance(op["params"], dict):
        return "params must be an object"
    return None


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tar_gz(results: list[dict[str, Any]], per_file: int) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for n, i in enumerate(range(0, max(1, len(results)), max(1, per_file))):
            data = json.dumps(results[i : i + per_file]).encode()
            info = tarfile.TarInfo(f"{n}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _trim(body: Any, fields: str | None, exclude: str | None) -> Any:
    """``fields`` keeps, ``exclude_fields`` drops, comma-separated paths in dot notation."""
    if fields:
        paths = [p.strip().split(".") for p in fields.split(",") if p.strip()]
        body = _keep(body, paths)
    if exclude:
        for p in exclude.split(","):
            if p.strip():
                _drop(body, p.strip().split("."))
    return body


def _keep(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_keep(v, paths) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, child in value.items():
        below = [p[1:] for p in paths if p and p[0] == key]
        if not below:
            continue
        out[key] = child if any(not p for p in below) else _keep(child, [p for p in below if p])
    return out


def _drop(value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for v in value:
            _drop(v, path)
    elif isinstance(value, dict) and path and path[0] in value:
        if len(path) == 1:
            del value[path[0]]
        else:
            _drop(value[path[0]], path[1:])


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


__all__ = ["MailchimpSandbox", "subscriber_hash"]
