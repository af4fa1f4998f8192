"""The pressure-sync commands, through click's runner and a small files workspace."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli

CONFIG = """
[workspace]
ledger = "ledger.db"
timezone = "Europe/Paris"
now = "2026-11-16T12:00:00+01:00"

[brands.acme]
priority = 10

[brands.beta]
priority = 5

[[accounts]]
name = "acme"
connector = "files"
brand = "acme"
settings = { touches = ["touches.csv"], engagements = ["engagements.csv"], out_dir = "out" }
lists = [{ name = "acme-marketing-email" }]

[[rules]]
id = "email-weekly"
kind = "cap"
max = 2
window = "7d"
scope = "all"
channels = ["email"]
families = ["marketing"]
"""

TOUCHES = """event_id,email,channel,brand,family,sent_at
t1,ana@example.com,email,acme,marketing,2026-11-14T10:00:00+01:00
t2,ana@example.com,email,acme,marketing,2026-11-15T10:00:00+01:00
t3,bob@example.com,email,acme,marketing,2026-11-15T10:00:00+01:00
"""
ENGAGEMENTS = """event_id,email,type,occurred_at,channel
e1,cy@example.com,unsubscribe,2026-11-01T10:00:00+01:00,email
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "pressure.toml").write_text(CONFIG)
    (tmp_path / "touches.csv").write_text(TOUCHES)
    (tmp_path / "engagements.csv").write_text(ENGAGEMENTS)
    return tmp_path / "pressure.toml"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["run", "check", "decide", "plan", "status", "connectors", "forget"])
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    code, out = invoke(command, "--help")
    assert code == 0 and "Usage:" in out
    assert "--config" in out
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"pressure-sync {command}" in readme


