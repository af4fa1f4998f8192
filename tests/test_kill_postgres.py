"""Killing ``pressure-sync run`` on a PostgreSQL ledger loses nothing either (DESIGN §7.2).

The demo's first run, on PostgreSQL through ``PRESSURE_LEDGER``, is killed mid-pull and
mid-push, run again twice, and must end with the ledger and pushed lists of an
uninterrupted run.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).parents[1] / "examples" / "demo"
#: bookkeeping that differs between two ledgers of the same data by design
SKIP_TABLES = frozenset({"ledger_migrations", "runs"})
SKIP_COLUMNS = frozenset({("watermarks", "updated_at")})
SKIP_META_KEYS = frozenset({"tombstone_salt"})

pytestmark = pytest.mark.slow


def workspace(root: Path, url: str) -> tuple[Path, dict[str, str]]:
    shutil.copytree(DEMO / "data", root / "data")
    shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
    return root / "pressure.toml", {**os.environ, "PRESSURE_LEDGER": url}


def command(config: Path) -> list[str]:
    return [sys.executable, "-m", "pressure_sdk", "run", "--config", str(config)]


def ledger_content(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table and column, rows sorted, contact ids replaced by the contact's client and email."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
            if t not in SKIP_TABLES
        ]
        content: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            cols = [
                c
                for (c,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
                if (table, c) not in SKIP_COLUMNS and not (table == "contacts" and c == "id")
            ]
            exprs = [("w.client, w.email" if c == "contact_id" else f't."{c}"') for c in cols]
            join = " LEFT JOIN contacts w ON w.id = t.contact_id" if "contact_id" in cols else ""
            rows = conn.execute(f'SELECT {", ".join(exprs)} FROM "{table}" t{join}').fetchall()
            if table == "meta":
                rows = [r for r in rows if r[0] not in SKIP_META_KEYS]
            content[table] = sorted(rows, key=repr)
        return content


def touches(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM touches").fetchone()[0])  # type: ignore[index]
    except psycopg.Error:  # the schema is not there yet
        return 0


def pushed(config: Path) -> dict[str, list[tuple[str, ...]]]:
    out = {}
    for f in sorted((config.parent / "out").rglob("*.csv")):
        if not f.name.endswith((".adds.csv", ".removes.csv")):
            with f.open(newline="") as fh:
                out[f"{f.parent.name}/{f.name}"] = sorted(tuple(r) for r in csv.reader(fh))
    return out


def kill_when(config: Path, env: dict[str, str], ready: Callable[[], bool]) -> None:
    proc = subprocess.Popen(command(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"the run ended before the kill point: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> tuple[Any, Any]:
    url = str(postgres_server.new_database())
    config, env = workspace(tmp_path_factory.mktemp("pg-clean"), url)
    done = subprocess.run(command(config), capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return ledger_content(url), pushed(config)


@pytest.mark.parametrize("point", ["pull", "push"])
def test_a_run_on_postgresql_killed_then_rerun_converges(
    tmp_path: Path, postgres_server: Any, reference: tuple[Any, Any], point: str
) -> None:
    ledger, lists = reference
    url = str(postgres_server.new_database())
    config, env = workspace(tmp_path, url)
    half = len(ledger["touches"]) // 2
    out = config.parent / "out"
    ready = {
        "pull": lambda: touches(url) >= half,
        "push": lambda: out.exists() and any(out.rglob("*.csv")),
    }[point]
    kill_when(config, env, ready)
    assert ledger_content(url) != ledger or pushed(config) != lists, "the kill left no work to do"
    for attempt in ("first", "second"):
        rerun = subprocess.run(command(config), capture_output=True, text=True, env=env)
        assert rerun.returncode == 0, f"{attempt} rerun: {rerun.stdout}\n{rerun.stderr}"
        assert ledger_content(url) == ledger, f"the ledger after the {attempt} rerun"
        assert pushed(config) == lists, f"the pushed lists after the {attempt} rerun"
