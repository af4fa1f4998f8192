"""Declarative streams: windows, watermark, overlap, lag, widening, resume, boundary dedupe, child streams."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
import responses
from kit_helpers import BASE, make, query
from responses import registries

from pressure_sdk.connectors import CursorState, HttpStream, IncrementalCursor, Window, pull_windows, stable_id
from pressure_sdk.errors import ConnectorError, PayloadError
from pressure_sdk.http import CursorPaginator, OffsetPaginator
from pressure_sdk.models import Engagement, Touch

DAY = 86400
NOW = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(registry=registries.OrderedRegistry, assert_all_requests_are_fired=True) as m:
        yield m


class Events(HttpStream):
    """Events between ``since`` and ``until`` (epoch seconds), 2 a page, newest first: not resumable."""

    path = "/events"
    records_path = ("events",)
    primary_key = ("id",)

    def paginator(self) -> CursorPaginator:
        return CursorPaginator(("next",), "cursor")

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {"since": int(window.start), "until": int(window.end), "limit": 2}

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Touch | Engagement | None:
        if record.get("type") == "skip":
            return None
        if record["type"] == "sent":
            return Touch(f"t{record['msg']}", record["email"], "email", "", "marketing", record["at"])
        return Engagement(f"e{record['id']}", record["email"], record["type"], record["at"])


class Ordered(Events):
    """The same events in creation order, by offset: resumable at any page."""

    path = "/ordered"
    resumable = True

    def paginator(self) -> OffsetPaginator:  # type: ignore[override]
        return OffsetPaginator(2)

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {"from": window.first_day.isoformat(), "to": window.last_day.isoformat()}


def ev(i: int, kind: str = "open", at: int = NOW - 3600, msg: int | None = None) -> dict[str, Any]:
    return {"id": i, "type": kind, "email": f"p{i}@example.com", "at": at, "msg": msg if msg is not None else i}


# -- the cursor alone ---------------------------------------------------------------------------------


def test_window_bounds_in_ms_and_inclusive_days() -> None:
    w = Window(day(3, 5), day(3, 8))
    assert (w.start_ms, w.end_ms) == (int(day(3, 5)) * 1000, int(day(3, 8)) * 1000)
    assert (w.first_day, w.last_day) == (date(2026, 3, 5), date(2026, 3, 7)), "the end is excluded"
    assert Window(day(3, 5), day(3, 8) + 1).last_day == date(2026, 3, 8)
    assert w.iso(day(3, 5)) == "2026-03-05T00:00:00Z" and w.iso(day(3, 5), millis=True) == "2026-03-05T00:00:00.000Z"


def day(month: int, d: int) -> float:
    return datetime(2026, month, d, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("fmt", "at", "stored"),
    [
        ("epoch", NOW, NOW),
        ("epoch_ms", NOW, NOW * 1000),
        ("iso", NOW, "2026-03-10T12:00:00Z"),
        ("date", NOW, "2026-03-10"),
        ("date", day(3, 10), "2026-03-09"),  # a day boundary: the last day covered is the one before
    ],
)
def test_watermark_formats_round_trip(fmt: Any, at: float, stored: Any) -> None:
    cursor = IncrementalCursor(backfill=DAY, fmt=fmt)
    assert cursor.encode(at) == stored
    back = cursor.decode(stored)
    # a date decodes to the start of its day: a day read in part is read again, never skipped
    assert back == (day(3, 10) if stored == "2026-03-10" else day(3, 9) if stored == "2026-03-09" else at)


def test_watermark_of_the_wrong_format_is_refused() -> None:
    with pytest.raises(ConnectorError, match="reset the account's watermark"):
        IncrementalCursor(backfill=DAY, fmt="epoch_ms").load({"until": "yesterday"})
    with pytest.raises(ConnectorError, match="window"):
        IncrementalCursor(backfill=DAY).load({"until": 5, "window": "all"})


def test_state_at_rest_and_in_progress_round_trips() -> None:
    cursor = IncrementalCursor(backfill=DAY, fmt="iso")
    at_rest = CursorState(float(NOW))
    assert cursor.dump(at_rest) == {"until": "2026-03-10T12:00:00Z"}
    assert cursor.load(cursor.dump(at_rest)) == at_rest
    busy = CursorState(float(NOW), Window(float(NOW), NOW + 60.0), 1, {"offset": 4})
    assert cursor.load(cursor.dump(busy)) == busy
    compact = IncrementalCursor(backfill=DAY, fmt="iso", compact=True)
    assert compact.dump(at_rest) == "2026-03-10T12:00:00Z"
    assert compact.load("2026-03-10T12:00:00Z") == at_rest, "a bare watermark is read as one"
    assert cursor.load(None) == CursorState() and cursor.dump(CursorState()) is None


def test_start_end_overlap_lag_and_alignment() -> None:
    cursor = IncrementalCursor(backfill=3 * DAY, overlap=DAY, lag=600, align=DAY)
    assert cursor.start(None, NOW) == day(3, 7), "backfill, rounded down to the day"
    assert cursor.start(NOW, NOW) == day(3, 9), "the watermark minus the overlap, rounded down"
    assert cursor.end(NOW) == NOW - 600
    assert cursor.advance(float(NOW), Window(0, NOW - 5.0)) == NOW, "a watermark never goes back"


@pytest.mark.parametrize(
    "kw",
    [{"backfill": 0}, {"backfill": 1, "overlap": -1}, {"backfill": 1, "step": 0}, {"backfill": 1, "max_step": 5}],
)
def test_cursor_options_are_checked(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="IncrementalCursor"):
        IncrementalCursor(**kw)


# -- pulls over HTTP ----------------------------------------------------------------------------------


def test_windows_from_the_watermark_minus_overlap_to_now_minus_lag(
    env: None, mock: responses.RequestsMock, tmp_path: Any
) -> None:
    c = make()
    cursor = IncrementalCursor(backfill=DAY, overlap=3600, lag=600, step=DAY / 2)
    mock.get(f"{BASE}/events", json={"events": [ev(1), ev(2)], "next": "c2"})
    mock.get(f"{BASE}/events", json={"events": [ev(3, "sent")]})
    mock.get(f"{BASE}/events", json={"events": []})
    batches = list(pull_windows(cursor, [Events(c)], {"until": NOW - DAY // 2}, now=NOW))
    windows = [(int(q["since"]), int(q["until"])) for q in map(query, mock.calls) if "cursor" not in q]
    assert windows == [(NOW - DAY // 2 - 3600, NOW - 3600), (NOW - 3600, NOW - 600)]
    assert query(mock.calls[1])["cursor"] == "c2"
    # pages of a stream that is not resumable carry no state; each window's end does
    assert [b.state for b in batches] == [None, None, {"until": NOW - 3600}, {"until": NOW - 600}]
    assert [e.event_id for b in batches for e in b.engagements] == ["e1", "e2"]
    assert [t.event_id for b in batches for t in b.touches] == ["t3"]


def test_a_record_on_two_pages_and_a_row_from_two_streams_are_kept_once(
    env: None, mock: responses.RequestsMock
) -> None:
    c = make()

    class Echo(Events):
        path = "/echo"

    # the page boundary shifted: record 2 shows twice; record 9's touch ("msg" 1) repeats record 1's
    mock.get(f"{BASE}/events", json={"events": [ev(1, "sent"), ev(2)], "next": "c2"})
    mock.get(f"{BASE}/events", json={"events": [ev(2), ev(9, "sent", msg=1), ev(4, "skip")]})
    mock.get(f"{BASE}/echo", json={"events": [ev(2), ev(5)]})
    batches = list(pull_windows(IncrementalCursor(backfill=DAY), [Events(c), Echo(c)], None, now=NOW))
    assert [t.event_id for b in batches for t in b.touches] == ["t1"]
    assert [e.event_id for b in batches for e in b.engagements] == ["e2", "e5"]


def test_record_without_its_key_or_not_an_object_is_a_payload_error(env: None, mock: responses.RequestsMock) -> None:
    c = make()
    mock.get(f"{BASE}/events", json={"events": [{"type": "open"}]})
    with pytest.raises(PayloadError, match="key id"):
        list(pull_windows(IncrementalCursor(backfill=DAY), [Events(c)], None, now=NOW))
    mock.get(f"{BASE}/events", json={"events": ["x"]})
    with pytest.raises(PayloadError, match="not an object"):
        list(pull_windows(IncrementalCursor(backfill=DAY), [Events(c)], None, now=NOW))


def test_windows_read_in_one_page_widen_and_a_full_one_narrows_again(env: None, mock: responses.RequestsMock) -> None:
    c = make()
    cursor = IncrementalCursor(backfill=25 * DAY, step=DAY, max_step=8 * DAY, align=DAY)
    for _ in range(4):  # 1 + 2 + 4 + 8 days, each empty
        mock.get(f"{BASE}/events", json={"events": []})
    mock.get(f"{BASE}/events", json={"events": [ev(1), ev(2)], "next": "more"})  # 8 days, two pages
    mock.get(f"{BASE}/events", json={"events": [ev(3)]})
    mock.get(f"{BASE}/events", json={"events": []})  # back to one day
    mock.get(f"{BASE}/events", json={"events": []})  # then two, cut at now - lag
    states = [b.state for b in pull_windows(cursor, [Events(c)], None, now=NOW) if b.state]
    widths = [(int(q["until"]) - int(q["since"])) / DAY for q in map(query, mock.calls) if "cursor" not in q]
    assert widths == [1, 2, 4, 8, 8, 1, 1.5]
    assert states == [{"until": int(day(3, 1) + d * DAY)} for d in (-15, -13, -9, -1, 7, 8)] + [{"until": NOW}]
    assert len(mock.calls) == 8, "25 days, mostly empty, cost 8 requests instead of 26"


def test_resumable_pages_carry_a_resume_point_and_a_resumed_run_reads_only_the_rest(
    env: None, mock: responses.RequestsMock
) -> None:
    c = make()
    cursor = IncrementalCursor(backfill=2 * DAY, align=DAY, fmt="iso", compact=True)
    mock.get(f"{BASE}/ordered", json={"events": [ev(1), ev(2)]})
    mock.get(f"{BASE}/ordered", json={"events": [ev(3), ev(4)]})
    mock.get(f"{BASE}/ordered", json={"events": [ev(5)]})
    batches = list(pull_windows(cursor, [Ordered(c)], None, now=NOW))
    window = [int(day(3, 8)), NOW]
    assert [b.state for b in batches] == [
        {
            "until": None,
            "window": window,
            "stream": 0,
            "resume": {"from": "2026-03-08", "to": "2026-03-10", "limit": 2, "offset": 2},
        },
        {
            "until": None,
            "window": window,
            "stream": 0,
            "resume": {"from": "2026-03-08", "to": "2026-03-10", "limit": 2, "offset": 4},
        },
        {"until": None, "window": window, "stream": 1},  # past the last stream: only the window's end is left
        "2026-03-10T12:00:00Z",
    ]
    # killed after the first page: the next run, an hour later, reads the same window from offset 2
    mock.get(f"{BASE}/ordered", json={"events": [ev(3), ev(4)]})
    mock.get(f"{BASE}/ordered", json={"events": [ev(5)]})
    mock.get(f"{BASE}/ordered", json={"events": []})
    again = list(pull_windows(cursor, [Ordered(c)], batches[0].state, now=NOW + 3600))
    resumed = [query(call) for call in mock.calls[3:]]
    assert resumed[0] == {"from": "2026-03-08", "to": "2026-03-10", "limit": "2", "offset": "2"}
    assert [e.event_id for b in again for e in b.engagements] == ["e3", "e4", "e5"]
    # then the window from the old one's end (minus no overlap) to now
    assert resumed[2]["from"] == "2026-03-10" and resumed[2]["offset"] == "0"
    assert again[-1].state == "2026-03-10T13:00:00Z"


def test_a_failed_page_leaves_the_state_of_the_pages_before(
    env: None, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make()
    mock.get(f"{BASE}/ordered", json={"events": [ev(1), ev(2)]})
    mock.get(f"{BASE}/ordered", status=404, json={"message": "gone"})
    seen = []
    with pytest.raises(ConnectorError):
        for batch in pull_windows(IncrementalCursor(backfill=DAY), [Ordered(c)], {"until": NOW - 60}, now=NOW):
            seen.append(batch.state)
    assert len(seen) == 1 and seen[0]["resume"]["offset"] == 2 and seen[0]["until"] == NOW - 60


class Contacts(HttpStream):
    path = "/contacts"
    records_path = ("contacts",)
    resumable = True

    def paginator(self) -> OffsetPaginator:
        return OffsetPaginator(2)

    def select(self, record: Mapping[str, Any]) -> bool:
        return bool(record.get("email"))


class Stats(HttpStream):
    """One answer per contact, no paging; a contact deleted meanwhile answers 404."""

    path = "/contacts/{id}/stats"
    parent = Contacts
    gone_statuses = (404,)

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {"day": window.first_day.isoformat()}

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> list[Touch]:
        assert parent is not None
        return [
            Touch(stable_id("s", parent["email"], at), parent["email"], "email", "", "m", at) for at in record["sent"]
        ]


def test_child_stream_reads_once_per_selected_parent_record_and_resumes_at_the_parent_page(
    env: None, mock: responses.RequestsMock
) -> None:
    c = make()
    mock.get(f"{BASE}/contacts", json={"contacts": [{"id": 1, "email": "a@x.com"}, {"id": "b/2", "email": ""}]})
    mock.get(f"{BASE}/contacts/1/stats", json={"sent": [NOW - 50, NOW - 40]})
    mock.get(f"{BASE}/contacts", json={"contacts": [{"id": 3, "email": "c@x.com"}]})
    mock.get(f"{BASE}/contacts/3/stats", status=404, json={"message": "no such contact"})
    batches = list(pull_windows(IncrementalCursor(backfill=DAY), [Stats(c)], None, now=NOW))
    assert [call.request.url.split("?")[0].removeprefix(BASE) for call in mock.calls] == [
        "/contacts",
        "/contacts/1/stats",
        "/contacts",
        "/contacts/3/stats",
    ]
    assert query(mock.calls[1]) == {"day": "2026-03-09"}
    assert [t.at for b in batches for t in b.touches] == [NOW - 50, NOW - 40]
    assert batches[0].state["resume"] == {"limit": 2, "offset": 2}
    assert stable_id("s", "a@x.com", 1) == stable_id("s", "a@x.com", 1) != stable_id("s", "a@x.com", 2)
    assert "a@x.com" not in stable_id("s", "a@x.com", 1)


def test_after_a_resumed_window_the_next_starts_as_a_new_run_would_with_its_overlap(
    env: None, mock: responses.RequestsMock
) -> None:
    """Pages read before the kill may have gained events since: the overlap reads them again."""
    c = make()
    cursor = IncrementalCursor(backfill=DAY, overlap=3600)
    killed = {"until": NOW - DAY, "window": [NOW - DAY, NOW], "stream": 0, "resume": {"limit": 2, "offset": 2}}
    mock.get(f"{BASE}/ordered", json={"events": [ev(3)]})  # the rest of the old window
    mock.get(f"{BASE}/ordered", json={"events": []})  # then from its end minus the overlap
    states = [b.state for b in pull_windows(cursor, [Ordered(c)], killed, now=NOW + 7200) if b.state]
    assert query(mock.calls[0])["offset"] == "2" and query(mock.calls[1])["offset"] == "0"
    assert {"until": NOW} in states and states[-1] == {"until": NOW + 7200}
    second = [s for s in states if isinstance(s, dict) and s.get("window")][-1]
    assert second["window"] == [NOW - 3600, NOW + 7200], "the next window starts an overlap before the old end"