def test_run_json_report_and_pushed_files(ws: Path) -> None:
    code, out = invoke("run", "--config", str(ws), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True and report["dry_run"] is False
    (acc,) = report["accounts"]
    assert acc["name"] == "acme" and acc["connector"] == "files" and acc["pulled"] == 4 and acc["error"] is None
    (lst,) = acc["lists"]
    assert (lst["name"], lst["size"], lst["added"], lst["removed"]) == ("acme-marketing-email", 2, 2, 0)
    rows = list(csv.DictReader((ws.parent / "out" / "acme-marketing-email.csv").open()))
    assert sorted(r["email"] for r in rows) == ["ana@example.com", "cy@example.com"]


def test_run_table_and_dry_run(ws: Path) -> None:
    code, out = invoke("run", "--config", str(ws), "--dry-run")
    assert code == 0
    assert "dry run" in out and "acme-marketing-email" in out and "1/1 accounts ok" in out
    assert not (ws.parent / "out").exists()


def test_bad_config_exits_2_and_names_the_key(ws: Path) -> None:
    ws.write_text(CONFIG.replace('window = "7d"', 'window = "a week"'))
    code, out = invoke("run", "--config", str(ws))
    assert code == 2
    assert "rules[0].window: expected a duration" in out


def test_unknown_option_is_usage_error() -> None:
    code, _ = invoke("run", "--no-such-flag")
    assert code == 2


def test_bad_export_row_fails_the_account_with_file_and_line(ws: Path) -> None:
    (ws.parent / "touches.csv").write_text(TOUCHES + "t4,dan@example.com,email,acme,marketing,yesterday\n")
    code, out = invoke("run", "--config", str(ws), "--json")
    assert code == 1
    err = json.loads(out)["accounts"][0]["error"]
    assert "touches.csv:5" in err and "sent_at" in err


def test_decide_json_and_text(ws: Path) -> None:
    assert invoke("run", "--config", str(ws))[0] == 0
    code, out = invoke(
        "decide",
        "--config",
        str(ws),
        "--email",
        "ANA@example.com",
        "--channel",
        "email",
        "--brand",
        "beta",
        "--family",
        "marketing",
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["allowed"] is False
    assert d["reasons"][0]["rule"] == "email-weekly" and d["reasons"][0]["kind"] == "cap"
    assert d["reasons"][0]["message"] == "cap:email-weekly 2/2 in 7d (all brands)"
    assert d["next_allowed_at"] == "2026-11-21T09:00:00+00:00"
    code, out = invoke(
        "decide",
        "--config",
        str(ws),
        "--email",
        "bob@example.com",
        "--channel",
        "email",
        "--brand",
        "acme",
        "--family",
        "marketing",
    )
    assert code == 0 and out.startswith("ALLOWED")
    code, out = invoke(
        "decide",
        "--config",
        str(ws),
        "--email",
        "x@example.com",
        "--channel",
        "email",
        "--brand",
        "acme",
        "--family",
        "marketing",
        "--at",
        "soon",
    )
    assert code == 2 and "ISO 8601" in out


def test_plan_writes_decisions_and_summary(ws: Path, tmp_path: Path) -> None:
    invoke("run", "--config", str(ws))
    cands = tmp_path / "cands.csv"
    cands.write_text(
        "candidate_id,email,channel,brand,family,planned_at,value\n"
        "c1,bob@example.com,email,beta,marketing,2026-11-17T10:00:00+01:00,1\n"
        "c2,bob@example.com,email,acme,marketing,2026-11-17T11:00:00+01:00,1\n"
        "c3,ana@example.com,email,acme,marketing,2026-11-17T10:00:00+01:00,9\n"
    )
    out_csv = tmp_path / "plan.csv"
    code, out = invoke("plan", "--config", str(ws), "--candidates", str(cands), "--out", str(out_csv))
    assert code == 0, out
    rows = {r["candidate_id"]: r for r in csv.DictReader(out_csv.open())}
    # acme outranks beta: c2 takes bob's last slot, c1 is rejected; ana is already capped
    assert rows["c2"]["decision"] == "accepted"
    assert rows["c1"]["decision"] == "rejected" and "email-weekly" in rows["c1"]["reasons"]
    assert rows["c3"]["decision"] == "rejected"
    assert "3 candidates: 1 accepted, 2 rejected" in out and "email-weekly" in out


def test_plan_bad_candidates_file_names_the_line(ws: Path, tmp_path: Path) -> None:
    cands = tmp_path / "cands.csv"
    cands.write_text(
        "candidate_id,email,channel,brand,family,planned_at\nc1,bob@example.com,email,acme,marketing,tomorrow\n"
    )
    code, out = invoke("plan", "--config", str(ws), "--candidates", str(cands), "--out", str(tmp_path / "o.csv"))
    assert code == 1
    assert "cands.csv:2: planned_at: expected an ISO 8601 timestamp" in out
    assert not (tmp_path / "o.csv").exists()


def test_status_json(ws: Path) -> None:
    invoke("run", "--config", str(ws))
    code, out = invoke("status", "--config", str(ws), "--json")
    assert code == 0
    s = json.loads(out)
    assert s["contacts"] == 3 and s["touches"] == 3
    assert s["clients"]["default"]["touches_by"]["brand"] == {"acme": 3}
    mine = s["clients"]["default"]
    levels = {lvl: n for dist in mine["weekly_pressure_by_tier"].values() for lvl, n in dist.items()}
    assert levels.get("2") == 1 and levels.get("1") == 1 and levels.get("0") == 1
    assert mine["lists"] == [{"account": "acme", "list": "acme-marketing-email", "size": 2}]


def test_connectors_lists_the_files_plugin() -> None:
    code, out = invoke("connectors", "--json")
    assert code == 0
    names = {c["name"]: c for c in json.loads(out)}
    assert names["files"]["distribution"] == "pressure-connector-files"


def test_connectors_with_a_config_shows_use_and_missing_plugins(ws: Path) -> None:
    code, out = invoke("connectors", "--config", str(ws), "--json")
    assert code == 0
    assert {c["name"]: c["used_by"] for c in json.loads(out)}["files"] == ["acme"]
    ws.write_text(CONFIG.replace('connector = "files"', 'connector = "nosuch"'))
    code, out = invoke("connectors", "--config", str(ws))
    assert code == 1
    assert "nosuch" in out and "NOT INSTALLED (pip install pressure-connector-nosuch)  used by acme" in out


def test_check_reports_each_account(ws: Path) -> None:
    code, out = invoke("check", "--config", str(ws))
    assert code == 0 and "ok" in out and "acme" in out
    (ws.parent / "touches.csv").unlink()
    code, out = invoke("check", "--config", str(ws), "--json")
    assert code == 1
    assert json.loads(out)["accounts"][0]["ok"] is False


def test_forget_erases_and_reimport_does_not_bring_back(ws: Path) -> None:
    invoke("run", "--config", str(ws))
    code, out = invoke("forget", "--config", str(ws), "ana@example.com", "--yes")
    assert code == 0 and "erased ana@example.com" in out
    (ws.parent / "touches.csv").write_text(
        TOUCHES + "t9,ana@example.com,email,acme,marketing,2026-11-16T10:00:00+01:00\n"
    )
    invoke("run", "--config", str(ws))
    code, out = invoke("status", "--config", str(ws), "--json")
    assert json.loads(out)["contacts"] == 2 and json.loads(out)["erased"] == 1


def test_a_deleted_or_edited_list_file_is_repaired_and_check_reports_it(ws: Path) -> None:
    assert invoke("run", "--config", str(ws))[0] == 0
    listed = ws.parent / "out" / "acme-marketing-email.csv"
    want = sorted(r["email"] for r in csv.DictReader(listed.open()))
    # lost: check says so (exit 1), the next run writes it again
    listed.unlink()
    code, out = invoke("check", "--config", str(ws))
    assert code == 1 and "list 'acme-marketing-email' is missing on the platform although 2 members" in out
    code, out = invoke("run", "--config", str(ws), "--json")
    assert code == 0
    (lst,) = json.loads(out)["accounts"][0]["lists"]
    assert lst["added"] == 2 and lst["drift"].startswith("missing on the platform")
    assert sorted(r["email"] for r in csv.DictReader(listed.open())) == want
    # edited by hand, same size: one member swapped for a stranger of the ledger
    listed.write_text("email,external_id\nana@example.com,\nbob@example.com,\n")
    code, out = invoke("run", "--config", str(ws), "--json")
    (lst,) = json.loads(out)["accounts"][0]["lists"]
    assert (lst["added"], lst["removed"]) == (1, 1) and "1 of the 2 confirmed" in lst["drift"]
    assert sorted(r["email"] for r in csv.DictReader(listed.open())) == want
    assert invoke("check", "--config", str(ws))[0] == 0
    # and a run with nothing changed reports no drift
    code, out = invoke("run", "--config", str(ws), "--json", "--reconcile")
    (lst,) = json.loads(out)["accounts"][0]["lists"]
    assert (lst["added"], lst["removed"], lst["drift"]) == (0, 0, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "e-mail", "--brand", "acme", "--family", "marketing"], "unknown channel 'e-mail'"),
        (["--channel", "email", "--brand", "vello", "--family", "marketing"], "unknown brand 'vello'; known: acme"),
        (["--channel", "email", "--brand", "acme", "--family", "promo"], "unknown family 'promo'"),
        (["--channel", "email", "--brand", "acme", "--family", "marketing", "--client", "x"], "unknown client 'x'"),
    ],
)
def test_decide_with_unknown_values_exits_2_naming_them(ws: Path, args: list[str], message: str) -> None:
    code, out = invoke("decide", "--config", str(ws), "--email", "ana@example.com", *args)
    assert code == 2 and message in out


