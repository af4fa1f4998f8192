"""``pressure-sync run`` as a scheduler or a person sees it, in a real process: the live bar on a
pseudo-terminal, timestamped lines without one, SIGINT and SIGTERM, and ledger permissions."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pressure_sdk.ledger import Ledger

from .slow_platform import workspace

REPO = Path(__file__).parents[1]
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"
#: SLOW: 6 batches of 10 touches, 0.25 s apart, a 0.6 s rate-limit wait before the 4th, a
#: total announced (so an ETA), then 4 push batches 0.2 s apart: about 3 s in all
SLOW = {"batches": 6, "delay": 0.25, "announce": True, "wait_at": 3, "wait": 0.6, "push_delay": 0.2}


def command(config: Path, *args: str, cmd: str = "run") -> list[str]:
    return [sys.executable, "-m", "tests.slow_platform", cmd, "--config", str(config), *args]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PRESSURE_CONFIG"}
    env["TERM"] = "xterm-256color"
    return env


def touches(config: Path) -> int:
    """Touches committed so far, read-only: a run may be writing (opening a Ledger would migrate)."""
    path = config.parent / "ledger.db"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM touches").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # read before the schema was committed
        return 0


def runs(config: Path) -> list[tuple[str, int | None, str | None]]:
    """(result, exit code, error) of the runs the ledger recorded, newest first."""
    with Ledger(config.parent / "ledger.db") as led:
        return [(r.result, r.exit_code, r.error) for r in led.runs(limit=100)]


# -- progress ------------------------------------------------------------------------------


def test_on_a_terminal_progress_is_a_live_bar_per_account_and_step(tmp_path: Path) -> None:
    config = workspace(tmp_path, **SLOW)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        command(config),
        cwd=REPO,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the last writer closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.wait(timeout=30) == 0, stdout + screen.decode(errors="replace")
    text = screen.decode(errors="replace")
    assert "\x1b[?25l" in text and "\x1b[2K" in text  # a live display: cursor hidden, lines redrawn
    assert "acme pull" in text and "━" in text
    assert re.search(r"\d+/60 records \(\d+%\), \d+ batch", text), text
    assert "waiting" in text and "(rate limit)" in text and "ETA" in text
    assert "acme push acme-mkt" in text and re.search(r"\d+/40 changes", text)
    assert not re.search(STAMP + " INFO", text)  # not the cron form
    # the report alone on stdout, without terminal codes
    assert stdout.startswith("pressure-sync run\n") and "\x1b" not in stdout and "1/1 accounts ok" in stdout


def test_without_a_terminal_progress_is_timestamped_lines_of_long_steps(tmp_path: Path) -> None:
    config = workspace(tmp_path, **SLOW)
    done = subprocess.run(
        command(config, "--progress-every", "0.2"), cwd=REPO, env=environment(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(re.match(rf"^{STAMP} INFO pressure_sdk\.progress: acme ", x) for x in lines), lines
    assert "\x1b" not in done.stderr
    periodic = [x for x in lines if re.search(r"acme pull: \d+/60 records \(\d+%\) in \d+ batch(es)?, .* s.*; ETA ", x)]
    assert len(periodic) >= 3, lines
    assert any(x.endswith("acme pull: waiting 0.6 s (rate limit)") for x in lines), lines
    pulled = r"acme pull: 60/60 records \(100%\) in 6 batches, .*; waited 0\.6 s \(1 wait\); done$"
    assert len([x for x in lines if re.search(pulled, x)]) == 1, lines
    assert re.search(r"acme push acme-mkt: 40/40 changes \(100%\) in 4 batches, .*; done$", lines[-1])

    # as JSON for a log shipper: one object per line, with the figures
    again = workspace(tmp_path / "json", **SLOW)
    done = subprocess.run(
        command(again, "--progress-every", "0.2", "--log-format", "json"),
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(x) for x in done.stderr.splitlines()]
    pull = [r for r in records if r["phase"] == "pull"]
    assert pull[-1]["done"] == 60 and pull[-1]["total"] == 60 and pull[-1]["batches"] == 6
    assert pull[-1]["waits"] == 1 and pull[-1]["waited_s"] == 0.6 and pull[-1]["account"] == "acme"
    assert any(r["eta_s"] is not None for r in pull) and all(re.match(STAMP, r["time"]) for r in records)


def test_a_quick_scheduled_run_says_nothing_on_stderr(tmp_path: Path) -> None:
    config = workspace(tmp_path, delay=0.0)
    done = subprocess.run(command(config, "--json"), cwd=REPO, env=environment(), capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "" and json.loads(done.stdout)["ok"] is True


# -- signals --------------------------------------------------------------------------------


class Run:
    """A run in the background, its stderr read line by line as it comes."""

    def __init__(self, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            command(config, *args),
            cwd=REPO,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail(f"the run ended before {what}: exit {self.proc.returncode}\n{''.join(self.err)}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.02)

    def finish(self) -> tuple[int, str, str]:
        # stdout only: stderr is the reader thread's (communicate() would take lines from it)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=5)
        return self.proc.returncode, out, "".join(self.err)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_after_the_batch_in_progress_and_says_what_was_saved(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    config = workspace(tmp_path, batches=40, delay=0.1)
    run = Run(config, "--json")
    run.until(lambda: touches(config) >= 20, "two batches were committed")
    run.proc.send_signal(sig)
    sent = time.monotonic()
    exit_code, out, err = run.finish()
    assert time.monotonic() - sent < 10
    assert exit_code == code, err
    assert f"{sig.name} received: stopping after the batch in progress" in err
    report = json.loads(out)
    assert report["ok"] is False and report["interrupted"] == sig.name
    (acme,) = report["accounts"]
    saved = touches(config)
    assert acme["stopped"] is True and acme["pulled"] == saved and 20 <= saved < 400
    assert f"pull stopped after {saved} new events were saved" in acme["error"]
    with Ledger(config.parent / "ledger.db") as led:
        assert led.watermark("acme") == {"next": saved // 10}
    assert runs(config)[0][:2] == ("interrupted", code)

    again = subprocess.run(command(config, "--json"), cwd=REPO, env=environment(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["accounts"][0]["pulled"] == 400 - saved and touches(config) == 400


def test_a_second_signal_stops_at_once_and_rolls_back_the_batch_in_progress(tmp_path: Path) -> None:
    config = workspace(tmp_path, batches=3, delay=0.0, block_at=1, block=120.0)
    run = Run(config, "--json")
    run.until(lambda: touches(config) >= 10, "the first batch was committed")
    run.proc.send_signal(signal.SIGINT)
    run.until(lambda: any("SIGINT received" in line for line in run.err), "the first signal was heard")
    run.proc.send_signal(signal.SIGINT)
    exit_code, out, err = run.finish()
    assert exit_code == 130, err
    record = json.loads(out)
    assert record["ok"] is False and record["interrupted"] == "SIGINT" and record["exit_code"] == 130
    assert "stopped at once by a second SIGINT" in record["error"] and "stopped at once" in err
    assert "Traceback" not in err and touches(config) == 10
    result, exit_recorded, why = runs(config)[0]
    assert (result, exit_recorded) == ("aborted", None) and "stopped at once" in (why or "")


# -- ledger permissions -----------------------------------------------------------------------


def as_user(cmd: list[str]) -> list[str]:
    """``cmd`` without the power to ignore file permissions (root keeps it unless told)."""
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]


def run_as_user(config: Path, *args: str, cmd: str = "run") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_user(command(config, *args, cmd=cmd)), cwd=REPO, env=environment(), capture_output=True, text=True
    )


def test_a_folder_the_user_cannot_write_is_exit_2_naming_it_in_run_and_check(tmp_path: Path) -> None:
    config = workspace(tmp_path, delay=0.0)
    config.write_text(config.read_text().replace('ledger = "ledger.db"', 'ledger = "state/ledger.db"'))
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        done = run_as_user(config, "--json")
        assert done.returncode == 2, done.stderr
        assert f"cannot create it in {folder}: permission denied for user " in done.stderr
        assert f"make {folder} writable by " in done.stderr and "Traceback" not in done.stderr
        assert json.loads(done.stdout)["exit_code"] == 2
        check = run_as_user(config, cmd="check")
        assert check.returncode == 2, check.stdout + check.stderr
        assert f"FAILED ledger: ledger {folder / 'ledger.db'}: cannot create it in {folder}" in check.stdout
    finally:
        folder.chmod(stat.S_IRWXU)


def test_a_read_only_ledger_is_exit_2_naming_it_in_run_and_check(tmp_path: Path) -> None:
    config = workspace(tmp_path, delay=0.0)
    assert run_as_user(config).returncode == 0
    ledger = tmp_path / "ledger.db"
    for extra in (tmp_path / "ledger.db-wal", tmp_path / "ledger.db-shm"):
        extra.unlink(missing_ok=True)
    ledger.chmod(stat.S_IRUSR)
    try:
        done = run_as_user(config)
        assert done.returncode == 2, done.stderr
        assert f"error: ledger {ledger} is read-only for user " in done.stderr and "chmod u+w" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        check = run_as_user(config, "--json", cmd="check")
        assert check.returncode == 2, check.stderr
        data = json.loads(check.stdout)
        assert data["ledger"]["ok"] is False and "is read-only" in data["ledger"]["message"]
    finally:
        ledger.chmod(stat.S_IRUSR | stat.S_IWUSR)
    shm = tmp_path / "ledger.db-shm"
    if shm.exists() and not shm.stat().st_mode & stat.S_IWUSR:
        # SQLite made it as read-only as the database it opened: the message must say so
        done = run_as_user(config)
        assert done.returncode == 2 and f"{shm} cannot be written" in done.stderr, done.stderr
        shm.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert run_as_user(config).returncode == 0
