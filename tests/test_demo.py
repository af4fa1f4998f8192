"""The bundled demo workspace, end to end through the CLI (on a copy, so the repo stays clean)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.ledger import Ledger

DEMO = Path(__file__).parents[1] / "examples" / "demo"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO / "data", root / "data")
    shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
    first = CliRunner().invoke(cli, ["run", "--config", str(root / "pressure.toml"), "--json"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli, ["run", "--config", str(root / "pressure.toml"), "--json"])
    assert second.exit_code == 0, second.output
    return root, json.loads(first.output), json.loads(second.output)


def rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_first_run_imports_every_exported_event_once(demo: tuple[Path, dict, dict]) -> None:
    root, first, _ = demo
    assert first["ok"] is True
    by_name = {a["name"]: a for a in first["accounts"]}
    for account in by_name:
        touches = len(rows(root / "data" / account / "touches.csv.gz"))
        engagements = len(rows(root / "data" / account / "engagements.csv.gz"))
        assert by_name[account]["touches_added"] == touches
        assert by_name[account]["engagements_added"] == engagements
    with Ledger(root / ".pressure" / "ledger.db") as led:
        assert led.count("touches") == sum(a["touches_added"] for a in first["accounts"])
        assert led.count("contacts") >= 5000


@pytest.mark.slow
def test_lists_are_pushed_as_files_and_hold_the_unsubscribed(demo: tuple[Path, dict, dict]) -> None:
    root, first, _ = demo
    for account in first["accounts"]:
        for lst in account["lists"]:
            path = root / "out" / account["name"] / f"{lst['name']}.csv"
            with path.open(newline="") as fh:
                members = {r["email"] for r in csv.DictReader(fh)}
            assert len(members) == lst["size"]
    # every contact who unsubscribed from email at maison-paris (and never came back) is suppressed
    events = sorted(rows(root / "data" / "maison-paris" / "engagements.csv.gz"), key=lambda r: r["occurred_at"])
    state: dict[str, str] = {}
    for e in events:
        if e["type"] in ("unsubscribe", "resubscribe", "complaint") and (e["channel"] or "email") == "email":
            state[e["email"]] = e["type"]
    gone = {email for email, last in state.items() if last != "resubscribe"}
    assert gone
    with (root / "out" / "maison-paris" / "paris-marketing-email.csv").open(newline="") as fh:
        listed = {r["email"] for r in csv.DictReader(fh)}
    assert gone <= listed


@pytest.mark.slow
def test_second_run_imports_and_pushes_nothing(demo: tuple[Path, dict, dict]) -> None:
    _, first, second = demo
    for acc in second["accounts"]:
        assert acc["pulled"] == 0
        assert all(lst["added"] == 0 and lst["removed"] == 0 for lst in acc["lists"])
    sizes = [lst["size"] for a in first["accounts"] for lst in a["lists"]]
    assert sizes == [lst["size"] for a in second["accounts"] for lst in a["lists"]]
    assert sum(sizes) > 0


@pytest.mark.slow
def test_demo_status_and_decide(demo: tuple[Path, dict, dict]) -> None:
    root, _, _ = demo
    out = CliRunner().invoke(cli, ["status", "--config", str(root / "pressure.toml"), "--json"])
    assert out.exit_code == 0
    status = json.loads(out.output)
    clients = status["clients"]
    assert set(clients["maison"]["touches_by"]["brand"]) == {"maison-paris", "maison-outlet"}
    assert set(clients["velo"]["touches_by"]["brand"]) == {"velo"}
    assert len(clients["maison"]["weekly_pressure_by_tier"]) >= 3
    with (root / "out" / "maison-paris" / "paris-marketing-email.csv").open(newline="") as fh:
        someone = next(csv.DictReader(fh))["email"]
    out = CliRunner().invoke(
        cli,
        [
            "decide",
            "--config",
            str(root / "pressure.toml"),
            "--email",
            someone,
            "--channel",
            "email",
            "--brand",
            "maison-paris",
            "--family",
            "marketing",
            "--json",
        ],
    )
    d = json.loads(out.output)
    assert d["allowed"] is False and d["reasons"]


@pytest.mark.slow
def test_demo_experiment_recovers_the_planted_effect(demo: tuple[Path, dict, dict]) -> None:
    """examples/demo/gen_experiment.py keeps 80 % of the cap2 arm's clicks: a -20 % effect."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_experiment", DEMO / "gen_experiment.py")
    assert spec is not None and spec.loader is not None
    planted = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(planted)
    root, _, _ = demo
    out = CliRunner().invoke(cli, ["experiment", "report", "--config", str(root / "pressure.toml"), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["id"] == planted.EXPERIMENT and not report["srm_alarm"]
    cap2 = next(a for a in report["arms"] if a["name"] == "cap2")
    assert cap2["stop"] is None and cap2["overrides"] == {"email-weekly": {"max": 2}}
    clicks = cap2["effects"]["clicks"]
    truth = planted.PLANTED_RELATIVE_EFFECT * clicks["control"]
    assert clicks["cuped"]["low"] <= truth <= clicks["cuped"]["high"]
    assert clicks["sequential"]["low"] <= truth <= clicks["sequential"]["high"]
    assert clicks["diff"]["high"] < 0  # and the fixed interval says there is an effect