def test_forget_erases_several_addresses_in_one_command(ws: Path) -> None:
    assert invoke("run", "--config", str(ws))[0] == 0
    code, out = invoke(
        "forget", "--config", str(ws), "ana@example.com", "CY@example.com", "nobody@example.com", "--yes"
    )
    assert code == 0, out
    assert "erased ana@example.com from default" in out and "erased cy@example.com from default" in out
    assert "nobody@example.com was not in the ledger" in out
    status = json.loads(invoke("status", "--config", str(ws), "--json")[1])
    assert (status["contacts"], status["erased"]) == (1, 3)
    # one bad address and nothing is erased
    code, out = invoke("forget", "--config", str(ws), "bob@example.com", "not an email", "--yes")
    assert code == 2 and "is not a valid email address" in out
    assert json.loads(invoke("status", "--config", str(ws), "--json")[1])["contacts"] == 1


def test_forget_rejects_what_is_not_an_email(ws: Path) -> None:
    for bad in ("", "not an email"):
        code, out = invoke("forget", "--config", str(ws), "--yes", bad)
        assert code == 2 and "is not a valid email address" in out
    assert not (ws.parent / "ledger.db").exists()


ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$"


def test_decide_json_gives_every_time_as_iso_8601(ws: Path) -> None:
    import re

    assert invoke("run", "--config", str(ws))[0] == 0
    code, out = invoke(
        "decide", "--config", str(ws), "--email", "ana@example.com", "--channel", "email", "--brand", "acme",
        "--family", "marketing", "--json",
    )  # fmt: skip
    assert code == 0, out
    d = json.loads(out)
    (reason,) = d["reasons"]
    assert reason["until"] == "2026-11-21T09:00:00+00:00"
    assert [t["at"] for t in reason["touches"]] == ["2026-11-14T09:00:00+00:00", "2026-11-15T09:00:00+00:00"]
    times = [d["at"], d["next_allowed_at"], reason["until"], *(t["at"] for t in reason["touches"])]
    assert all(isinstance(t, str) and re.match(ISO_UTC, t) for t in times), times


