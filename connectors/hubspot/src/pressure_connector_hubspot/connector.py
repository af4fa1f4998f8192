"""The ``hubspot`` connector: marketing-email events in, a MANUAL contact list per suppression list out.

Pull reads the Email Events API and the subscriptions timeline, declared as streams
(:mod:`.streams`), in time windows of the incremental cursor; the watermark is the end of the
last window fully read, so a killed backfill restarts at that window. Windows start a day
wide and double after a window read in one page, up to ``max_slice``: an empty backfill costs
a few requests, not two a day. The audience pull reads every contact once
(``GET /crm/v3/objects/contacts``), then only the contacts modified since (``POST
/crm/v3/objects/contacts/search`` on ``lastmodifieddate``). Push keeps a MANUAL list of
contacts in Lists v3 through a sink (:mod:`.lists`); list inspection reads the list and,
when asked, its whole membership, to repair drift. It never writes subscription or consent
state on the platform.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors import HttpConnector, IncrementalCursor, RemoteList, RemoteMember, pull_windows
from pressure_sdk.errors import ConnectorError, InvalidValueError, PayloadError, PermanentAPIError
from pressure_sdk.http import Auth, BearerToken, CursorPaginator, HeaderPacer
from pressure_sdk.http import client as http_client
from pressure_sdk.http.client import json_object
from pressure_sdk.http.pagination import dig
from pressure_sdk.models import Batch, ContactUpdate
from pressure_sdk.validate import check_email

from .lists import WRITABLE, HubSpotLists
from .settings import HubSpotSettings
from .streams import EVENTS_PATH, EmailEvents, SubscriptionTimeline

log = logging.getLogger("pressure_connector_hubspot")

CONTACTS_PATH = "/crm/v3/objects/contacts"
SEARCH_PATH = "/crm/v3/objects/contacts/search"
#: contact properties the audience pull reads
AUDIENCE_PROPERTIES = ("email", "hs_email_optout", "lastmodifieddate")
#: members per page of a list's memberships (HubSpot's maximum)
MEMBERSHIPS_PAGE = 250
CORRELATION_HEADER = "X-HubSpot-Correlation-Id"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class HubSpotConnector(HttpConnector):
    """Marketing-email events of a HubSpot portal, and MANUAL contact lists as suppression lists."""

    name: ClassVar[str] = "hubspot"
    settings_model: ClassVar[type[HubSpotSettings]] = HubSpotSettings
    default_base_url: ClassVar[str] = "https://api.hubapi.com"
    credential_hint: ClassVar[str] = "a HubSpot private-app access token"
    sink_class = HubSpotLists

    settings: HubSpotSettings

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        # the contract kit and the sync read the batch size from the instance
        self.max_batch = self.settings.membership_batch_size  # type: ignore[misc]
        #: monotonic clock pacing the search requests (tests replace it)
        self.monotonic = time.monotonic
        self._next_search = 0.0

    # -- HTTP hooks ----------------------------------------------------------------------

    def auth(self, credential: str) -> Auth:
        return BearerToken(credential)

    def pacer(self) -> HeaderPacer | None:
        # HubSpot sends the window's length, not its reset time: wait a whole window when low
        return HeaderPacer(
            remaining_header="X-HubSpot-RateLimit-Remaining",
            reset_header="X-HubSpot-RateLimit-Interval-Milliseconds",
            reset_unit=0.001,
        )

    def error_message(self, response: requests.Response) -> str | None:
        """``message`` of HubSpot's error body, with its ``category`` and, if no header has it, ``correlationId``."""
        body = json_object(response)
        if body is None:
            return None
        message = body.get("message")
        text = message if isinstance(message, str) and message else "no message"
        category = body.get("category") or body.get("errorType")
        if category:
            text += f" [{category}]"
        policy = body.get("policyName")
        if policy:
            text += f" (policy {policy})"
        if category == "MISSING_SCOPES":
            text += "; grant the private app the scopes listed in the HubSpot connector's README"
        correlation = body.get("correlationId")
        if correlation and not response.headers.get(CORRELATION_HEADER):
            text += f" (correlationId {correlation})"
        return text

    # -- check ---------------------------------------------------------------------------

    # -- check ---------------------------------------------------------------------------

    def check(self) -> str:
        """Read one event (needs ``content``) and look up each configured list (``crm.lists.read``)."""
        self.client.json("GET", EVENTS_PATH, params={"limit": 1})
        said = ["token ok", "events readable"]
        for lst in self.account.lists:
            found = self.sink.find(lst.name)
            if found is None:
                said.append(f"list {lst.name!r} will be created on first push")
            else:
                said.append(f"list {lst.name!r} found (id {found.list_id}, {found.processing_type})")
        return "; ".join(said)

    # -- pull ----------------------------------------------------------------------------

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Events and subscription changes in ``[watermark - overlap, now - lag]``, one window at a time.

        Pages of a window are yielded without a state (HubSpot returns newest first, so no
        page's end is a safe watermark); the window's last batch carries ``{"until": ms}``:
        every event created before ``until`` has been yielded.
        """
        _until(state)
        s = self.settings
        cursor = IncrementalCursor(
            backfill=s.backfill_days * 86400,
            overlap=s.overlap,
            lag=s.lag,
            step=s.slice,
            max_step=max(s.slice, s.max_slice),
            fmt="epoch_ms",
        )
        streams = [EmailEvents(self)] + ([SubscriptionTimeline(self)] if s.subscriptions_timeline else [])
        yield from pull_windows(cursor, streams, state, now=self.now())

    # -- audience ------------------------------------------------------------------------

    def pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Every contact of the portal, then only those modified since (DESIGN §6.4).

        Without a state, every contact is read in id order with ``GET /crm/v3/objects/contacts``
        (the general rate budget, no cap on the number of results). Each page's batch carries
        ``{"started": ms, "after": cursor}``, from which a killed read resumes; the last one
        carries ``{"since": started}``: every change made after the read began is picked up by
        the next pull. With ``{"since": ms}``, the contacts modified at or after
        ``since - audience_overlap`` are searched, oldest change first, and each batch carries
        ``{"since": <last modification date read>}``.
        """
        since, started, after = _audience_state(state)
        if since is None:
            yield from self._read_all_contacts(started, after)
        else:
            yield from self._search_modified(since)

    def _read_all_contacts(self, started: int | None, after: str | None) -> Iterator[Batch]:
        begun = started if started is not None else int(self.now() * 1000)
        params: dict[str, Any] = {
            "limit": self.settings.audience_page_size,
            "properties": ",".join(AUDIENCE_PROPERTIES),
        }
        if after:
            params["after"] = after
        pages = self.client.paginate(
            CONTACTS_PATH, CursorPaginator(("paging", "next", "after"), "after"), items=("results",), params=params
        )
        read = False
        try:
            for page in pages:
                read = True
                rows = [row for _, _, row in (self._contact(r, f"GET {CONTACTS_PATH}") for r in page.items) if row]
                nxt = dig(page.payload, ("paging", "next", "after"))
                covered: dict[str, Any] = {"started": begun, "after": str(nxt)} if nxt else {"since": begun}
                yield Batch(contacts=rows, state=covered)
        except PermanentAPIError as exc:
            if not after or read or exc.status != 400:
                raise
            # the cursor a killed read left is refused: read everything again (rows are upserts)
            log.warning("%s: HubSpot refused the saved contacts cursor; reading every contact again", self.account.name)
            yield from self._read_all_contacts(None, None)

    def _search_modified(self, since: int) -> Iterator[Batch]:
        """Contacts with ``lastmodifieddate >= since - overlap``, oldest change first.

        After each page the next request starts a new query at the last modification date
        read (keyset paging): no query comes near HubSpot's 10,000-results cap, and a contact
        modified during the pull (it moves to the end of the order) cannot shift the others
        past a page boundary, as offset paging would. The contacts of that date already
        yielded come back first and are skipped. Only a page whose contacts all share one
        date (a bulk edit) is followed by HubSpot's ``after`` cursor in the same query, since
        restarting would read that page again.
        """
        s = self.settings
        query_from = since - s.audience_overlap * 1000
        after: str | None = None
        top = query_from  # the latest modification date read
        at_top: set[str] = set()  # ids yielded with that date
        asked: set[tuple[int, str | None]] = set()
        while True:
            if (query_from, after) in asked:  # each request moves the date or the cursor forward
                msg = f"POST {SEARCH_PATH}: HubSpot returned the page from {query_from} after {after!r} twice"
                raise PayloadError(msg, connector=self.name)
            asked.add((query_from, after))
            body: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(query_from)}]}
                ],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": list(AUDIENCE_PROPERTIES),
                "limit": s.audience_page_size,
            }
            if after is not None:
                body["after"] = after
            answer = self._search(body)
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list):
                raise PayloadError(f"POST {SEARCH_PATH}: the answer has no 'results' list", connector=self.name)
            rows: list[ContactUpdate] = []
            dates: list[int] = []
            for r in results:
                cid, modified, row = self._contact(r, f"POST {SEARCH_PATH}")
                if modified is None or modified < (dates[-1] if dates else query_from):
                    msg = (
                        f"POST {SEARCH_PATH}: contact {cid} is not in ascending lastmodifieddate order "
                        f"at or after {query_from}"
                    )
                    raise PayloadError(msg, connector=self.name)
                dates.append(modified)
                if modified == top and cid in at_top:
                    continue  # yielded already: the query restarted at its date
                if modified > top:
                    top, at_top = modified, set()
                at_top.add(cid)
                if row is not None:
                    rows.append(row)
            nxt = dig(answer, ("paging", "next", "after"))
            done = not dates or not nxt
            if not done and dates[0] == dates[-1]:
                after = str(nxt)  # one date on the whole page: go on through this query
            elif not done:
                query_from, after = dates[-1], None
            yield Batch(contacts=rows, state={"since": max(since, top)})
            if done:
                return

    def _search(self, body: dict[str, Any]) -> Any:
        """One contacts search, spaced ``1 / search_rate`` seconds from the previous one."""
        now = self.monotonic()
        wait = self._next_search - now
        if wait > 0:
            http_client.sleep(wait)
        self._next_search = max(now, self._next_search) + 1.0 / self.settings.search_rate
        # a read: repeating it is harmless even though it is a POST
        return self.client.json("POST", SEARCH_PATH, json=body, idempotent=True)

    def _contact(self, r: Any, where: str) -> tuple[str, int | None, ContactUpdate | None]:
        """A contact's id, last modification (ms) and audience row (None without a usable email)."""
        if not isinstance(r, Mapping) or r.get("id") in (None, ""):
            raise PayloadError(f"{where}: a contact has no 'id'", connector=self.name)
        cid = str(r["id"])
        props = r.get("properties")
        if not isinstance(props, Mapping):
            props = {}
        raw = props.get("lastmodifieddate")
        modified = _epoch_ms(raw if raw not in (None, "") else r.get("updatedAt"), f"{where}: contact {cid}")
        email = props.get("email")
        if not isinstance(email, str) or not email.strip():
            return cid, modified, None
        try:
            email = check_email(email)
        except InvalidValueError:
            # HubSpot keeps addresses the ledger would refuse; one of them must not fail the whole pull
            log.warning("%s: HubSpot contact %s has an email the ledger refuses; left out", self.account.name, cid)
            return cid, modified, None
        optout = str(props.get("hs_email_optout") or "").strip().lower() == "true"
        row = ContactUpdate(
            email=email,
            external_id=cid,
            status="unsubscribed" if optout else "subscribed",
            status_at=modified // 1000 if modified is not None else None,
            channel="email",
        )
        return cid, modified, row

    # -- push ----------------------------------------------------------------------------

    # -- lists ---------------------------------------------------------------------------

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The list as HubSpot holds it now, found by name as the push finds it, never created.

        Without ``full``: one lookup, with the ``size`` HubSpot gives with the list. With
        ``full``: also every member id, read from ``GET …/{listId}/memberships`` (250 per
        page), and ``size`` is the number of members read. A list gone (deleted by hand) is
        ``exists=False`` and forgotten, so the next push creates it again.
        """
        found = self.sink.find(lst.name)
        ids = self._read_members(found.list_id) if found is not None and full else None
        if found is None or (full and ids is None):  # gone (perhaps between the lookup and the read)
            self.sink.remember(lst.name, None)
            return RemoteList(exists=False)
        if found.processing_type in WRITABLE:
            self.sink.remember(lst.name, found)  # the push writes to the list as it is now
        if ids is None:
            return RemoteList(exists=True, size=found.size)
        return RemoteList(exists=True, size=len(ids), members=[RemoteMember(external_id=rid) for rid in ids])

    def _read_members(self, list_id: str) -> list[str] | None:
        """Record ids of every member (HubSpot orders them by id), or None if the list is gone."""
        path = f"{self.settings.lists_path_prefix}/{quote(list_id, safe='')}/memberships"
        paginator = CursorPaginator(("paging", "next", "after"), "after")
        ids: dict[str, None] = {}
        try:
            for page in self.client.paginate(path, paginator, items=("results",), params={"limit": MEMBERSHIPS_PAGE}):
                for item in page.items:
                    rid = item.get("recordId") if isinstance(item, Mapping) else None
                    if rid in (None, ""):
                        raise PayloadError(f"GET {path}: a membership has no recordId", connector=self.name)
                    ids[str(rid)] = None
        except PermanentAPIError as exc:
            if exc.status == 404:
                return None
            raise
        return list(ids)

    @classmethod
    def sandbox_class(cls) -> type[Any] | None:
        from .testing import HubSpotSandbox

        return HubSpotSandbox


def _until(state: Mapping[str, Any] | None) -> int | None:
    if not state:
        return None
    value = state.get("until")
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"HubSpot watermark {dict(state)!r} has no integer 'until'; reset the account's watermark"
        raise ConnectorError(msg, connector=HubSpotConnector.name)
    return value


def _audience_state(state: Mapping[str, Any] | None) -> tuple[int | None, int | None, str | None]:
    """``(since, started, after)`` of an audience watermark: all None for a first pull."""
    if not state:
        return None, None, None

    def integer(key: str) -> int | None:
        value = state.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    since, started, after = integer("since"), integer("started"), state.get("after")
    if since is not None:
        return since, None, None
    if started is not None and isinstance(after, str) and after:
        return None, started, after
    msg = (
        f"HubSpot audience watermark {dict(state)!r} has neither an integer 'since' nor 'started' "
        f"with 'after'; reset the account's audience watermark"
    )
    raise ConnectorError(msg, connector=HubSpotConnector.name)


def _epoch_ms(value: Any, where: str) -> int | None:
    """A HubSpot date (ISO 8601 as the v3 objects give it, or epoch milliseconds) in ms; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return (parsed - _EPOCH) // timedelta(milliseconds=1)
    raise PayloadError(f"{where} has a lastmodifieddate that is not a date: {value!r}", connector=HubSpotConnector.name)
