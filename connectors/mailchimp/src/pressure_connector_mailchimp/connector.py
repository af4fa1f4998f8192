"""The ``mailchimp`` connector: campaign reports in, suppression lists out as static segments.

Every request follows ``vendor-apis-mailchimp-sfmc.md`` §1 (Mailchimp's own SDKs): the
endpoints are declared in :mod:`.streams` and :mod:`.sink`, the batch reads in :mod:`.batches`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import requests

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors import HttpConnector, IncrementalCursor, Window, pull_windows
from pressure_sdk.connectors.base import PushBatch, RemoteList, RemoteMember
from pressure_sdk.errors import AuthError, ConnectorError
from pressure_sdk.http import Auth, OffsetPaginator
from pressure_sdk.http.client import json_object
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Batch, Engagement, Touch

from .auth import BasicApiKey, datacenter
from .batches import Read, Reader
from .settings import MailchimpSettings
from .sink import SEGMENT_BATCH, StaticSegments, member_email
from .streams import ACTIVE_REPORTS, NEW_REPORTS, Campaigns, Members, mc_time, parse_time

if TYPE_CHECKING:
    from pressure_sdk.testing.sandbox import Sandbox

log = logging.getLogger("pressure_connector_mailchimp")

DAY = 86400
#: the audience's first pull reads every member (no ``since_last_changed``)
AUDIENCE_BACKFILL = 100 * 365 * DAY
#: the segment members' filters that include every status a suppression segment may hold
INCLUDE_ALL = {"include_cleaned": "true", "include_transactional": "true", "include_unsubscribed": "true"}


class MailchimpConnector(HttpConnector):
    """Pulls an audience's campaign reports and members; keeps suppression lists as static segments."""

    name: ClassVar[str] = "mailchimp"
    settings_model: ClassVar[type[MailchimpSettings]] = MailchimpSettings
    max_batch: ClassVar[int] = SEGMENT_BATCH
    #: the data centre comes from the key's suffix (``…-us6``)
    default_base_url: ClassVar[str] = "https://{dc}.api.mailchimp.com/3.0"
    credential_hint: ClassVar[str] = "a Mailchimp API key (it ends in its data centre, such as -us6)"
    sink_class: ClassVar[type[StaticSegments]] = StaticSegments

    settings: MailchimpSettings

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.reader = Reader(self)

    # -- HttpConnector hooks ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.account.base_url:
            return self.account.base_url.rstrip("/")
        return self.default_base_url.format(dc=datacenter(self.credential()))

    def auth(self, credential: str) -> Auth:
        datacenter(credential)  # a key without its suffix is refused before any request
        return BasicApiKey(credential)

    def error_message(self, response: requests.Response) -> str | None:
        # a problem document: {type, title, status, detail, instance[, errors[{field, message}]]}
        body = json_object(response)
        if body is None:
            return None
        said = ": ".join(x for x in (body.get("title"), body.get("detail")) if isinstance(x, str) and x)
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors[:5] if isinstance(e, dict))
            said = f"{said} ({fields})" if said else fields
        return said or None

    @classmethod
    def sandbox_class(cls) -> type[Sandbox]:
        from .testing import MailchimpSandbox

        return MailchimpSandbox

    def __repr__(self) -> str:
        where = self.account.base_url or self.default_base_url
        return f"{type(self).__name__}(account={self.account.name!r}, base_url={where!r})"

    def _named(self, exc: AuthError) -> AuthError:
        """The same refusal, saying which account's key it was (a workspace may hold several)."""
        if f"account {self.account.name!r}" in str(exc):
            return exc
        return AuthError(
            f"account {self.account.name!r} ({self.account.credential_env}): {exc}",
            connector=self.name,
            status=exc.status,
            body=exc.body,
            request_id=exc.request_id,
        )

    def paginator(self) -> OffsetPaginator:
        """Every collection: ``count`` (at most 1000) and ``offset``, with ``total_items`` in the answer."""
        return OffsetPaginator(
            self.settings.page_size, limit_param="count", offset_param="offset", total_path=("total_items",)
        )

    @property
    def segments(self) -> StaticSegments:
        sink = self.sink
        assert isinstance(sink, StaticSegments)
        return sink

    # -- check --------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the audience's static segments: proves the key, its data centre and the list id."""
        path = f"/lists/{quote(self.settings.list_id, safe='')}/segments"
        try:
            response = self.client.request(
                "GET", path, params={"type": "static", "count": self.settings.page_size, "offset": 0}, accept=(404,)
            )
            if response.status_code == 404:
                msg = (
                    f"account {self.account.name!r}: Mailchimp has no audience {self.settings.list_id!r}; "
                    "check settings.list_id (the audience id, shown in the audience's settings)"
                )
                raise ConnectorError(msg, connector=self.name)
            body = self.client.decode(response) or {}
            listed = [s for s in body.get("segments") or [] if isinstance(s, dict)]
            total = body.get("total_items", len(listed))
            if isinstance(total, int) and total > len(listed) and len(listed) == self.settings.page_size:
                pages = self.client.paginate(
                    path, self.paginator(), items=("segments",), params={"type": "static", "offset": len(listed)}
                )
                listed += [s for page in pages for s in page.items if isinstance(s, dict)]
            said = [f"API key accepted at {self.base_url}; audience {self.settings.list_id}: {total} static segments"]
            for lst in self.account.lists:
                ids = [s["id"] for s in listed if s.get("name") == lst.name and isinstance(s.get("id"), int)]
                if ids:
                    said.append(f"list {lst.name!r}: static segment {min(ids)}")
                else:
                    said.append(f"list {lst.name!r}: not there yet, the first push creates it")
            return "; ".join(said)
        except AuthError as exc:
            raise self._named(exc) from None

    # -- pull: campaigns and their reports ------------------------------------------------------

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Touches and engagements from the reports of the audience's sent campaigns.

        A campaign seen for the first time is read whole: ``sent-to`` (the sends),
        ``email-activity`` (opens, clicks, bounces), ``unsubscribed`` and ``abuse-reports``.
        Later, while it was sent less than ``activity_days`` ago, each run reads its
        ``email-activity`` since the watermark (less ``overlap_minutes``) and its unsubscribes
        and abuse reports again (those two take no time filter). Each batch's state names the
        campaigns read whole so far; the watermark moves once every read of the run is done.
        """
        try:
            yield from self._pull(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        st = dict(state or {})
        now = self.now()
        overlap = 60 * self.settings.overlap_minutes
        done: dict[str, str] = {str(k): str(v) for k, v in (st.get("done") or {}).items()}
        listed = parse_time(st["listed"], "the campaign watermark") if st.get("listed") else None
        activity = parse_time(st["activity"], "the activity watermark") if st.get("activity") else None
        if listed is None:
            list_since = now - self.settings.backfill_days * DAY
        else:
            # campaigns sent since the last listing (however long ago), and those still active
            list_since = min(now - self.settings.activity_days * DAY, listed - overlap)
        active_from = now - self.settings.activity_days * DAY
        since = None if activity is None else mc_time(activity - overlap)

        reads: list[Read] = []
        outstanding: dict[str, int] = {}
        new: set[str] = set()
        for page, _ in Campaigns(self).pages(Window(list_since, now)):
            for record in page:
                cid, stamp = record.get("id"), record.get("send_time")
                if not isinstance(cid, str) or not stamp or cid in outstanding:
                    continue  # still sending (no send time yet), or listed twice as the listing shifted
                sent = parse_time(stamp, "GET /campaigns send_time")
                if cid not in done:
                    reports, parent = NEW_REPORTS, {"id": cid, "send_time": sent, "since": None}
                    new.add(cid)
                elif sent >= active_from:
                    reports, parent = ACTIVE_REPORTS, {"id": cid, "send_time": sent, "since": since}
                else:
                    continue
                outstanding[cid] = len(reports)
                reads += [Read(report(self), parent) for report in reports]

        def current() -> dict[str, Any]:
            return {"listed": st.get("listed"), "activity": st.get("activity"), "done": dict(done)}

        seen: set[str] = set()
        while reads:
            more: list[Read] = []
            for read, payload in self.reader.read(reads):
                records = read.records(payload)
                nxt = read.next_pages(records, payload, self.settings.page_size)
                more += nxt
                cid = read.campaign["id"]
                outstanding[cid] += len(nxt) - 1
                if outstanding[cid] == 0 and cid in new:
                    done[cid] = mc_time(read.campaign["send_time"])
                batch = Batch(state=current())
                for record in records:
                    for row in read.stream.parse(record, read.campaign):
                        if row.event_id not in seen:
                            seen.add(row.event_id)
                            _add(batch, row)
                yield batch
            reads = more
        # every read is done: the watermarks move to the run's start; campaigns that can no
        # longer be listed are forgotten (one listed again would only be read again)
        keep_from = now - self.settings.activity_days * DAY - overlap - DAY
        kept = {cid: at for cid, at in done.items() if parse_time(at, "the campaign state") >= keep_from}
        yield Batch(state={"listed": mc_time(now), "activity": mc_time(now), "done": kept})

    # -- audience ---------------------------------------------------------------------------------

    def pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Every member of the audience; with a watermark, those changed since (``since_last_changed``).

        The kit's cursor reads one window from the watermark less ``audience_overlap_minutes``
        to now; each page's batch carries where to resume, the last one the new watermark.
        """
        cursor = IncrementalCursor(
            backfill=AUDIENCE_BACKFILL, overlap=60 * self.settings.audience_overlap_minutes, fmt="iso"
        )
        try:
            yield from pull_windows(cursor, [Members(self)], state, now=self.now())
        except AuthError as exc:
            raise self._named(exc) from None

    # -- push and list inspection ------------------------------------------------------------------

    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Adds and removes together, 500 of each per segment call (see :class:`~.sink.StaticSegments`)."""
        try:
            yield from self.segments.push(lst, adds, removes)
        except AuthError as exc:
            raise self._named(exc) from None

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The segment as Mailchimp holds it now, found by name and never created (DESIGN §6.5).

        Its size is the ``total_items`` of its members with every status included: a
        segment's ``member_count`` counts active subscribers only.
        """
        try:
            segment = self.segments.find(lst.name)
            self.segments.remember(lst.name, segment)
            if segment is None:
                return RemoteList(exists=False)
            path = f"/lists/{quote(self.settings.list_id, safe='')}/segments/{segment}/members"
            if full:
                members = [
                    RemoteMember(email=email)
                    for page in self.client.paginate(path, self.paginator(), items=("members",), params=INCLUDE_ALL)
                    for item in page.items
                    if (email := member_email(item)) is not None
                ]
                return RemoteList(exists=True, size=len(members), members=members)
            payload = self.client.json("GET", path, params={**INCLUDE_ALL, "count": 1, "offset": 0})
            total = payload.get("total_items") if isinstance(payload, dict) else None
            return RemoteList(exists=True, size=total if isinstance(total, int) else None)
        except AuthError as exc:
            raise self._named(exc) from None

    def close(self) -> None:
        self.reader.close()
        super().close()


def _add(batch: Batch, row: Touch | Engagement) -> None:
    if isinstance(row, Touch):
        batch.touches.append(row)
    else:
        batch.engagements.append(row)
