"""Killing ``pressure-sync run`` at any point loses nothing (DESIGN §7.2)."""

from __future__ import annotations

import csv
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[1] / "examples" / "demo"


def workspace(root: Path) -> Path:
    shutil.copytree(DEMO / "data", root / "data")
    shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
    return root / "pressure.toml"


def sync(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pressure_sdk", "run", "--config", str(config)], capture_output=True, text=True
    )


def ledger_content(config: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(config.parent / ".pressure" / "ledger.db")
    try:
        return {
            "touches": conn.execute("SELECT * FROM touches ORDER BY 1, 2, 3, 4").fetchall(),
            "engagements": conn.execute("SELECT * FROM engagements ORDER BY 1, 2, 3, 4").fetchall(),
            "contacts": conn.execute(
                "SELECT email, timezone, paused_until, attributes, first_seen, tier FROM contacts ORDER BY email"
            ).fetchall(),
            "consent": conn.execute(
                "SELECT c.email, s.channel, s.status, s.at FROM consent s "
                "JOIN contacts c ON c.id = s.contact_id ORDER BY 1, 2"
            ).fetchall(),
            "lists": conn.execute(
                "SELECT m.account, m.list, c.email FROM list_members m "
                "JOIN contacts c ON c.id = m.contact_id ORDER BY 1, 2, 3"
            ).fetchall(),
        }
    finally:
        conn.close()


def pushed(config: Path) -> dict[str, set[str]]:
    out = {}
    for f in sorted((config.parent / "out").rglob("*.csv")):
        if f.name.endswith((".adds.csv", ".removes.csv")):
            continue
        with f.open(newline="") as fh:
            out[f"{f.parent.name}/{f.name}"] = {r["email"] for r in csv.DictReader(fh)}
    return out


def touches_in(config: Path) -> int:
    path = config.parent / ".pressure" / "ledger.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM touches").fetchone()[0])
    except sqlite3.OperationalError:  # killed before the schema was committed
        return 0
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("share", [0.35, 0.7])
def test_a_killed_run_then_a_rerun_converges_to_an_uninterrupted_run(tmp_path: Path, share: float) -> None:
    clean = workspace(tmp_path / "clean")
    t0 = time.monotonic()
    assert sync(clean).returncode == 0
    duration = time.monotonic() - t0
    killed = workspace(tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-m", "pressure_sdk", "run", "--config", str(killed)])
    time.sleep(duration * share)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the kill landed while work was still to do
    assert touches_in(killed) < len(ledger_content(clean)["touches"]) or not (killed.parent / "out").exists()
    rerun = sync(killed)
    assert rerun.returncode == 0, rerun.stderr
    assert ledger_content(killed) == ledger_content(clean)
    assert pushed(killed) == pushed(clean)
