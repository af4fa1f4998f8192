"""Declarative streams: an endpoint is declared as data, the kit reads it.

A connector declares each endpoint it pulls as an :class:`HttpStream` subclass (its path,
where the records are in a page, their primary key, its paginator and how a record becomes
ledger rows), and how far back it reads as an :class:`IncrementalCursor` (backfill, overlap,
lag, window width, watermark format). :func:`pull_windows` then does what every connector
used to write by hand: windows from the watermark minus the overlap to now minus the lag,
pages, boundary dedupe, the watermark that only moves once a window is read whole, and,
for streams whose pages come in a stable order, a resume point after each page so a killed
run restarts at the page, not at the window. A stream with a ``parent`` is read once per
record of the parent (a contact's statistics, a campaign's activity).

A pull endpoint is about ten lines::

    class EmailEvents(HttpStream):
        path = "/email/public/v1/events"
        records_path = ("events",)
        primary_key = ("created", "id")

        def paginator(self):
            return CursorPaginator(("offset",), "offset", more_path=("hasMore",))
        def params(self, window, parent):
            return {"startTimestamp": window.start_ms, "endTimestamp": window.end_ms - 1, "limit": 1000}
        def parse(self, record, parent):
            return map_event(record)

and its connector's ``pull`` is ``pull_windows(cursor, [EmailEvents(self)], state, now=self.now())``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..errors import ConnectorError, PayloadError
from ..http.pagination import NextLinkPaginator, Paginator, dig
from ..models import Batch, ContactUpdate, Engagement, Touch

if TYPE_CHECKING:
    from ..http import HttpClient
    from .http import HttpConnector

log = logging.getLogger("pressure_sdk.streams")

#: what a record becomes: ledger rows
Row = Touch | Engagement | ContactUpdate
#: how a watermark is stored in the pull state
WatermarkFormat = Literal["epoch", "epoch_ms", "iso", "date"]

DAY = 86400.0


def stable_id(kind: str, *parts: Any, prefix: str = "") -> str:
    """A stable event id from the fields that identify an event (for platforms without event ids).

    The same parts give the same id in every run, so a re-read changes nothing; an email
    among the parts never shows in the id (it is hashed).
    """
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{kind}-{digest[:32]}"


def utc_day(epoch: float) -> date:
    """The UTC date of an instant."""
    return datetime.fromtimestamp(epoch, UTC).date()


def day_start(day: date) -> float:
    """Epoch seconds of a UTC day's first instant."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def last_day_before(end: float) -> date:
    """The UTC day of the last instant before ``end`` (the day before, when ``end`` is a midnight)."""
    day = utc_day(end)
    return day - timedelta(days=1) if day_start(day) == end else day


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open time range ``[start, end)`` (epoch seconds) one read of a stream covers."""

    start: float
    end: float

    @property
    def start_ms(self) -> int:
        """The window's start in epoch milliseconds."""
        return round(self.start * 1000)

    @property
    def end_ms(self) -> int:
        """The window's end in epoch milliseconds."""
        return round(self.end * 1000)

    @property
    def first_day(self) -> date:
        """UTC day of the window's start (for APIs that filter on whole days, both bounds inclusive)."""
        return utc_day(self.start)

    @property
    def last_day(self) -> date:
        """UTC day of the window's last instant (its end excluded)."""
        return last_day_before(self.end)

    def iso(self, at: float, *, millis: bool = False) -> str:
        """``at`` as a UTC ISO 8601 date-time (``…Z``), to the second or the millisecond."""
        moment = datetime.fromtimestamp(int(at), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z" if millis else "%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class CursorState:
    """A cursor's state as read from the pull state.

    ``watermark`` is None before the first window is read whole. ``window``, ``stream`` and
    ``resume`` are set while a window is in progress: the window, the index of the stream
    being read and the parameters of its next page (None: from its first page).
    """

    watermark: float | None = None
    window: Window | None = None
    stream: int = 0
    resume: dict[str, Any] | None = None


@dataclass(frozen=True)
class IncrementalCursor:
    """How an incremental pull moves through time; owns window, overlap, lag and the watermark.

    Each run reads ``[watermark - overlap, now - lag)`` (``[now - backfill, now - lag)`` on the
    first run), in windows of ``step`` seconds (one window when None). The watermark moves
    to a window's end only once every stream has read that window whole, and never back.
    With ``max_step``, a window that every stream read in one page is followed by one twice
    as wide (up to ``max_step``): an empty backfill costs a few requests, not one per step.
    ``align`` rounds every window's start down to a multiple of it (86400: UTC days, for
    APIs that filter on whole days).
    """

    #: seconds read when there is no watermark yet
    backfill: float
    #: seconds re-read before the watermark, for events that arrive late
    overlap: float = 0.0
    #: seconds before now left for the next run (tracking data arrives late)
    lag: float = 0.0
    #: width of a window in seconds; None reads everything in one window
    step: float | None = None
    #: the widest a window grows after windows read in one page; None never widens
    max_step: float | None = None
    #: windows start on a multiple of this many seconds (0: anywhere)
    align: float = 0.0
    #: how the watermark is stored: epoch seconds, epoch ms, ISO date-time, or a UTC date
    fmt: WatermarkFormat = "epoch"
    #: store a watermark at rest as the bare value instead of ``{"until": value}``
    compact: bool = False

    def __post_init__(self) -> None:
        if self.backfill <= 0 or self.overlap < 0 or self.lag < 0 or self.align < 0:
            msg = "IncrementalCursor: backfill must be positive; overlap, lag and align not negative"
            raise ValueError(msg)
        if self.step is not None and self.step <= 0:
            raise ValueError("IncrementalCursor: step must be positive")
        if self.max_step is not None and (self.step is None or self.max_step < self.step):
            raise ValueError("IncrementalCursor: max_step needs a step and may not be smaller than it")

    # -- the watermark's format -------------------------------------------------------

    def encode(self, at: float) -> Any:
        """The watermark ``at`` as stored. A ``date`` watermark is the day of its last covered instant."""
        if self.fmt == "epoch_ms":
            return round(at * 1000)
        if self.fmt == "iso":
            return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.fmt == "date":
            return last_day_before(at).isoformat()
        return int(at)

    def decode(self, value: Any) -> float:
        """Epoch seconds of a stored watermark; ConnectorError if it is not one.

        A ``date`` watermark decodes to the start of its day: a day read in part is read again.
        """
        try:
            if self.fmt in ("epoch", "epoch_ms"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise TypeError
                return value / 1000 if self.fmt == "epoch_ms" else float(value)
            if not isinstance(value, str):
                raise TypeError
            if self.fmt == "date":
                return day_start(date.fromisoformat(value[:10]))
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        except (TypeError, ValueError):
            msg = f"watermark {value!r} is not a {self.fmt} value; reset the account's watermark"
            raise ConnectorError(msg) from None

    # -- state --------------------------------------------------------------------------

    def load(self, state: Any) -> CursorState:
        """Read a cursor's state: None, ``{"until": …}`` (with a window in progress) or a bare watermark."""
        if state is None or state == {}:
            return CursorState()
        if not isinstance(state, Mapping):
            return CursorState(self.decode(state))
        until = state.get("until")
        watermark = None if until is None else self.decode(until)
        window = state.get("window")
        if window is None:
            return CursorState(watermark)
        if (
            not isinstance(window, list | tuple)
            or len(window) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in window)
        ):
            msg = f"cursor state {dict(state)!r} has a window that is not [start, end]; reset the account's watermark"
            raise ConnectorError(msg)
        resume = state.get("resume")
        stream = state.get("stream", 0)
        return CursorState(
            watermark,
            Window(float(window[0]), float(window[1])),
            stream if isinstance(stream, int) else 0,
            dict(resume) if isinstance(resume, Mapping) else None,
        )

    def dump(self, state: CursorState) -> Any:
        """The state to store: the watermark at rest, or the window in progress and where to resume it."""
        if state.window is None:
            if state.watermark is None:
                return None
            return self.encode(state.watermark) if self.compact else {"until": self.encode(state.watermark)}
        out: dict[str, Any] = {
            "until": None if state.watermark is None else self.encode(state.watermark),
            "window": [_instant(state.window.start), _instant(state.window.end)],
            "stream": state.stream,
        }
        if state.resume is not None:
            out["resume"] = state.resume
        return out

    # -- windows ------------------------------------------------------------------------

    def start(self, watermark: float | None, now: float) -> float:
        """Where a run starts reading: the watermark minus the overlap, or now minus the backfill."""
        at = now - self.backfill if watermark is None else watermark - self.overlap
        if self.align:
            at = math.floor(at / self.align) * self.align
        return at

    def end(self, now: float) -> float:
        """Where a run stops reading: now minus the lag."""
        return now - self.lag

    def advance(self, watermark: float | None, window: Window) -> float:
        """The watermark once ``window`` is read whole: its end, never earlier than before."""
        return window.end if watermark is None else max(watermark, window.end)


def _instant(at: float) -> int | float:
    """An instant for the stored state: whole seconds as an int, else to the millisecond."""
    return int(at) if float(at).is_integer() else round(at, 3)


class HttpStream:
    """One endpoint of a platform, declared.

    Set :attr:`path`, :attr:`records_path` and :attr:`primary_key`; override
    :meth:`paginator`, :meth:`params` and :meth:`parse`. ``{field}`` in :attr:`path` is
    filled from the parent record when the stream has a :attr:`parent` (one read per parent
    record). The stream is built with its connector and reads through its HTTP client.
    """

    #: path under the connector's base URL; ``{field}`` placeholders are filled from the parent record
    path: ClassVar[str]
    #: where the records are in a page (``("events",)``); empty: the whole page is one record
    records_path: ClassVar[tuple[str, ...]] = ()
    #: fields of a record that identify it on the platform: a record seen twice in one window is read once
    primary_key: ClassVar[tuple[str, ...]] = ()
    #: HTTP method of the read (a search may be a POST)
    method: ClassVar[str] = "GET"
    #: whether a page's position can be saved and resumed: true when pages come in a stable
    #: order (creation order, ascending), false when they do not (newest first, short-lived tokens)
    resumable: ClassVar[bool] = False
    #: the stream whose records this one is read for (one read per parent record)
    parent: ClassVar[type[HttpStream] | None] = None
    #: statuses that mean "this record is gone" for a child read (skipped, e.g. 404)
    gone_statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, connector: HttpConnector) -> None:
        self.connector = connector

    @property
    def client(self) -> HttpClient:
        """The connector's HTTP client."""
        return self.connector.client

    @property
    def settings(self) -> Any:
        """The connector's validated settings."""
        return self.connector.settings

    @property
    def name(self) -> str:
        """The stream's name in logs and progress: its class name."""
        return type(self).__name__

    # -- hooks -----------------------------------------------------------------------------

    def paginator(self) -> Paginator | None:
        """A fresh paginator for one read; None: the endpoint answers in one page."""
        return None

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        """Query parameters of the read's first page (the window's bounds, the page size…)."""
        return {}

    def body(self, window: Window | None, parent: Mapping[str, Any] | None) -> Any:
        """JSON body of the read (for a POST search); None sends none."""
        return None

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Row | Iterable[Row] | None:
        """The ledger rows of one record (one, several, or None to skip it)."""
        return None

    @property
    def is_resumable(self) -> bool:
        """Whether a read can be resumed at a saved page: a child stream resumes at its parent's page."""
        return self.parent.resumable if self.parent is not None else self.resumable

    def parent_stream(self) -> HttpStream | None:
        """The parent stream read for this one (built from :attr:`parent`; override to configure it per run)."""
        return None if self.parent is None else self.parent(self.connector)

    def select(self, record: Mapping[str, Any]) -> bool:
        """Whether a record of this stream, read as a parent, needs its children read (default: all)."""
        return True

    # -- reading ---------------------------------------------------------------------------

    def key(self, record: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The record's primary key; None when the stream declares none. PayloadError if a field is missing."""
        if not self.primary_key:
            return None
        values = tuple(record.get(f) for f in self.primary_key)
        if any(v is None or v == "" for v in values):
            msg = f"{self.method} {self.path}: a record lacks its key {', '.join(self.primary_key)}"
            raise PayloadError(msg, connector=self.connector.name)
        return values

    def url(self, parent: Mapping[str, Any] | None) -> str:
        """The path with the parent's fields filled in (URL-encoded)."""
        if parent is None:
            return self.path
        from urllib.parse import quote

        fields = {k: quote(str(v), safe="") for k, v in parent.items() if isinstance(v, str | int)}
        try:
            return self.path.format(**fields)
        except KeyError as exc:
            msg = f"{self.path}: the parent record has no {exc.args[0]!r}"
            raise PayloadError(msg, connector=self.connector.name) from None

    def pages(
        self,
        window: Window | None = None,
        parent: Mapping[str, Any] | None = None,
        resume: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[list[Mapping[str, Any]], dict[str, Any] | None]]:
        """Each page's records and the parameters of the page after it (None after the last).

        ``resume`` replaces the first page's parameters (a saved position of a resumable stream).
        """
        path = self.url(parent)
        params = dict(resume) if resume is not None else self.params(window, parent)
        body = self.body(window, parent)
        paginator = self.paginator()
        if paginator is None:
            yield self._records(self._one(path, params, body), path), None
            return
        current: dict[str, Any] | None = paginator.first_params(params)
        url = path
        while current is not None:
            # every stream is a read: repeating it is harmless even when it is a POST (a search)
            payload = self.client.json(self.method, url, params=current, json=body, idempotent=True)
            records = self._records(payload, path)
            nxt = paginator.update(payload, records, current)
            if nxt is not None and isinstance(paginator, NextLinkPaginator) and paginator.next_url:
                url, nxt = paginator.next_url, {}
            yield records, nxt
            current = nxt

    def _one(self, path: str, params: dict[str, Any], body: Any) -> Any:
        if self.gone_statuses:
            response = self.client.request(
                self.method, path, params=params, json=body, accept=self.gone_statuses, idempotent=True
            )
            if response.status_code in self.gone_statuses:
                return None
            return self.client.decode(response)
        return self.client.json(self.method, path, params=params, json=body, idempotent=True)

    def _records(self, payload: Any, path: str) -> list[Mapping[str, Any]]:
        if payload is None:
            return []
        found = dig(payload, self.records_path) if self.records_path else payload
        if found is None or found == {}:
            return []
        if not self.records_path:
            found = [found]
        if not isinstance(found, list):
            msg = f"{self.method} {path}: expected a list at {'.'.join(self.records_path)}"
            raise PayloadError(msg, connector=self.connector.name)
        return self._check(found, path)

    def _check(self, items: list[Any], path: str) -> list[Mapping[str, Any]]:
        for item in items:
            if not isinstance(item, Mapping):
                msg = f"{self.method} {path}: a record is not an object: {item!r}"[:200]
                raise PayloadError(msg, connector=self.connector.name)
        return items

    def read(
        self,
        window: Window | None = None,
        resume: Mapping[str, Any] | None = None,
        *,
        seen: RowDedupe | None = None,
    ) -> Iterator[tuple[Batch, dict[str, Any] | None, int]]:
        """Each page as a batch of rows, the parameters to resume after it, and the pages read so far.

        A child stream (with a :attr:`parent`) reads its parent's pages and, for each
        selected parent record, its own; it resumes at the parent's page.
        """
        seen = seen if seen is not None else RowDedupe()
        keys: set[tuple[Any, ...]] = set()
        if self.parent is None:
            for n, (records, nxt) in enumerate(self.pages(window, None, resume), start=1):
                yield self._batch(records, None, keys, seen), nxt, n
            return
        parent = self.parent_stream()
        assert parent is not None
        for n, (records, nxt) in enumerate(parent.pages(window, None, resume), start=1):
            batch = Batch()
            for record in records:
                if not parent.select(record):
                    continue
                for children, _ in self.pages(window, record):
                    _merge(batch, self._batch(children, record, keys, seen))
            yield batch, nxt, n

    def _batch(
        self,
        records: Sequence[Mapping[str, Any]],
        parent: Mapping[str, Any] | None,
        keys: set[tuple[Any, ...]],
        seen: RowDedupe,
    ) -> Batch:
        batch = Batch()
        for record in records:
            key = self.key(record)
            if key is not None:
                if key in keys:  # the page boundary shifted while the platform took new records
                    continue
                keys.add(key)
            parsed = self.parse(record, parent)
            rows: Iterable[Row] = () if parsed is None else (parsed,) if isinstance(parsed, Row) else parsed
            for row in rows:
                if seen.first(row):
                    _add(batch, row)
        return batch


class RowDedupe:
    """Event ids already yielded in a window, across its streams (a touch seen as two events, say)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def first(self, row: Row) -> bool:
        """True the first time a touch or engagement id is seen; contacts always pass."""
        if isinstance(row, ContactUpdate):
            return True
        if row.event_id in self._ids:
            return False
        self._ids.add(row.event_id)
        return True


def _add(batch: Batch, row: Row) -> None:
    if isinstance(row, Touch):
        batch.touches.append(row)
    elif isinstance(row, Engagement):
        batch.engagements.append(row)
    else:
        batch.contacts.append(row)


def _merge(into: Batch, other: Batch) -> None:
    into.touches += other.touches
    into.engagements += other.engagements
    into.contacts += other.contacts


def _empty(batch: Batch) -> bool:
    return not (batch.touches or batch.engagements or batch.contacts)


def pull_windows(
    cursor: IncrementalCursor,
    streams: Sequence[HttpStream],
    state: Any,
    *,
    now: float,
) -> Iterator[Batch]:
    """Read ``streams`` window by window from the cursor's state; yield batches carrying the state.

    Per window, each stream is read to its end in turn, and a batch whose ``state`` is the
    new watermark closes it. Pages of a :attr:`~HttpStream.resumable` stream carry the
    window and the position after them (a killed run resumes there); other pages carry no
    state. Batches without rows are yielded only when they carry a state. The batch's
    ``state`` is the cursor's state (see :meth:`IncrementalCursor.dump`): a connector with
    several cursors nests it under a key of its own.
    """
    loaded = cursor.load(state)
    watermark = loaded.watermark
    end = cursor.end(now)
    step = cursor.step
    if loaded.window is not None:
        pending: Window | None = loaded.window
        a = loaded.window.start
    else:
        pending = None
        a = cursor.start(watermark, now)
    while a < end or pending is not None:
        if pending is not None:
            window, pending, resumed = pending, None, True
            first, resume = loaded.stream, loaded.resume
        else:
            window = Window(a, end if step is None else min(a + step, end))
            first, resume, resumed = 0, None, False
        one_page = True
        seen = RowDedupe()
        for index in range(first, len(streams)):
            stream = streams[index]
            pages = 0
            for batch, nxt, n in stream.read(window, resume if index == first else None, seen=seen):
                pages = n
                if stream.is_resumable:
                    # after the stream's last page, the state points at the next stream (or past the last)
                    at = CursorState(watermark, window, index, nxt) if nxt is not None else None
                    batch.state = cursor.dump(at or CursorState(watermark, window, index + 1, None))
                if not _empty(batch) or batch.state is not None:
                    yield batch
            one_page = one_page and pages <= 1
        watermark = cursor.advance(watermark, window)
        yield Batch(state=cursor.dump(CursorState(watermark)))
        if cursor.max_step is not None and step is not None:
            step = min(step * 2, cursor.max_step) if one_page else cursor.step
        # after a window resumed from an earlier run, go on as a new run would, overlap included:
        # what happened since that run in the pages read before it stopped is read again
        a = cursor.start(watermark, now) if resumed else window.end


__all__ = [
    "DAY",
    "CursorState",
    "HttpStream",
    "IncrementalCursor",
    "Row",
    "RowDedupe",
    "Window",
    "day_start",
    "last_day_before",
    "pull_windows",
    "stable_id",
    "utc_day",
]
