"""The ``brevo`` connector: transactional and campaign email events in, suppression lists out.

Every endpoint used is in Brevo's OpenAPI description (``swagger_definition_v3.yml``); the
comments name the path that decides each request's shape.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import requests

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors.base import PushBatch, RemoteList, RemoteMember
from pressure_sdk.connectors.http import HttpConnector
from pressure_sdk.errors import AuthError, ConnectorError, InvalidValueError, PayloadError
from pressure_sdk.http import ApiKeyHeader, Auth, HeaderPacer, OffsetPaginator
from pressure_sdk.http import client as http_client
from pressure_sdk.http.client import json_object
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch, normalize_email
from pressure_sdk.validate import check_email

from .settings import BrevoSettings

if TYPE_CHECKING:
    from pressure_sdk.testing.sandbox import Sandbox

log = logging.getLogger("pressure_connector_brevo")

#: spec: "Maximum difference between startDate and endDate should not be greater than 90 days"
MAX_RANGE_DAYS = 90
#: spec: addContactToListByEmails / removeContactFromListByEmails ``maxItems: 150``
LIST_BATCH = 150
#: emails per import call: far below the 8 MB the spec recommends for ``jsonBody``
IMPORT_CHUNK = 50_000
#: the address Brevo gives a contact created with an SMS number only (spec getContacts example
#: ``33058407248@mailin-sms.com``): a placeholder, not a mailbox
SMS_PLACEHOLDER_DOMAIN = "@mailin-sms.com"

#: ``GET /smtp/statistics/events`` event → ledger type; ``requests`` (a send) becomes a Touch.
#: Ignored: bounces (the sum of hard and soft, which are both read), invalid, deferred (retried
#: by Brevo, not a failure yet), blocked and error (never sent), loadedByProxy (not a person).
TX_ENGAGEMENTS = {
    "delivered": "delivered",
    "opened": "open",
    "clicks": "click",
    "hardBounces": "bounce",
    "softBounces": "bounce",
    "spam": "complaint",
    "unsubscribed": "unsubscribe",
}
#: ``getContactCampaignStats`` arrays of ``{campaignId, eventTime}`` → ledger type
CAMPAIGN_ENGAGEMENTS = {
    "delivered": "delivered",
    "hardBounces": "bounce",
    "softBounces": "bounce",
    "complaints": "complaint",
    "opened": "open",
}


def bucket_of(path: str) -> str:
    """Brevo's rate-limit bucket of a path (vendor-apis §2.4): each has its own budget and headers."""
    path = path.split("?", 1)[0]
    if path.startswith(("/smtp/email", "/smtp/blockedContacts")):
        return "smtp-send"
    if path.startswith("/smtp/"):
        return "smtp"
    if path.startswith("/contacts"):
        return "contacts"
    return "other"


