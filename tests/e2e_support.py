"""What the end-to-end tests over HTTP share: a workspace on a ledger of either backend,
``pressure-sync`` as a separate process, a run killed while a sandbox holds a request, and
the ledger read back through its own interface.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pressure_sdk.ledger import is_url, open_ledger

from .snapshot import snapshot

ROOT = Path(__file__).parents[1]
GENERATOR = ROOT / "examples" / "demo" / "generate.py"


def generate(out: Path, contacts: int, days: int) -> Path:
    """A small demo's exports in ``out``, from the demo's generator."""
    subprocess.run(
        [sys.executable, str(GENERATOR), "--contacts", str(contacts), "--days", str(days), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


#: parametrize a test on both ledgers (the ``ledger_url`` fixture of conftest.py): ``@BOTH_LEDGERS``
BOTH_LEDGERS = pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)


class Sandboxed:
    """A workspace folder whose accounts are platform sandboxes listening on localhost.

    Subclasses start their sandboxes, list them in :meth:`boxes`, write ``config`` and add
    their credentials to ``env``.
    """

    def __init__(self, root: Path, ledger_url: str | None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "pressure.toml"
        self.ledger_url = ledger_url
        self.env = {k: v for k, v in os.environ.items() if k != "PRESSURE_LEDGER"}
        if ledger_url:
            self.env["PRESSURE_LEDGER"] = ledger_url

    def boxes(self) -> list[Any]:
        """The sandboxes this workspace's accounts use."""
        raise NotImplementedError

    @property
    def ledger_target(self) -> str:
        """The ledger the runs write: the PostgreSQL URL, or the workspace's file (``ledger = "ledger.db"``)."""
        return self.ledger_url or str(self.root / "ledger.db")

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``pressure-sync ARGS --config …`` in a process of its own, as cron would run it."""
        return subprocess.run(
            [sys.executable, "-m", "pressure_sdk", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )

    def start_run(self) -> subprocess.Popen[str]:
        """``pressure-sync run`` started, not waited for."""
        return subprocess.Popen(
            [sys.executable, "-m", "pressure_sdk", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def kill_while_held(self, box: Any, path: str, skip: int, phase: str, *, within: float = 120) -> None:
        """Start a run, let ``skip`` requests to ``path`` through, hold the next one open, and
        SIGKILL the run while it waits for the answer (mid-pull or mid-push, as ``phase`` says)."""
        box.inject("timeout", path=path, skip=skip, delay=30)
        proc = self.start_run()
        deadline = time.monotonic() + within
        try:
            while box.count(path=path) <= skip:
                assert proc.poll() is None, f"the run ended before reaching the {phase}: {proc.communicate()}"
                assert time.monotonic() < deadline, f"the run never reached the {phase}"
                time.sleep(0.05)
            time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
            box.clear_faults()

    def stop(self) -> None:
        """Stop every sandbox."""
        for box in self.boxes():
            box.stop()


def ledger_content(ws: Sandboxed) -> dict[str, list[tuple[Any, ...]]]:
    """What the workspace's ledger holds, through the ledger's interface (see :func:`snapshot`).

    Consent changes leave out their time: a sandbox dates an opt-out its audience reports by
    the wall clock, so two sandboxes of the same data differ there by a second or so.
    """
    target = ws.ledger_target
    try:
        with open_ledger(target) as led:
            return snapshot(led, consent_times=False)
    finally:
        if is_url(target):
            from pressure_sdk.ledger.postgres import close_pool

            close_pool(target)
