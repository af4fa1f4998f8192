"""The operator's side of the CLI: verbosity anywhere, JSON logs, run history in ``status``,
the lock's exit code and record, ledger path problems in ``run`` and ``check``."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pressure_sdk.cli import cli
from pressure_sdk.cli.base import JsonFormatter, Output, TextFormatter, configure_logging
from pressure_sdk.lock import WorkspaceLock

CONFIG = """
[workspace]
ledger = "ledger.db"
now = "2026-11-16T12:00:00+01:00"

[brands.acme]

[[accounts]]
name = "acme"
connector = "files"
brand = "acme"
settings = { touches = ["touches.csv"], engagements = ["engagements.csv"], out_dir = "out" }
lists = [{ name = "acme-marketing-email" }]

[[rules]]
id = "email-weekly"
kind = "cap"
max = 1
window = "7d"
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


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_verbosity_and_log_format_are_accepted_before_or_after_the_command(ws: Path) -> None:
    before = invoke("-v", "run", "--config", str(ws), "--dry-run")
    after = invoke("run", "--config", str(ws), "--dry-run", "-v")
    assert before.exit_code == after.exit_code == 0, before.output + after.output
    # -v: every phase is told, on stderr, with a timestamp; the report stays alone on stdout
    line = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO pressure_sdk\.progress: acme pull: .*; done$"
    assert re.search(line, before.stderr, re.M) and re.search(line, after.stderr, re.M), after.stderr
    assert after.stdout.startswith("pressure-sync run (dry run")
    quiet = invoke("run", "-q", "--config", str(ws), "--dry-run", "-v", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    logged = invoke("run", "--config", str(ws), "--json", "--log-format", "json", "-v")
    assert logged.exit_code == 0
    records = [json.loads(x) for x in logged.stderr.splitlines()]
    pull = [r for r in records if r.get("phase") == "pull" and r["message"].endswith("; done")]
    assert pull and pull[0]["account"] == "acme" and pull[0]["done"] == 4 and pull[0]["level"] == "info"
    assert json.loads(logged.stdout)["ok"] is True


def test_every_command_takes_the_output_options() -> None:
    for command in ("run", "check", "status", "decide", "plan", "forget", "connectors"):
        out = invoke(command, "--help").output
        assert "-v, --verbose" in out and "-q, --quiet" in out and "--log-format [text|json]" in out, command


def test_status_shows_the_last_runs_and_readable_watermarks(ws: Path) -> None:
    assert invoke("run", "--config", str(ws)).exit_code == 0
    (ws.parent / "touches.csv").unlink()  # the next run fails, and says why
    assert invoke("run", "--config", str(ws)).exit_code == 1
    text = invoke("status", "--config", str(ws))
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    at = lines.index("last runs, newest first:")
    assert lines[at + 1].split() == ["run", "started", "took", "result", "accounts", "ok", "pulled", "pushed", "--now"]
    assert re.match(r"^  2 +\d{4}-\d\d-\d\dT\S+ +\S+ s +failed +0/1 +0 +\+0 -0$", lines[at + 3]), lines[at + 3]
    assert re.match(r"^  1 +\d{4}-\d\d-\d\dT\S+ +\S+ s +ok +1/1 +4 +\+3 -0$", lines[at + 4]), lines[at + 4]
    assert lines[at + 5].startswith("  run 2 (failed): acme: pull: ") and "touches.csv" in lines[at + 5]
    assert re.search(r"^  acme events: 2 files imported \(saved \d{4}-", text.stdout, re.M)
    assert "sha256" not in text.stdout and not re.search(r"[0-9a-f]{64}", text.stdout)

    data = json.loads(invoke("status", "--config", str(ws), "--json", "--runs", "1").stdout)
    (last,) = data["runs"]
    assert (last["id"], last["result"], last["exit_code"]) == (2, "failed", 1)
    assert last["accounts"][0]["name"] == "acme" and last["accounts"][0]["ok"] is False
    assert re.match(r"\d{4}-\d\d-\d\dT", data["last_ok_run_at"])
    (mark,) = data["watermarks"]
    assert (mark["account"], mark["kind"], mark["summary"]) == ("acme", "events", "2 files imported")
    assert len(mark["state"]["files"]) == 2


def test_status_reads_epoch_watermarks_as_iso_times() -> None:
    from pressure_sdk.cli.status import describe_state

    assert describe_state({"until": 1_794_826_800_000}) == "until 2026-11-16T11:00:00+00:00"
    assert describe_state({"since": 1_794_826_800, "offset": 500}) == "since 2026-11-16T11:00:00+00:00, offset 500"
    assert describe_state({"tx": "2026-11-16T11:00:00Z", "campaigns": {"done": "2026-11-15"}}) == (
        "tx 2026-11-16T11:00:00Z, campaigns (done 2026-11-15)"
    )
    assert describe_state({"files": {"a.csv": "0" * 64}}) == "1 file imported"


def test_a_run_that_finds_the_lock_held_prints_its_record_and_exits_75(ws: Path) -> None:
    with WorkspaceLock(ws.parent / "ledger.db.lock"):
        as_json = invoke("run", "--config", str(ws), "--json")
        text = invoke("run", "--config", str(ws))
    assert as_json.exit_code == text.exit_code == 75
    record = json.loads(as_json.stdout)
    assert record["ok"] is False and record["locked"] is True and record["exit_code"] == 75
    assert "holds" in record["error"] and "--wait" in record["error"] and record["accounts"] == []
    assert text.stdout == "" and "another pressure-sync run" in text.stderr
    # and nothing was recorded as a run
    assert json.loads(invoke("status", "--config", str(ws), "--json").stdout)["runs"] == []


def test_a_ledger_under_a_file_is_exit_2_with_the_path_in_run_and_check(ws: Path) -> None:
    (ws.parent / "state").write_text("a file where the ledger's folder should be")
    ws.write_text(CONFIG.replace('ledger = "ledger.db"', 'ledger = "state/ledger.db"'))
    where = f"{ws.parent / 'state'} is a file, not a folder"
    text = invoke("run", "--config", str(ws))
    assert text.exit_code == 2 and where in text.stderr and "Traceback" not in text.output
    as_json = invoke("run", "--config", str(ws), "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["ok"] is False and where in json.loads(as_json.stdout)["error"]
    check = invoke("check", "--config", str(ws))
    assert (
        check.exit_code == 2 and f"FAILED ledger: ledger {ws.parent / 'state' / 'ledger.db'}: {where}" in check.stdout
    )
    assert "ok     acme" in check.stdout  # the accounts are still checked
    data = json.loads(invoke("check", "--config", str(ws), "--json").stdout)
    assert data["ok"] is False and data["ledger"]["ok"] is False and where in data["ledger"]["message"]
    for command in (["status"], ["forget", "ana@example.com", "--yes"]):
        other = invoke(*command, "--config", str(ws))
        assert other.exit_code == 2 and where in other.stderr, command


def test_check_says_the_ledger_is_writable_and_when_the_last_run_was(ws: Path) -> None:
    first = invoke("check", "--config", str(ws))
    assert first.exit_code == 0 and f"ok     ledger: {ws.parent / 'ledger.db'}: readable and writable; no run yet" in (
        first.stdout
    )
    invoke("run", "--config", str(ws))
    data = json.loads(invoke("check", "--config", str(ws), "--json").stdout)
    assert data["ok"] is True and data["ledger"]["ok"] is True and data["ledger"]["message"].endswith(": ok")


# -- log lines --------------------------------------------------------------------------------


def _log(verbosity: int, fmt: str = "text") -> str:
    err = io.StringIO()
    saved = sys.stderr
    sys.stderr = err
    try:
        configure_logging(Output(verbosity, fmt))
        logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection (1): api.example.test")
        logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
        logging.getLogger("pressure_sdk.sync").info("pulled acme")
        logging.getLogger("pressure_connector_hubspot").debug("page 3")
        logging.getLogger("pressure_sdk.progress").info("acme pull: 10 records", extra={"progress": {"done": 10}})
        logging.getLogger("pressure_sdk.sync").error("acme failed")
    finally:
        sys.stderr = saved
        configure_logging(Output())
    return err.getvalue()


def test_verbosity_levels_and_third_party_debug_only_at_the_highest() -> None:
    quiet, default, v, vv, vvv = (_log(n) for n in (-1, 0, 1, 2, 3))
    assert "acme failed" in quiet and "acme pull" not in quiet and "pool is full" not in quiet
    assert "acme pull: 10 records" in default and "pool is full" in default and "pulled acme" not in default
    assert "pulled acme" in v and "page 3" not in v
    assert "page 3" in vv and "Starting new HTTPS connection" not in vv
    assert "Starting new HTTPS connection" in vvv
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"
    assert re.search(rf"^{stamp} INFO pressure_sdk\.progress: acme pull: 10 records$", default, re.M), default


def test_json_log_format_is_one_object_per_line_with_the_progress_figures() -> None:
    lines = [json.loads(line) for line in _log(1, "json").splitlines()]
    assert {line["logger"] for line in lines} >= {"pressure_sdk.sync", "pressure_sdk.progress"}
    bar = next(line for line in lines if line["logger"] == "pressure_sdk.progress")
    assert bar["done"] == 10 and bar["level"] == "info" and re.match(r"\d{4}-\d\d-\d\dT", bar["time"])


def test_log_lines_carry_the_exception_of_a_record() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("pressure_sdk.sync", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info())
    assert "failed x" in TextFormatter().format(record) and "ValueError: bad" in TextFormatter().format(record)
    assert "ValueError: bad" in JsonFormatter().format(record)
