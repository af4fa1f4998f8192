"""The demo runs on PostgreSQL with one variable, and gives the lists it gives on SQLite."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).parents[1] / "examples" / "demo"

pytestmark = pytest.mark.slow


def run(root: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "pressure_sdk", "run", "--config", str(root / "pressure.toml"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def lists(root: Path) -> dict[str, set[str]]:
    out = {}
    for f in sorted((root / "out").rglob("*.csv")):
        if not f.name.endswith((".adds.csv", ".removes.csv")):
            with f.open(newline="") as fh:
                out[f"{f.parent.name}/{f.name}"] = {r["email"] for r in csv.DictReader(fh)}
    return out


def test_the_demo_on_postgresql_pushes_the_lists_it_pushes_on_sqlite(tmp_path: Path, postgres_server: Any) -> None:
    sizes = []
    for name, ledger in (("sqlite", None), ("postgresql", str(postgres_server.new_database()))):
        root = tmp_path / name
        shutil.copytree(DEMO / "data", root / "data")
        shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
        env = {k: v for k, v in os.environ.items() if k != "PRESSURE_LEDGER"}
        if ledger:
            env["PRESSURE_LEDGER"] = ledger
        report = run(root, env)
        assert report["ok"]
        sizes.append(
            ([(a["name"], [(lst["name"], lst["size"]) for lst in a["lists"]]) for a in report["accounts"]], lists(root))
        )
        if ledger:
            assert not (root / ".pressure" / "ledger.db").exists()  # the variable won over the file
    assert sizes[0] == sizes[1]
