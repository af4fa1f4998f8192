"""`pressure-sync run` on a PostgreSQL ledger: the same runs as on SQLite, and run locks per client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.errors import LockedError
from pressure_sdk.ledger import open_ledger
from pressure_sdk.lock import run_lock
from pressure_sdk.sync import run_sync

from .test_sync import DAY, NOW, MemoryConnector, memory_connector, seed, workspace  # noqa: F401 - the fixture


def on(cfg: Any, target: str) -> Any:
    return cfg.model_copy(update={"workspace": cfg.workspace.model_copy(update={"ledger": target})})


def figures(report: Any) -> list[Any]:
    return [
        (
            a.name,
            a.ok,
            a.pulled,
            a.touches_added,
            a.engagements_added,
            [(x.name, x.size, x.added, x.removed) for x in a.lists],
        )
        for a in report.accounts
    ]


def test_runs_on_postgresql_push_what_runs_on_sqlite_push(tmp_path: Path, postgres_url: str) -> None:
    pushed: dict[str, Any] = {}
    runs: dict[str, list[Any]] = {}
    for name, target in (("sqlite", str(tmp_path / "l.db")), ("postgresql", postgres_url)):
        seed()
        MemoryConnector.PUSHED.clear()
        cfg = on(workspace(tmp_path), target)
        dry = run_sync(cfg, now=NOW, dry_run=True)
        with open_ledger(cfg.ledger_target) as led:  # a dry run leaves nothing a later run would read
            assert (led.count("touches"), led.watermark("acme"), led.list_sizes()) == (0, None, [])
        first, again, later = run_sync(cfg, now=NOW), run_sync(cfg, now=NOW), run_sync(cfg, now=NOW + 10 * DAY)
        runs[name] = [figures(r) for r in (dry, first, again, later)]
        pushed[name] = {k: list(v) for k, v in MemoryConnector.PUSHED.items()}
        with open_ledger(cfg.ledger_target) as led:
            assert [r.result for r in led.runs()] == ["ok", "ok", "ok"]
            members = led.members("acme", led.list_members("acme", "acme-mkt"))
        assert [m.email for m in members] == ["unsub@x.com"]
    assert runs["postgresql"] == runs["sqlite"]
    assert pushed["postgresql"] == pushed["sqlite"] and pushed["sqlite"]


def test_runs_of_other_clients_do_not_wait_and_a_run_of_the_same_client_does(postgres_url: str) -> None:
    held = run_lock(postgres_url, "agency", ["maison"])
    with held:
        with run_lock(postgres_url, "agency", ["velo"]):  # another client: at once
            pass
        with run_lock(postgres_url, "other-workspace", ["maison"]):  # another workspace
            pass
        with pytest.raises(LockedError, match="client 'maison'.*--wait"):
            run_lock(postgres_url, "agency", ["velo", "maison"], wait=0.3).acquire()
    # released with its session: the client is free again
    with run_lock(postgres_url, "agency", ["maison", "velo"]):
        pass


def test_a_run_on_postgresql_is_refused_while_its_client_is_locked(tmp_path: Path, postgres_url: str) -> None:
    seed()
    cfg = on(workspace(tmp_path), postgres_url)
    with run_lock(postgres_url, cfg.workspace.name, ["default"]), pytest.raises(LockedError, match="--wait"):
        run_sync(cfg, now=NOW)
    assert run_sync(cfg, now=NOW).ok


def test_the_workspace_ledger_key_takes_a_url(tmp_path: Path, postgres_url: str) -> None:
    cfg = parse_config({"workspace": {"ledger": postgres_url}, "brands": {"acme": {}}}, base_dir=tmp_path)
    from pressure_sdk.workspace import Workspace

    with Workspace(cfg) as ws:
        assert ws.reserve("a@x.com", "email", "acme", "marketing", NOW).allowed
    with open_ledger(postgres_url) as led:
        assert led.count("touches") == 1
    assert not list(tmp_path.iterdir())  # no file made for a URL


def test_cli_check_status_and_forget_on_a_postgresql_workspace(tmp_path: Path, postgres_url: str) -> None:
    import json

    from click.testing import CliRunner

    from pressure_sdk.cli import cli
    from pressure_sdk.workspace import Workspace

    url = postgres_url.replace("postgres@", "postgres:not-shown@")  # trust auth: any password
    toml = tmp_path / "pressure.toml"
    toml.write_text(f'[workspace]\nledger = "{url}"\n\n[brands.acme]\n')
    with Workspace.open(toml) as ws:
        assert ws.reserve("gone@x.com", "email", "acme", "marketing", NOW).allowed
        assert ws.reserve("kept@x.com", "email", "acme", "marketing", NOW).allowed

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, [*args, "--config", str(toml)])
        return result.exit_code, result.output

    code, out = invoke("check")
    assert code == 0 and "readable and writable" in out, out
    code, out = invoke("status", "--json")
    assert code == 0, out
    status = json.loads(out)
    assert status["ledger"] == url.replace("not-shown", "***") and status["touches"] == 2
    code, out = invoke("forget", "gone@x.com", "--yes")
    assert code == 0 and "erased gone@x.com from default" in out, out
    for _code, out in (invoke("check"), invoke("status"), invoke("forget", "kept@x.com")):
        assert "not-shown" not in out
    with open_ledger(postgres_url) as led:
        assert led.contact("gone@x.com") is None and led.count("touches") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["pressure.toml"]
