"""Progress of a run's long pulls and pushes, for whoever watches it.

The sync opens a :func:`phase` per account and step (pull, audience, each list's push)
and counts what each batch committed. Connectors feed what only they know through the
module functions :func:`expect` (how many items to expect, which gives an ETA) and
:func:`report_wait` (about to wait for a rate limit); both apply to the phase running in
the current context and do nothing outside a run, so a connector never depends on who
is watching. The HTTP toolkit reports its pacing and retry waits through
:func:`report_wait` already.

Observers: :class:`ProgressObserver` (the interface, which shows nothing),
:class:`LineProgress` (periodic timestamped log lines, for cron and log shippers) and
:class:`BarProgress` (a live bar on a terminal, rendered by ``rich``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO, Any

log = logging.getLogger("pressure_sdk.progress")

Clock = Callable[[], float]


@dataclass
class Phase:
    """One step of one account: what it did so far."""

    #: the account, or None for a step of the whole run (scoring, list computation)
    account: str | None
    #: ``pull``, ``audience``, ``push <list>``, ``scores and lists``
    name: str
    #: what is counted: ``events``, ``contacts``, ``changes``, or "" when nothing is
    unit: str = ""
    #: how many items to expect, when known (gives an ETA)
    total: int | None = None
    done: int = 0
    batches: int = 0
    waits: int = 0
    #: seconds spent waiting for rate limits and retries
    waited: float = 0.0
    #: why the phase is waiting now, if it is
    waiting_for: str | None = None
    #: monotonic time the current wait ends
    waiting_until: float | None = None
    started: float = 0.0
    ended: float | None = None
    ok: bool = True
    clock: Clock = field(default=time.monotonic, repr=False)

    @property
    def label(self) -> str:
        """``account name``, or the name of a step of the whole run."""
        return f"{self.account} {self.name}" if self.account else self.name

    def elapsed(self) -> float:
        """Seconds since the phase began (until it ended, once it did)."""
        return (self.ended if self.ended is not None else self.clock()) - self.started

    def wait_left(self) -> float:
        """Seconds left of the current wait (0 when not waiting)."""
        if self.waiting_until is None:
            return 0.0
        return max(0.0, self.waiting_until - self.clock())

    def eta(self) -> float | None:
        """Seconds left at the pace so far; None when the total is unknown or nothing is done yet."""
        if self.total is None or self.done <= 0 or self.ended is not None:
            return None
        left = max(0, self.total - self.done)
        return left * self.elapsed() / self.done

    def figures(self) -> dict[str, Any]:
        """The phase as plain data (for JSON logs)."""
        eta = self.eta()
        return {
            "account": self.account,
            "phase": self.name,
            "unit": self.unit or None,
            "done": self.done,
            "total": self.total,
            "batches": self.batches,
            "waits": self.waits,
            "waited_s": round(self.waited, 1),
            "elapsed_s": round(self.elapsed(), 1),
            "eta_s": None if eta is None else round(eta, 1),
        }

    def summary(self) -> str:
        """One line for people: ``acme pull: 12,000 events in 3 batches, 4.2 s; waited 2.0 s (1 wait)``."""
        parts: list[str] = []
        if self.unit:
            count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
            pct = f" ({self.done / self.total:.0%})" if self.total else ""
            batches = f" in {self.batches:,} batch{'es' if self.batches != 1 else ''}"
            parts.append(f"{count} {self.unit}{pct}{batches}")
        parts.append(duration(self.elapsed()))
        text = f"{self.label}: " + ", ".join(parts)
        if self.waits:
            text += f"; waited {duration(self.waited)} ({self.waits} wait{'s' if self.waits != 1 else ''})"
        left = self.wait_left()
        if left > 0:
            text += f"; waiting {duration(left)} ({self.waiting_for})"
        eta = self.eta()
        if eta is not None:
            text += f"; ETA {duration(eta)}"
        return text


def duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``2 h 47 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class ProgressObserver:
    """Receives a run's progress. Every hook does nothing here: override what you show.

    Hooks are called from the thread running the sync, with the :class:`Phase` that
    changed; an observer must not raise.
    """

    def started(self, phase: Phase) -> None:
        """A phase began."""

    def advanced(self, phase: Phase) -> None:
        """A batch was committed (``phase.done``, ``phase.batches``), or a total became known."""

    def waiting(self, phase: Phase, seconds: float, why: str) -> None:
        """The phase is about to wait ``seconds`` (a rate limit, a retry's backoff)."""

    def ended(self, phase: Phase) -> None:
        """A phase ended (``phase.ok`` is False if it failed or was interrupted)."""

    def close(self) -> None:
        """The run is over: release the display."""


class PhaseHandle:
    """What the sync holds while a phase runs."""

    def __init__(self, observer: ProgressObserver, phase: Phase) -> None:
        self.observer = observer
        self.phase = phase

    def advance(self, items: int, batches: int = 1) -> None:
        """``items`` more were committed, in ``batches`` batches; a wait in progress is over."""
        p = self.phase
        p.done += items
        p.batches += batches
        p.waiting_for = p.waiting_until = None
        self.observer.advanced(p)

    def expect(self, total: int) -> None:
        """The phase will count about ``total`` items in all."""
        self.phase.total = max(0, int(total))
        self.observer.advanced(self.phase)

    def wait(self, seconds: float, why: str) -> None:
        """The phase is about to wait ``seconds`` (``why``: rate limit, retrying)."""
        p = self.phase
        p.waits += 1
        p.waited += max(0.0, seconds)
        p.waiting_for = why
        p.waiting_until = p.clock() + max(0.0, seconds)
        self.observer.waiting(p, seconds, why)


_current: ContextVar[PhaseHandle | None] = ContextVar("pressure_sdk_progress_phase", default=None)


@contextmanager
def phase(
    observer: ProgressObserver | None,
    account: str | None,
    name: str,
    *,
    unit: str = "",
    total: int | None = None,
    clock: Clock = time.monotonic,
) -> Iterator[PhaseHandle]:
    """Run one phase: the observer hears of its start, its batches and waits, and its end."""
    obs = observer or ProgressObserver()
    handle = PhaseHandle(obs, Phase(account, name, unit, total, started=clock(), clock=clock))
    token = _current.set(handle)
    obs.started(handle.phase)
    try:
        yield handle
    except BaseException:
        handle.phase.ok = False
        raise
    finally:
        _current.reset(token)
        handle.phase.ended = clock()
        handle.phase.waiting_for = handle.phase.waiting_until = None
        obs.ended(handle.phase)


def expect(total: int) -> None:
    """For connectors: the phase running now will count about ``total`` items (gives an ETA)."""
    handle = _current.get()
    if handle is not None:
        handle.expect(total)


def report_wait(seconds: float, why: str) -> None:
    """For connectors and the HTTP toolkit: about to wait ``seconds`` (``why``: "rate limit", ...)."""
    handle = _current.get()
    if handle is not None and seconds > 0:
        handle.wait(seconds, why)


# -- observers -----------------------------------------------------------------------


class LineProgress(ProgressObserver):
    """Periodic log lines (``pressure_sdk.progress`` at INFO), for cron and log shippers.

    A phase that lasts less than ``every`` seconds says nothing (unless ``each_phase``);
    a longer one gets a line every ``every`` seconds, from a background ticker so that a
    slow request or a long wait is visible too, and a last line when it ends. A wait
    of at least ``every`` seconds is told as it starts. Each record carries the phase's
    figures in ``record.progress`` for the JSON log format.
    """

    def __init__(self, every: float = 15.0, *, each_phase: bool = False, clock: Clock = time.monotonic) -> None:
        self.every = max(0.05, every)
        self.each_phase = each_phase
        self.clock = clock
        self._lock = threading.Lock()
        #: running phases and when each was last told
        self._active: dict[int, tuple[Phase, float]] = {}
        self._told: set[int] = set()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="pressure-progress", daemon=True)
        self._ticker.start()

    def _say(self, phase: Phase, message: str) -> None:
        log.info("%s", message, extra={"progress": phase.figures()})

    def _tick(self) -> None:
        while not self._stop.wait(min(self.every, 1.0) / 4):
            now = self.clock()
            due: list[Phase] = []
            with self._lock:
                for key, (p, last) in list(self._active.items()):
                    if now - last >= self.every:
                        self._active[key] = (p, now)
                        self._told.add(key)
                        due.append(p)
            for p in due:
                self._say(p, p.summary())

    def started(self, phase: Phase) -> None:
        """Watch the phase; tell it with -v."""
        with self._lock:
            self._active[id(phase)] = (phase, phase.started)
        if self.each_phase:
            self._say(phase, f"{phase.label}: started")

    def waiting(self, phase: Phase, seconds: float, why: str) -> None:
        """Tell a wait as long as the period between lines as it starts."""
        if seconds >= self.every:
            with self._lock:
                self._told.add(id(phase))
            self._say(phase, f"{phase.label}: waiting {duration(seconds)} ({why})")

    def ended(self, phase: Phase) -> None:
        """A last line for a phase that was told (or for every phase with -v)."""
        with self._lock:
            self._active.pop(id(phase), None)
            told = id(phase) in self._told
            self._told.discard(id(phase))
        if told or self.each_phase:
            self._say(phase, f"{phase.summary()}; {'done' if phase.ok else 'stopped'}")

    def close(self) -> None:
        """Stop the ticker."""
        self._stop.set()
        self._ticker.join(timeout=2)


