"""Progress: the phase figures, the observers, and what connectors and the HTTP toolkit feed."""

from __future__ import annotations

import io
import logging
import re
import time
from typing import Any

import pytest
import responses
from responses import registries

from pressure_sdk import progress
from pressure_sdk.http import BearerToken, HeaderPacer, HttpClient, RetryPolicy
from pressure_sdk.progress import BarProgress, LineProgress, Phase, ProgressObserver, duration, phase

BASE = "https://api.example.test"


class Recorder(ProgressObserver):
    """Every call, as (hook, label, done, total, batches, extra)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def started(self, phase: Phase) -> None:
        self.calls.append(("started", phase.label))

    def advanced(self, phase: Phase) -> None:
        self.calls.append(("advanced", phase.label, phase.done, phase.total, phase.batches))

    def waiting(self, phase: Phase, seconds: float, why: str) -> None:
        self.calls.append(("waiting", phase.label, seconds, why))

    def ended(self, phase: Phase) -> None:
        self.calls.append(("ended", phase.label, phase.ok, phase.done))


def test_a_phase_counts_batches_and_waits_and_gives_an_eta_once_its_total_is_known() -> None:
    now = [100.0]
    rec = Recorder()
    with phase(rec, "acme", "pull", unit="records", clock=lambda: now[0]) as ph:
        now[0] = 104.0
        ph.advance(100)
        assert ph.phase.eta() is None  # no total: no ETA
        progress.expect(400)  # what a connector calls, found through the context
        assert ph.phase.eta() == pytest.approx(12.0)  # 300 left at 25 per second
        progress.report_wait(3.0, "rate limit")
        assert ph.phase.summary() == (
            "acme pull: 100/400 records (25%) in 1 batch, 4.0 s; waited 3.0 s (1 wait); "
            "waiting 3.0 s (rate limit); ETA 12 s"
        )
        now[0] = 110.0
        ph.advance(300, batches=2)
    assert rec.calls == [
        ("started", "acme pull"),
        ("advanced", "acme pull", 100, None, 1),
        ("advanced", "acme pull", 100, 400, 1),
        ("waiting", "acme pull", 3.0, "rate limit"),
        ("advanced", "acme pull", 400, 400, 3),
        ("ended", "acme pull", True, 400),
    ]
    figures = ph.phase.figures()
    assert figures["elapsed_s"] == 10.0 and figures["waited_s"] == 3.0 and figures["eta_s"] is None


def test_outside_a_phase_the_connector_hooks_do_nothing_and_a_failed_phase_says_so() -> None:
    progress.expect(10)
    progress.report_wait(5.0, "rate limit")
    rec = Recorder()
    with pytest.raises(RuntimeError), phase(rec, "acme", "push x", unit="changes"):
        raise RuntimeError("boom")
    assert rec.calls[-1] == ("ended", "acme push x", False, 0)
    # the phase is gone from the context once it ended
    progress.report_wait(5.0, "rate limit")
    assert len(rec.calls) == 2


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.42, "0.4 s"), (12.4, "12 s"), (185, "3 min 05 s"), (10020, "2 h 47 min")]
)
def test_durations_read_like_people_write_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pressure_sdk.progress"]


def test_line_progress_is_silent_for_a_short_phase_and_periodic_for_a_long_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pressure_sdk.progress")
    lines = LineProgress(every=0.1)
    try:
        with phase(lines, "acme", "audience", unit="contacts") as ph:
            ph.advance(5)
        assert _records(caplog) == []
        with phase(lines, "acme", "pull", unit="records") as ph:
            for _ in range(4):
                time.sleep(0.1)
                ph.advance(10)
            ph.wait(0.25, "rate limit")
            time.sleep(0.25)
    finally:
        lines.close()
    messages = [r.getMessage() for r in _records(caplog)]
    periodic = [m for m in messages if re.fullmatch(r"acme pull: \d+ records in \d+ batch(es)?, .*", m)]
    assert len(periodic) >= 2, messages
    assert "acme pull: waiting 0.2 s (rate limit)" in messages or "acme pull: waiting 0.3 s (rate limit)" in messages
    assert messages[-1].startswith("acme pull: 40 records in 4 batches") and messages[-1].endswith("; done")
    assert "waited" in messages[-1]
    # every line carries the figures, for the JSON log format
    last = _records(caplog)[-1]
    assert last.progress["done"] == 40 and last.progress["account"] == "acme"  # type: ignore[attr-defined]


def test_line_progress_tells_every_phase_when_verbose(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pressure_sdk.progress")
    lines = LineProgress(every=60, each_phase=True)
    try:
        with phase(lines, "acme", "audience", unit="contacts") as ph:
            ph.advance(5)
    finally:
        lines.close()
    messages = [r.getMessage() for r in _records(caplog)]
    assert messages[0] == "acme audience: started"
    assert messages[1].startswith("acme audience: 5 contacts in 1 batch") and messages[1].endswith("; done")


def test_bar_progress_draws_on_a_terminal_and_keeps_a_line_for_long_phases() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Tty()
    bar = BarProgress(screen, keep=0.0)
    with phase(bar, "acme", "pull", unit="records", total=50) as ph:
        ph.advance(20)
        bar.progress.refresh()
        drawn = screen.getvalue()
    bar.close()
    assert "acme pull" in drawn and "━" in drawn and "20/50 records (40%), 1 batch" in drawn
    assert "\x1b[" in drawn  # drawn with terminal control sequences
    assert "acme pull: 20/50 records (40%) in 1 batch" in screen.getvalue() and "; done" in screen.getvalue()


# -- the HTTP toolkit reports its waits -------------------------------------------------------


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(registry=registries.OrderedRegistry, assert_all_requests_are_fired=True) as m:
        yield m


def test_the_http_client_reports_429_retries_and_pacing_waits(mock: Any, recorded_sleeps: list[float]) -> None:
    now = [0.0]
    pacer = HeaderPacer("X-Remaining", "X-Reset", reserve=1, clock=lambda: now[0])
    mock.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    mock.get(f"{BASE}/x", json={}, headers={"X-Remaining": "1", "X-Reset": "9"})
    mock.get(f"{BASE}/x", status=503)
    mock.get(f"{BASE}/x", json={}, headers={"X-Remaining": "50", "X-Reset": "9"})
    c = HttpClient(BASE, connector="demo", auth=BearerToken("t0123456789"), pacer=pacer, retry=RetryPolicy(backoff=1.0))
    rec = Recorder()
    with phase(rec, "acme", "pull", unit="records"):
        c.json("GET", "/x")  # a 429 told to wait 7 s, then an answer with 1 request left
        c.json("GET", "/x")  # paced 9 s before the limit, then a 503 retried after a backoff
    waits = [call for call in rec.calls if call[0] == "waiting"]
    assert [(w[2], w[3]) for w in waits[:2]] == [(7.0, "rate limited"), (9.0, "rate limit")]
    assert waits[2][3] == "retrying" and 0.5 <= waits[2][2] <= 1.0
    assert recorded_sleeps[:2] == [7.0, 9.0]