def test_sandbox_on_a_busy_port_exits_2_naming_the_port() -> None:
    import socket

    from pressure_sdk.connectors.registry import register, unregister

    from .toy_platform import ToyConnector, ToySandbox

    class ToyWithSandbox(ToyConnector):
        @classmethod
        def sandbox_class(cls) -> type[ToySandbox]:
            return ToySandbox

    register("toy-sandboxed", ToyWithSandbox)
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = CliRunner().invoke(cli, ["sandbox", "toy-sandboxed", "--port", str(port)])
    finally:
        unregister("toy-sandboxed")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output and "OSError" not in result.output


@pytest.mark.parametrize("command", ["why"])
def test_new_commands_have_help_and_are_in_the_readme(command: str) -> None:
    code, out = invoke(command, "--help")
    assert code == 0 and "Usage:" in out and "--config" in out
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"| `pressure-sync {command} " in readme


def test_forget_shows_what_it_will_erase_before_asking(ws: Path) -> None:
    assert invoke("run", "--config", str(ws))[0] == 0
    result = CliRunner().invoke(cli, ["forget", "--config", str(ws), "ana@example.com"], input="n\n")
    assert result.exit_code == 1  # declined: nothing erased
    preview = "  client default: 2 touches, 0 engagements, 0 consent changes, on 1 list (acme/acme-marketing-email)"
    lines = result.output.splitlines()
    assert lines[0] == f"ana@example.com in {ws.parent / 'ledger.db'}:"
    assert lines[1] == preview
    assert lines[2].startswith("Erase every trace of ana@example.com (every client)")
    assert json.loads(invoke("status", "--config", str(ws), "--json")[1])["contacts"] == 3
    result = CliRunner().invoke(cli, ["forget", "--config", str(ws), "cy@example.com"], input="y\n")
    assert result.exit_code == 0
    assert "  client default: 0 touches, 1 engagement, 1 consent change, on 1 list (acme/acme-marketing-email)" in (
        result.output
    )
    assert "erased cy@example.com from default" in result.output
    code, out = invoke("forget", "--config", str(ws), "cy@example.com", "--yes")
    assert code == 0 and "  client default: not in the ledger" in out


def test_forget_before_any_run_says_there_is_no_ledger(ws: Path) -> None:
    code, out = invoke("forget", "--config", str(ws), "ana@example.com", "--yes")
    assert code == 0
    assert f"ana@example.com: no ledger yet at {ws.parent / 'ledger.db'}; nothing to erase" in out


def test_init_has_help_and_is_in_the_readme() -> None:
    code, out = invoke("init", "--help")
    assert code == 0 and "--dir" in out and "--connector" in out and "--force" in out
    assert "| `pressure-sync init " in (Path(__file__).parents[1] / "README.md").read_text()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_plan_out_file_mode_follows_the_umask(ws: Path, tmp_path: Path, umask: int, mode: int) -> None:
    cands = tmp_path / "cands.csv"
    cands.write_text(
        "candidate_id,email,channel,brand,family,planned_at\nc1,bob@example.com,email,acme,marketing,2026-11-17T10:00:00Z\n"
    )
    out_csv = tmp_path / "plans" / "plan.csv"
    old = os.umask(umask)
    try:
        code, out = invoke("plan", "--config", str(ws), "--candidates", str(cands), "--out", str(out_csv))
    finally:
        os.umask(old)
    assert code == 0, out
    assert out_csv.stat().st_mode & 0o777 == mode
    assert [p.name for p in out_csv.parent.iterdir()] == ["plan.csv"]
