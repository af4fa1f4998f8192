"""Run history, stopping after the batch in progress, progress phases and ledger paths, at the sync level."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pressure_sdk.ledger import Ledger, LedgerPathError
from pressure_sdk.ledger import store as ledger_store
from pressure_sdk.progress import Phase, ProgressObserver
from pressure_sdk.sync import StopRequest, run_sync

from .test_sync import NOW, MemoryConnector, memory_connector, mk, seed, workspace  # noqa: F401 - the fixture


class StopAfter(ProgressObserver):
    """Asks the run to stop once ``label`` has committed ``batches`` batches; records every phase."""

    def __init__(self, stop: StopRequest, label: str, batches: int = 1, signal: tuple[str, int] = ("SIGTERM", 143)):
        self.stop, self.label, self.batches, self.signal = stop, label, batches, signal
        self.phases: list[tuple[str, str, Any]] = []

    def started(self, phase: Phase) -> None:
        self.phases.append(("started", phase.label, None))

    def advanced(self, phase: Phase) -> None:
        self.phases.append(("advanced", phase.label, (phase.done, phase.total)))
        if phase.label == self.label and phase.batches >= self.batches:
            self.stop.set(*self.signal)

    def ended(self, phase: Phase) -> None:
        self.phases.append(("ended", phase.label, phase.ok))


def history(tmp_path: Path) -> list[Any]:
    with Ledger(tmp_path / "ledger.db") as led:
        return led.runs(100)


def test_each_run_is_recorded_with_its_figures_and_dry_runs_are_not(tmp_path: Path) -> None:
    seed()
    cfg = workspace(tmp_path)
    first = run_sync(cfg, now=NOW)
    (run,) = history(tmp_path)
    assert first.run_id == run.id
    assert (run.result, run.exit_code, run.now, run.pid, run.error) == ("ok", 0, NOW, os.getpid(), None)
    assert run.finished_at is not None and run.started_at <= run.finished_at and run.duration is not None
    acme = run.report["accounts"][0]
    assert (acme["name"], acme["pulled"], acme["touches_added"]) == ("acme", 6, 5)
    assert acme["lists"][0]["added"] == 2 and acme["lists"][0]["pushed"] is True
    assert run.report["as_of"] == "2026-09-21T14:13:20+00:00"

    assert run_sync(cfg, now=NOW, dry_run=True).run_id is None
    assert len(history(tmp_path)) == 1

    failed = run_sync(workspace(tmp_path, fail_pull=True))
    newest = history(tmp_path)[0]
    assert failed.run_id == newest.id and newest.now is None
    assert (newest.result, newest.exit_code) == ("failed", 1)
    assert newest.error is not None and "acme: pull: platform said 503" in newest.error


def test_a_run_still_marked_running_is_marked_died_by_the_next(tmp_path: Path) -> None:
    seed()
    cfg = workspace(tmp_path)
    run_sync(cfg, now=NOW)
    with Ledger(cfg.ledger_path) as led:  # what a run killed with SIGKILL leaves behind
        led.start_run(started_at=1.0, pid=12345)
    run_sync(cfg, now=NOW)
    newest, killed, first = history(tmp_path)
    assert (first.result, newest.result) == ("ok", "ok")
    assert killed.result == "died" and killed.pid == 12345 and "the process ended before the run did" in killed.error


def test_the_history_keeps_the_last_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_store, "RUNS_KEPT", 3)
    cfg = workspace(tmp_path)
    ids = [run_sync(cfg, now=NOW).run_id for _ in range(5)]
    assert [r.id for r in history(tmp_path)] == ids[::-1][:3]


def test_a_stop_ends_the_run_after_the_batch_in_progress_and_the_next_run_resumes(tmp_path: Path) -> None:
    seed()  # acme: 6 events in batches of 2; beta: 1
    cfg = workspace(tmp_path)
    stop = StopRequest()
    watcher = StopAfter(stop, "acme pull")
    report = run_sync(cfg, now=NOW, stop=stop, progress=watcher)
    assert (report.interrupted, report.exit_code, report.ok) == ("SIGTERM", 143, False)
    acme, beta = report.accounts
    assert acme.stopped and acme.pulled == 2 and "pull stopped after 2 new events were saved" in (acme.error or "")
    assert beta.stopped and beta.pulled == 0 and "not run" in (beta.error or "")
    assert "interrupted by SIGTERM: stopped after the batch in progress" in report.table()
    assert report.as_dict()["interrupted"] == "SIGTERM"
    assert ("ended", "acme pull", False) in watcher.phases
    assert not any(label == "beta pull" for _, label, _ in watcher.phases)
    assert MemoryConnector.PUSHED == {}
    with Ledger(cfg.ledger_path) as led:
        assert led.count("touches") == 2 and led.watermark("acme") == {"next": 2}
        assert led.list_members("acme", "acme-mkt") == set()
    (run,) = history(tmp_path)
    assert (run.result, run.exit_code) == ("interrupted", 143)

    again = run_sync(cfg, now=NOW)
    assert again.ok and again.accounts[0].pulled == 4 and again.accounts[1].pulled == 1
    assert again.accounts[0].lists[0].added == 2
    assert [r.result for r in history(tmp_path)] == ["ok", "interrupted"]


def test_a_stop_during_a_push_keeps_the_confirmed_batches_and_the_next_run_pushes_the_rest(tmp_path: Path) -> None:
    MemoryConnector.SOURCES["acme"] = [mk(i * 10 + j, f"c{i}@x.com", "acme", j + 1) for i in range(5) for j in range(3)]
    cfg = workspace(tmp_path)
    stop = StopRequest()
    report = run_sync(cfg, now=NOW, stop=stop, progress=StopAfter(stop, "acme push acme-mkt", signal=("SIGINT", 130)))
    assert (report.interrupted, report.exit_code) == ("SIGINT", 130)
    acme, beta = report.accounts
    (lst,) = acme.lists
    assert acme.stopped and not lst.pushed
    assert "2 of 5 additions and 0 of 0 removals confirmed and saved" in (lst.error or "")
    assert beta.stopped and beta.lists == []
    with Ledger(cfg.ledger_path) as led:
        assert len(led.list_members("acme", "acme-mkt")) == 2
    again = run_sync(cfg, now=NOW)
    assert again.ok and again.accounts[0].lists[0].added == 3
    with Ledger(cfg.ledger_path) as led:
        assert len(led.list_members("acme", "acme-mkt")) == 5


def test_every_phase_is_reported_with_its_counts(tmp_path: Path) -> None:
    seed()
    watcher = StopAfter(StopRequest(), "never")
    run_sync(workspace(tmp_path), now=NOW, progress=watcher)
    started = [label for what, label, _ in watcher.phases if what == "started"]
    assert started == [
        "acme pull",
        "acme audience",
        "beta pull",
        "beta audience",
        "scores and lists",
        "acme push acme-mkt",
        "beta push beta-mkt",
    ]
    pull = [v for what, label, v in watcher.phases if what == "advanced" and label == "acme pull"]
    assert pull == [(2, None), (4, None), (6, None)]
    push = [v for what, label, v in watcher.phases if what == "advanced" and label == "acme push acme-mkt"]
    assert push[0] == (0, 2) and push[-1] == (2, 2)  # the total is known before the first batch: an ETA
    assert all(ok for what, _, ok in watcher.phases if what == "ended")


def test_a_ledger_under_a_file_or_at_a_folder_is_a_path_error_naming_both(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    cfg = workspace(tmp_path)
    for ledger, message in (
        ("data/ledger.db", f"{tmp_path / 'data'} is a file, not a folder"),
        ("data/sub/ledger.db", f"{tmp_path / 'data'} is a file, not a folder"),
    ):
        bad = cfg.model_copy(update={"workspace": cfg.workspace.model_copy(update={"ledger": ledger})})
        with pytest.raises(LedgerPathError, match=message) as caught:
            run_sync(bad, now=NOW)
        assert caught.value.exit_code == 2 and str(bad.ledger_path) in str(caught.value)
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(LedgerPathError, match="is a folder, not a file"):
        Ledger(tmp_path / "folder.db")


def test_a_ledger_that_cannot_be_written_is_found_before_the_run_pulls(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "ledger.db")
    led.check_writable()  # writes nothing
    assert led.conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'write_check'").fetchone()[0] == 0
    led.conn.execute("PRAGMA query_only = ON")  # what SQLite does with a file it could open read-only
    with pytest.raises(LedgerPathError, match=r"ledger\.db is read-only for user \S+: .*writable") as caught:
        led.check_writable()
    assert caught.value.exit_code == 2
    led.close()