def parse_time(value: Any, where: str) -> int:
    """Epoch seconds of a Brevo date-time (``2017-03-12T12:30:00Z``, offsets and milliseconds allowed)."""
    if not isinstance(value, str) or not value:
        msg = f"{where}: expected a date-time, got {value!r}"
        raise PayloadError(msg, connector="brevo")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{where}: {value!r} is not an ISO date-time"
        raise PayloadError(msg, connector="brevo") from None
    if dt.tzinfo is None:  # the spec says UTC
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def day_of(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()


def event_id(kind: str, *parts: Any) -> str:
    """A stable id from the fields that identify an event on Brevo (no per-event id exists for campaigns)."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()
    return f"brevo-{kind}-{digest[:32]}"


class BrevoConnector(HttpConnector):
    """Pulls Brevo email events into the ledger and keeps suppression lists as Brevo contact lists."""

    name: ClassVar[str] = "brevo"
    settings_model: ClassVar[type[BrevoSettings]] = BrevoSettings
    max_batch: ClassVar[int] = LIST_BATCH
    default_base_url: ClassVar[str] = "https://api.brevo.com/v3"
    credential_hint: ClassVar[str] = "a Brevo API key (SMTP & API → API keys)"

    settings: BrevoSettings

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._list_ids: dict[str, int] = {}

    # -- HttpConnector hooks ------------------------------------------------------------------

    def auth(self, credential: str) -> Auth:
        # securitySchemes.api-key: "passed in the request headers as `api-key`"
        return ApiKeyHeader("api-key", credential)

    def pacer(self) -> HeaderPacer:
        return HeaderPacer(
            remaining_header="x-sib-ratelimit-remaining",
            reset_header="x-sib-ratelimit-reset",
            bucket_of=bucket_of,
        )

    def retry_after(self, response: requests.Response) -> float | None:
        # Brevo sends no Retry-After on a 429; the reset header says when the bucket refills.
        raw = response.headers.get("x-sib-ratelimit-reset")
        try:
            return max(0.0, float(raw)) if raw is not None else None
        except ValueError:
            return None

    def error_message(self, response: requests.Response) -> str | None:
        # components.schemas.errorModel: {code, message}
        body = json_object(response)
        if body is None:
            return None
        message, code = body.get("message"), body.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({code})" if isinstance(code, str) and code else message
        return code if isinstance(code, str) and code else None

    @classmethod
    def sandbox_class(cls) -> type[Sandbox]:
        from .sandbox import BrevoSandbox

        return BrevoSandbox

    # -- check ----------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the contact lists (proves the key and its contacts permission); report each configured list."""
        try:
            lists = self._all_lists()
        except AuthError as exc:
            raise self._named(exc) from None
        said = [f"API key accepted at {self.base_url}; {len(lists)} contact lists readable"]
        for lst in self.account.lists:
            found = lists.get(lst.name)
            if found is None:
                said.append(f"list {lst.name!r}: not there yet, the first push creates it")
            else:
                said.append(f"list {lst.name!r}: id {found}")
        return "; ".join(said)

    # -- pull -----------------------------------------------------------------------------------

    def _named(self, exc: AuthError) -> AuthError:
        """The same refusal, saying which account's key it was (a workspace may hold several)."""
        if f"account {self.account.name!r}" in str(exc):  # a missing variable is already named
            return exc
        named = AuthError(
            f"account {self.account.name!r} ({self.account.credential_env}): {exc}",
            connector=self.name,
            status=exc.status,
            body=exc.body,
            request_id=exc.request_id,
        )
        return named

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Transactional events, then campaign events; each batch carries the state that covers it."""
        try:
            yield from self._pull(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        state = dict(state or {})
        tx_state = state.get("tx")
        mk_state = state.get("mk")
        for batch, tx_now in self._pull_transactional(tx_state):
            tx_state = tx_now
            batch.state = {"tx": tx_state, "mk": mk_state}
            yield batch
        if not self.settings.campaigns:
            return
        for batch, mk_now in self._pull_campaigns(mk_state):
            batch.state = {"tx": tx_state, "mk": mk_now}
            yield batch

    def _start_day(self, since: str | None, today: date) -> date:
        if since:
            return date.fromisoformat(since[:10]) - timedelta(days=self.settings.overlap_days)
        return today - timedelta(days=self.settings.backfill_days)

    def _windows(self, start: date, today: date) -> Iterator[tuple[date, date]]:
        """Inclusive day windows from ``start`` to ``today``, none wider than the spec's 90 days."""
        while start <= today:
            end = min(today, start + timedelta(days=MAX_RANGE_DAYS))
            yield start, end
            start = end + timedelta(days=1)

    def _pull_transactional(self, since: str | None) -> Iterator[tuple[Batch, str | None]]:
        """``GET /smtp/statistics/events`` (spec path), ``sort=asc`` so a page never hides older events.

        ``since`` is the date-time of the last event committed (or the end of the last window
        read). Dates filter whole days, so each run re-reads from ``overlap_days`` before it.
        """
        now = self.now()
        today = day_of(now)
        seen: set[tuple[Any, ...]] = set()
        latest = parse_time(since, "the transactional watermark") if since else None
        for start, end in self._windows(self._start_day(since, today), today):
            params = {"startDate": start.isoformat(), "endDate": end.isoformat(), "sort": "asc"}
            pages = self.client.paginate(
                "/smtp/statistics/events",
                OffsetPaginator(self.settings.events_page_size),
                items=("events",),
                params=params,
            )
            for page in pages:
                batch = Batch()
                for raw in page.items:
                    mapped = self._tx_event(raw, seen)
                    if mapped is not None:
                        (batch.touches if isinstance(mapped, Touch) else batch.engagements).append(mapped)
                    stamp = raw.get("date")
                    at = parse_time(stamp, "GET /smtp/statistics/events date") if stamp else None
                    if at is not None and (latest is None or at > latest):
                        latest = at
                # the watermark is the newest event of the pages read so far, never the window's end
                yield batch, None if latest is None else _iso(latest)
            # the whole window is read: everything up to its end (or now) is covered
            covered = int(min(now, datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC).timestamp()))
            latest = covered if latest is None else max(latest, covered)
            yield Batch(), _iso(latest)

    def _tx_event(self, raw: Any, seen: set[tuple[Any, ...]]) -> Touch | Engagement | None:
        if not isinstance(raw, dict):
            msg = f"GET /smtp/statistics/events: an event is not an object: {raw!r}"[:200]
            raise PayloadError(msg, connector="brevo")
        kind = raw.get("event")
        if kind != "requests" and kind not in TX_ENGAGEMENTS:
            return None
        email, message_id, stamp, link = raw.get("email"), raw.get("messageId"), raw.get("date"), raw.get("link")
        if not isinstance(email, str) or not email or not message_id:
            msg = "GET /smtp/statistics/events: an event lacks email or messageId, which the spec says are always there"
            raise PayloadError(msg, connector="brevo")
        key = (message_id, kind, stamp, link)
        if key in seen:  # the same event on two pages of one run (day overlap)
            return None
        seen.add(key)
        at = parse_time(stamp, "GET /smtp/statistics/events date")
        eid = event_id("tx", *key)
        if kind == "requests":
            template = raw.get("templateId")
            campaign = f"template-{template}" if template else (raw.get("tag") or None)
            return Touch(eid, normalize_email(email), "email", "", "transactional", at, campaign=campaign)
        return Engagement(eid, normalize_email(email), TX_ENGAGEMENTS[kind], at, "email")

    def _pull_campaigns(self, mk: dict[str, Any] | None) -> Iterator[tuple[Batch, dict[str, Any]]]:
        """Approach A of vendor-apis §2.2: ``GET /contacts`` pages, one ``campaignStats`` per contact.

        A pass covers the day window ``[since, until]`` for every contact; its state keeps the
        window and the offset of contacts done, so a killed run resumes the same pass.
        """
        mk = dict(mk or {})
        today = day_of(self.now())
        if "until" in mk:  # a pass in progress
            start, until, offset = date.fromisoformat(mk["since"]), date.fromisoformat(mk["until"]), int(mk["offset"])
        else:
            start, offset = self._start_day(mk.get("done"), today), 0
            until = min(today, start + timedelta(days=MAX_RANGE_DAYS))
        while True:
            for batch, done_to in self._campaign_pass(start, until, offset):
                yield batch, {"since": start.isoformat(), "until": until.isoformat(), "offset": done_to}
            done = {"done": until.isoformat()}
            yield Batch(), done
            if until >= today:
                return
            # a backlog longer than 90 days: the next pass overlaps this one like a new run would
            start, offset = self._start_day(until.isoformat(), today), 0
            until = min(today, start + timedelta(days=MAX_RANGE_DAYS))

    def _contact_pages(
        self, params: dict[str, Any], offset: int
    ) -> Iterator[tuple[list[tuple[dict[str, Any], str]], int]]:
        """``GET /contacts`` (getContacts) in creation order from ``offset``, ``contacts_page_size`` a page.

        Yields each page's contacts that have an email (with that email normalized) and the
        offset read up to. ``sort=asc`` is creation order, so contacts created meanwhile land
        after the offset; paging stops on a short page or once ``count`` contacts are read.
        """
        pages = self.client.paginate(
            "/contacts",
            OffsetPaginator(self.settings.contacts_page_size, total_path=("count",)),
            items=("contacts",),
            params={**params, "sort": "asc", "offset": offset},
        )
        for page in pages:
            rows = [(c, email) for c in page.items if (email := _email_of(c)) is not None and c.get("id") is not None]
            yield rows, int(page.params.get("offset", 0)) + len(page.items)

    def _campaign_pass(self, start: date, until: date, offset: int) -> Iterator[tuple[Batch, int]]:
        params: dict[str, Any] = {}
        if self.settings.campaign_list_ids:
            params["listIds"] = list(self.settings.campaign_list_ids)
        window = {"startDate": start.isoformat(), "endDate": until.isoformat()}
        for rows, done_to in self._contact_pages(params, offset):
            batch = Batch()
            for contact, email in rows:  # a contact without email (SMS only) has no email campaign stats
                # GET /contacts/{identifier}/campaignStats: the id avoids URL-encoding the email
                response = self.client.request(
                    "GET", f"/contacts/{quote(str(contact['id']))}/campaignStats", params=window, accept=(404,)
                )
                if response.status_code == 404:  # deleted since the page was read
                    continue
                self._campaign_events(email, self.client.decode(response) or {}, batch)
            yield batch, done_to

    def _campaign_events(self, email: str, stats: dict[str, Any], batch: Batch) -> None:
        where = "GET /contacts/{identifier}/campaignStats"
        for item in stats.get("messagesSent") or []:
            cid, stamp = item.get("campaignId"), item.get("eventTime")
            at = parse_time(stamp, f"{where} messagesSent.eventTime")
            batch.touches.append(
                Touch(event_id("mk", email, cid, "sent", stamp), email, "email", "", "marketing", at, campaign=str(cid))
            )
        for key, kind in CAMPAIGN_ENGAGEMENTS.items():
            for item in stats.get(key) or []:
                cid, stamp = item.get("campaignId"), item.get("eventTime")
                at = parse_time(stamp, f"{where} {key}.eventTime")
                batch.engagements.append(Engagement(event_id("mk", email, cid, key, stamp), email, kind, at, "email"))
        for item in stats.get("clicked") or []:
            cid = item.get("campaignId")
            for link in item.get("links") or []:
                stamp, url = link.get("eventTime"), link.get("url")
                at = parse_time(stamp, f"{where} clicked.links.eventTime")
                batch.engagements.append(
                    Engagement(event_id("mk", email, cid, "clicked", stamp, url), email, "click", at, "email")
                )
        unsubs = stats.get("unsubscriptions") or {}
        # an admin unsubscription carries no campaign but still means "do not mail": kept as unsubscribe
        for key in ("userUnsubscription", "adminUnsubscription"):
            for item in unsubs.get(key) or []:
                cid, stamp = item.get("campaignId"), item.get("eventTime")
                at = parse_time(stamp, f"{where} unsubscriptions.{key}.eventTime")
                batch.engagements.append(
                    Engagement(event_id("mk", email, cid, key, stamp), email, "unsubscribe", at, "email")
                )

    # -- audience -------------------------------------------------------------------------------

    def pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Every contact with an email, from ``GET /contacts``; with a watermark, those modified since.

        A pass keeps, in each batch's state, the watermark it reads from (``since``), the time
        it started and the offset of contacts done, so a killed run resumes the same pass.
        Once the pass is read to the end, the watermark becomes the time it started: a contact
        modified during the pass is read again by the next one. ``modifiedSince`` goes back
        ``audience_overlap_minutes`` before the watermark, for clock skew and late changes.
        """
        try:
            yield from self._pull_audience(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        state = dict(state or {})
        if "started" in state:  # a pass in progress
            since, started, offset = state.get("since"), str(state["started"]), int(state["offset"])
        else:
            since, started, offset = state.get("watermark"), _iso(self.now()), 0
        params: dict[str, Any] = {}
        if since:
            cut = parse_time(since, "the audience watermark") - 60 * self.settings.audience_overlap_minutes
            params["modifiedSince"] = _brevo_time(cut)
        for rows, done_to in self._contact_pages(params, offset):
            contacts = [self._audience_row(contact, email) for contact, email in rows]
            yield Batch(contacts=contacts, state={"since": since, "started": started, "offset": done_to})
        yield Batch(state={"watermark": started})

    @staticmethod
    def _audience_row(contact: dict[str, Any], email: str) -> ContactUpdate:
        # getContactDetails: emailBlacklisted is the contact's opt-out of email campaigns;
        # modifiedAt is the only date Brevo gives for it
        at = parse_time(contact.get("modifiedAt"), "GET /contacts modifiedAt")
        status = "unsubscribed" if contact.get("emailBlacklisted") is True else "subscribed"
        return ContactUpdate(email, external_id=str(contact["id"]), status=status, status_at=at, channel="email")

    # -- push -----------------------------------------------------------------------------------

    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Add and remove by email, 150 per call; import contacts Brevo does not know; yield what it confirmed.

        Only list membership changes: no call here sets ``emailBlacklisted`` or a subscription.
        """
        try:
            yield from self._push(lst, adds, removes)
        except AuthError as exc:
            raise self._named(exc) from None

    def _push(self, lst: ListConfig, adds: Sequence[Member], removes: Sequence[Member]) -> Iterator[PushBatch]:
        list_id = self._list_id(lst.name)
        unknown: list[Member] = []
        for chunk in _chunks(adds, LIST_BATCH):
            batch, missing = self._add(list_id, chunk)
            unknown += missing
            yield batch
        for chunk in _chunks(removes, LIST_BATCH):
            yield self._remove(list_id, chunk)
        if unknown:
            yield from self._import(list_id, unknown)

    def _post_list(self, list_id: int, action: str, chunk: Sequence[Member]) -> tuple[set[str], set[str]]:
        # POST /contacts/lists/{listId}/contacts/{add,remove}: {"emails": [...]} → 201 postContactInfo
        body = {"emails": [m.email for m in chunk]}
        payload = self.client.json("POST", f"/contacts/lists/{list_id}/contacts/{action}", json=body, idempotent=True)
        contacts = payload.get("contacts") if isinstance(payload, dict) else None
        if not isinstance(contacts, dict):
            msg = f"POST /contacts/lists/{list_id}/contacts/{action}: answer has no 'contacts' object"
            raise PayloadError(msg, connector=self.name)
        success = {normalize_email(str(e)) for e in contacts.get("success") or []}
        failure = {normalize_email(str(e)) for e in contacts.get("failure") or []}
        return success, failure

    def _add(self, list_id: int, chunk: Sequence[Member]) -> tuple[PushBatch, list[Member]]:
        success, failure = self._post_list(list_id, "add", chunk)
        batch = PushBatch()
        missing: list[Member] = []
        for m in chunk:
            email = normalize_email(m.email)
            if email in success:
                batch.added.append(m.contact_id)
            else:
                # "already in list and/or doesn't exist": one lookup per failure tells which
                where = self._membership(email, list_id)
                if where is None:
                    missing.append(m)
                else:
                    contact_id, in_list = where
                    batch.external_ids[m.contact_id] = contact_id
                    (batch.added if in_list else batch.missing).append(m.contact_id)
        return batch, missing

    def _membership(self, email: str, list_id: int) -> tuple[str, bool] | None:
        """``GET /contacts/{identifier}``: None if Brevo does not know the email, else (id, in the list)."""
        response = self.client.request("GET", f"/contacts/{quote(email, safe='')}", accept=(404,))
        if response.status_code == 404:
            return None
        body = self.client.decode(response) or {}
        return str(body.get("id", "")), list_id in (body.get("listIds") or [])

    def _remove(self, list_id: int, chunk: Sequence[Member]) -> PushBatch:
        success, failure = self._post_list(list_id, "remove", chunk)
        # a failure on remove is "already out of list and/or doesn't exist": either way not a member
        done = success | failure
        return PushBatch(removed=[m.contact_id for m in chunk if normalize_email(m.email) in done])

    def _import(self, list_id: int, unknown: list[Member]) -> Iterator[PushBatch]:
        """Create unknown contacts straight into the list with ``POST /contacts/import``, then confirm.

        ``updateExistingContacts: false`` leaves existing contacts alone; ``emailBlacklist`` and
        ``smsBlacklist`` are sent false explicitly so no import ever blocklists anyone.
        """
        for chunk in _chunks(unknown, IMPORT_CHUNK):
            started = datetime.fromtimestamp(self.now() - 600, UTC)  # ten minutes of clock skew allowed
            body = {
                "jsonBody": [{"email": m.email} for m in chunk],
                "listIds": [list_id],
                "updateExistingContacts": False,
                "emptyContactsAttributes": False,
                "emailBlacklist": False,
                "smsBlacklist": False,
                "disableNotification": True,
            }
            # not idempotent by the client's reading, but a repeat is harmless (creates nothing twice)
            payload = self.client.json("POST", "/contacts/import", json=body, idempotent=True)
            process = payload.get("processId") if isinstance(payload, dict) else None
            if process is None:
                raise PayloadError("POST /contacts/import: answer has no processId", connector=self.name)
            if not self._wait_process(int(process)):
                log.warning("%s: import %s not finished; %d contacts retried next run", self.name, process, len(chunk))
                yield PushBatch(missing=[m.contact_id for m in chunk])
                continue
            yield self._confirm_import(list_id, chunk, started)

    def _wait_process(self, process: int) -> bool:
        """Poll ``GET /processes/{processId}`` sparingly (the 100/hour bucket) until ``completed``."""
        for attempt in range(self.settings.import_max_polls):
            # the first poll waits too: an import is never done at once
            http_client.sleep(self.settings.import_poll_interval * (1 if attempt == 0 else 2))
            status = (self.client.json("GET", f"/processes/{process}") or {}).get("status")
            if status == "completed":
                return True
        return False

    def _confirm_import(self, list_id: int, chunk: Sequence[Member], since: datetime) -> PushBatch:
        """Read the list's members modified since the import started: those are the contacts it created."""
        want = {normalize_email(m.email): m for m in chunk}
        found: dict[str, str] = {}
        for member in self._members(list_id, {"modifiedSince": _brevo_time(since.timestamp())}):
            if member.email in want:
                found[member.email] = member.external_id or ""
        batch = PushBatch()
        for email, m in want.items():
            if email in found:
                batch.added.append(m.contact_id)
                if found[email]:
                    batch.external_ids[m.contact_id] = found[email]
            else:  # Brevo refused it (an invalid address, say): the next run tries again
                batch.missing.append(m.contact_id)
        return batch

    # -- lists ----------------------------------------------------------------------------------

    def _lists(self) -> Iterator[dict[str, Any]]:
        """Every contact list, oldest first (``GET /contacts/lists``, 50 a page, the spec's maximum)."""
        pages = self.client.paginate(
            "/contacts/lists",
            OffsetPaginator(self.settings.lists_page_size, total_path=("count",)),
            items=("lists",),
            params={"sort": "asc"},
        )
        for page in pages:
            for item in page.items:
                if isinstance(item, dict) and "name" in item and "id" in item:
                    yield item

    def _all_lists(self) -> dict[str, int]:
        """Every contact list's id by name (the oldest of two lists with one name)."""
        found: dict[str, int] = {}
        for item in self._lists():
            found.setdefault(str(item["name"]), int(item["id"]))
        return found

    def _find_list(self, name: str) -> dict[str, Any] | None:
        """The list called ``name`` as ``GET /contacts/lists`` gives it (getList), or None; never creates it.

        The lookup stops at the first match: the oldest list of that name, as ``_all_lists`` picks.
        """
        found = next((item for item in self._lists() if str(item["name"]) == name), None)
        if found is None:
            self._list_ids.pop(name, None)  # gone (deleted by hand): the next push creates it again
        else:
            self._list_ids[name] = int(found["id"])
        return found

    def _members(self, list_id: int, params: dict[str, Any]) -> Iterator[RemoteMember]:
        """``GET /contacts/lists/{listId}/contacts`` (getContactsFromList), oldest first, 500 a page."""
        pages = self.client.paginate(
            f"/contacts/lists/{list_id}/contacts",
            OffsetPaginator(self.settings.members_page_size, total_path=("count",)),
            items=("contacts",),
            params={**params, "sort": "asc"},
        )
        for page in pages:
            for item in page.items:
                if isinstance(item, dict):
                    cid = item.get("id")
                    yield RemoteMember(_email_of(item), None if cid is None else str(cid))

    def _list_id(self, name: str) -> int:
        """The id of the list called ``name``; created (with its folder) if missing."""
        if name in self._list_ids:
            return self._list_ids[name]
        listed = self._find_list(name)
        found = None if listed is None else int(listed["id"])
        if found is None:
            # POST /contacts/lists: createList requires name and folderId → 201 createModel {id}
            body = {"name": name, "folderId": self._folder_id()}
            payload = self.client.json("POST", "/contacts/lists", json=body, idempotent=False)
            if not isinstance(payload, dict) or "id" not in payload:
                raise PayloadError("POST /contacts/lists: answer has no id", connector=self.name)
            found = int(payload["id"])
            log.info("%s: created contact list %r (id %d)", self.name, name, found)
        self._list_ids[name] = found
        return found

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The list as Brevo holds it now, found by name and never created (DESIGN §6.5).

        ``size`` is the list's ``uniqueSubscribers``: by the spec's examples, the members that
        are not blocklisted (``totalSubscribers``) plus those that are (``totalBlacklisted``),
        which is what ``GET /contacts/lists/{listId}/contacts`` lists. ``full`` reads every
        member too. A list found missing is created again by the next push.
        """
        try:
            found = self._find_list(lst.name)
            if found is None:
                return RemoteList(exists=False)
            size = found.get("uniqueSubscribers")
            remote = RemoteList(exists=True, size=size if isinstance(size, int) else None)
            if full:
                remote.members = list(self._members(int(found["id"]), {}))
            return remote
        except AuthError as exc:
            raise self._named(exc) from None

    def _folder_id(self) -> int:
        if self.settings.folder_id is not None:
            return self.settings.folder_id
        name = self.settings.folder_name
        pages = self.client.paginate(
            "/contacts/folders",
            OffsetPaginator(self.settings.lists_page_size, total_path=("count",)),
            items=("folders",),
            params={"sort": "asc"},
        )
        for page in pages:
            for item in page.items:
                if isinstance(item, dict) and item.get("name") == name and "id" in item:
                    return int(item["id"])
        # POST /contacts/folders: createUpdateFolder {name} → 201 createModel {id}
        payload = self.client.json("POST", "/contacts/folders", json={"name": name}, idempotent=False)
        if not isinstance(payload, dict) or "id" not in payload:
            msg = (
                "POST /contacts/folders: answer has no id; set settings.folder_id to an existing folder "
                "(Contacts → Lists → folders) instead"
            )
            raise ConnectorError(msg, connector=self.name)
        return int(payload["id"])


def _iso(epoch: float) -> str:
    """A watermark: the UTC date-time of ``epoch``, to the second."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _brevo_time(epoch: float) -> str:
    """A ``modifiedSince`` value in the spec's format, ``YYYY-MM-DDTHH:mm:ss.SSSZ`` (UTC)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _email_of(contact: Any) -> str | None:
    """A contact's normalized email; None for a contact without one (SMS only, or Brevo's SMS placeholder).

    An address the ledger would refuse is left out too, with a warning: one odd contact must
    not fail every pull of the account.
    """
    if not isinstance(contact, dict):
        return None
    raw = contact.get("email")
    if not isinstance(raw, str) or not raw.strip() or normalize_email(raw).endswith(SMS_PLACEHOLDER_DOMAIN):
        return None
    try:
        return check_email(raw)
    except InvalidValueError:
        log.warning("brevo: contact %s has an email the ledger cannot take; left out", contact.get("id"))
        return None


def _chunks(items: Sequence[Member], size: int) -> Iterable[Sequence[Member]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