class BarProgress(ProgressObserver):
    """A live bar per running phase on a terminal (``rich``), and a line per long phase ended.

    The bars are drawn on ``stream`` (stderr) and vanish when the run ends, leaving the
    lines of phases that took at least ``keep`` seconds. Log records written to
    ``sys.stderr`` while the bars are shown appear above them.
    """

    def __init__(self, stream: IO[str] | None = None, *, keep: float = 2.0) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
        from rich.text import Text

        class Figures(ProgressColumn):
            """Counts, waits and ETA, read from the phase at each refresh (a wait counts down)."""

            def render(self, task: Task) -> Text:
                return Text(_bar_text(task.fields["phase"]))

        self.keep = keep
        self.console = Console(file=stream, stderr=stream is None, highlight=False)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=30),
            TimeElapsedColumn(),
            Figures(),
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self._tasks: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.progress.start()

    def started(self, phase: Phase) -> None:
        """A bar for the phase."""
        with self._lock:
            self._tasks[id(phase)] = self.progress.add_task(phase.label, total=phase.total, phase=phase)

    def advanced(self, phase: Phase) -> None:
        """Move the phase's bar."""
        with self._lock:
            task = self._tasks.get(id(phase))
            if task is not None:
                self.progress.update(task, completed=phase.done, total=phase.total)

    def waiting(self, phase: Phase, seconds: float, why: str) -> None:
        """Show the wait on the phase's bar (it counts down)."""
        self.advanced(phase)

    def ended(self, phase: Phase) -> None:
        """Remove the bar; leave a line when the phase was long or stopped."""
        with self._lock:
            task = self._tasks.pop(id(phase), None)
            if task is not None:
                self.progress.remove_task(task)
        if phase.elapsed() >= self.keep or not phase.ok:
            mark = "done" if phase.ok else "stopped"
            self.progress.console.print(f"{phase.summary()}; {mark}", highlight=False, markup=False)

    def close(self) -> None:
        """Stop drawing: the bars vanish, the lines stay."""
        self.progress.stop()


def _bar_text(phase: Phase) -> str:
    parts: list[str] = []
    if phase.unit:
        total = f"/{phase.total:,}" if phase.total is not None else ""
        pct = f" ({phase.done / phase.total:.0%})" if phase.total else ""
        batches = f"{phase.batches:,} batch{'es' if phase.batches != 1 else ''}"
        parts.append(f"{phase.done:,}{total} {phase.unit}{pct}, {batches}")
    left = phase.wait_left()
    if left > 0:
        parts.append(f"waiting {duration(left)} ({phase.waiting_for})")
    elif phase.waits:
        parts.append(f"waited {duration(phase.waited)}")
    eta = phase.eta()
    if eta is not None:
        parts.append(f"ETA {duration(eta)}")
    return "  ".join(parts)
