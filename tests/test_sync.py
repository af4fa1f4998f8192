"""Sync orchestration against an in-process connector registered by hand."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pressure_sdk.config import ListConfig, WorkspaceConfig, parse_config
from pressure_sdk.connectors import Connector, PushBatch, register
from pressure_sdk.connectors.registry import unregister
from pressure_sdk.errors import ConnectorError, LockedError, UnknownConnectorError
from pressure_sdk.ledger import Ledger, Member
from pressure_sdk.lock import WorkspaceLock
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.sync import run_sync

NOW = 1_790_000_000
DAY = 86400


class MemorySettings(BaseModel):
    batch: int = 2
    fail_pull: bool = False
    fail_push_after: int | None = None


class MemoryConnector(Connector):
    """Serves events from ``SOURCES[account]``; records pushes in ``PUSHED[account]``."""

    name = "memory"
    settings_model = MemorySettings
    max_batch = 2
    SOURCES: dict[str, list[Touch | Engagement]] = {}
    PUSHED: dict[str, list[tuple[str, list[str], list[str]]]] = {}

    def check(self) -> str:
        return "in memory"

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        if self.settings.fail_pull:
            raise ConnectorError("platform said 503", connector=self.name)
        events = self.SOURCES.get(self.account.name, [])
        start = (state or {}).get("next", 0)
        for i in range(start, len(events), self.settings.batch):
            chunk = events[i : i + self.settings.batch]
            yield Batch(
                touches=[e for e in chunk if isinstance(e, Touch)],
                engagements=[e for e in chunk if isinstance(e, Engagement)],
                state={"next": i + len(chunk)},
            )

    def push(
        self, lst: ListConfig, adds: Sequence[Member], removes: Sequence[Member], members: Sequence[Member]
    ) -> Iterator[PushBatch]:
        log = self.PUSHED.setdefault(self.account.name, [])
        for n, i in enumerate(range(0, max(len(adds), len(removes)), self.max_batch)):
            if self.settings.fail_push_after is not None and n >= self.settings.fail_push_after:
                raise ConnectorError("list endpoint returned 500", connector=self.name)
            a, r = adds[i : i + self.max_batch], removes[i : i + self.max_batch]
            log.append((lst.name, [m.email for m in a], [m.email for m in r]))
            yield PushBatch([m.contact_id for m in a], [m.contact_id for m in r])


@pytest.fixture(autouse=True)
def memory_connector() -> Iterator[None]:
    register("memory", MemoryConnector)
    MemoryConnector.SOURCES = {}
    MemoryConnector.PUSHED = {}
    yield
    unregister("memory")


def workspace(tmp_path: Path, **settings: Any) -> WorkspaceConfig:
    return parse_config(
        {
            "workspace": {"ledger": "ledger.db", "guard_min_size": 2},
            "brands": {"acme": {}, "beta": {}},
            "accounts": [
                {
                    "name": "acme",
                    "connector": "memory",
                    "brand": "acme",
                    "settings": settings,
                    "lists": [{"name": "acme-mkt"}],
                },
                {"name": "beta", "connector": "memory", "brand": "beta", "lists": [{"name": "beta-mkt"}]},
            ],
            "rules": [{"id": "weekly", "kind": "cap", "max": 2, "window": "7d", "families": ["marketing"]}],
        },
        base_dir=tmp_path,
    )


def mk(i: int, email: str, brand: str, days_ago: float, family: str = "marketing") -> Touch:
    return Touch(f"{brand}-{i}", email, "email", brand, family, int(NOW - days_ago * DAY))


def seed() -> None:
    MemoryConnector.SOURCES["acme"] = [
        mk(1, "busy@x.com", "acme", 1),
        mk(2, "busy@x.com", "acme", 2),
        mk(3, "calm@x.com", "acme", 1),
        mk(4, "old@x.com", "acme", 20),
        mk(5, "old@x.com", "acme", 21),
        Engagement("u1", "unsub@x.com", "unsubscribe", NOW - 40 * DAY, "email"),
    ]
    MemoryConnector.SOURCES["beta"] = [mk(1, "busy@x.com", "beta", 1)]


def test_run_pulls_scores_suppresses_and_pushes(tmp_path: Path) -> None:
    seed()
    report = run_sync(workspace(tmp_path), now=NOW)
    assert report.ok and report.exit_code == 0
    acme = report.accounts[0]
    assert (acme.pulled, acme.touches_added, acme.engagements_added) == (6, 5, 1)
    assert acme.lists[0].size == 2 and acme.lists[0].added == 2 and acme.lists[0].pushed
    pushed = sorted(e for _, adds, _ in MemoryConnector.PUSHED["acme"] for e in adds)
    # busy@ hit the brand cap; unsub@ is suppressed by consent; calm@ and old@ are free
    assert pushed == ["busy@x.com", "unsub@x.com"]
    # brand scope: beta sent only one, so busy@ is not on beta's list
    assert report.accounts[1].lists[0].size == 0
    assert report.contacts_scored == 4
    as_json = report.as_dict()
    assert as_json["ok"] is True and as_json["dry_run"] is False
    assert {"name", "connector", "ok", "pulled", "error", "lists"} <= set(as_json["accounts"][0])
    assert {"name", "size", "added", "removed"} <= set(as_json["accounts"][0]["lists"][0])


def test_second_run_imports_and_pushes_nothing(tmp_path: Path) -> None:
    seed()
    cfg = workspace(tmp_path)
    run_sync(cfg, now=NOW)
    pushes = len(MemoryConnector.PUSHED["acme"])
    again = run_sync(cfg, now=NOW)
    assert again.accounts[0].pulled == 0
    assert again.accounts[0].lists[0].added == 0 and again.accounts[0].lists[0].removed == 0
    assert len(MemoryConnector.PUSHED["acme"]) == pushes


def test_time_passing_removes_capped_contact_but_never_the_unsubscribed(tmp_path: Path) -> None:
    seed()
    cfg = workspace(tmp_path)
    run_sync(cfg, now=NOW)
    later = run_sync(cfg, now=NOW + 10 * DAY)
    lst = later.accounts[0].lists[0]
    assert (lst.size, lst.removed) == (1, 1)
    with Ledger(cfg.ledger_path) as led:
        members = led.members("acme", led.list_members("acme", "acme-mkt"))
    assert [m.email for m in members] == ["unsub@x.com"]


def test_dry_run_pushes_nothing_and_records_nothing(tmp_path: Path) -> None:
    seed()
    cfg = workspace(tmp_path)
    report = run_sync(cfg, now=NOW, dry_run=True)
    assert report.dry_run and report.accounts[0].lists[0].added == 2
    assert MemoryConnector.PUSHED == {}
    with Ledger(cfg.ledger_path) as led:
        assert led.list_members("acme", "acme-mkt") == set()


def test_failed_account_does_not_stop_the_others(tmp_path: Path) -> None:
    seed()
    report = run_sync(workspace(tmp_path, fail_pull=True), now=NOW)
    assert report.exit_code == 1
    acme, beta = report.accounts
    assert not acme.ok and "platform said 503" in (acme.error or "")
    assert acme.lists == []  # nothing pushed for an account whose pull failed
    assert beta.ok and beta.touches_added == 1


def test_failed_push_batch_is_retried_next_run(tmp_path: Path) -> None:
    MemoryConnector.SOURCES["acme"] = [mk(i * 10 + j, f"c{i}@x.com", "acme", j + 1) for i in range(5) for j in range(3)]
    cfg = workspace(tmp_path, fail_push_after=1)
    first = run_sync(cfg, now=NOW)
    assert first.exit_code == 1 and "list endpoint returned 500" in (first.accounts[0].error or "")
    with Ledger(cfg.ledger_path) as led:
        assert len(led.list_members("acme", "acme-mkt")) == 2  # only the confirmed batch
    second = run_sync(workspace(tmp_path), now=NOW)
    assert second.ok
    assert second.accounts[0].lists[0].added == 3
    with Ledger(cfg.ledger_path) as led:
        assert len(led.list_members("acme", "acme-mkt")) == 5


def test_mass_removal_guard_stops_unless_forced(tmp_path: Path) -> None:
    MemoryConnector.SOURCES["acme"] = [mk(i * 10 + j, f"c{i}@x.com", "acme", j + 1) for i in range(4) for j in range(3)]
    cfg = workspace(tmp_path)
    run_sync(cfg, now=NOW)
    stopped = run_sync(cfg, now=NOW + 30 * DAY)
    assert stopped.exit_code == 1
    assert "would remove 4 of 4" in (stopped.accounts[0].lists[0].error or "")
    with Ledger(cfg.ledger_path) as led:
        assert len(led.list_members("acme", "acme-mkt")) == 4
    forced = run_sync(cfg, now=NOW + 30 * DAY, force=True)
    assert forced.ok and forced.accounts[0].lists[0].removed == 4


def test_second_run_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    cfg = workspace(tmp_path)
    with WorkspaceLock(f"{cfg.ledger_path}.lock"), pytest.raises(LockedError, match="--wait"):
        run_sync(cfg, now=NOW)


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    import subprocess
    import sys

    lock = tmp_path / "ledger.db.lock"
    code = (
        f"from pressure_sdk.lock import WorkspaceLock; l = WorkspaceLock({str(lock)!r}); "
        "l.acquire(); import os; os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert lock.exists()
    seed()
    assert run_sync(workspace(tmp_path), now=NOW).ok


def test_unknown_connector_is_a_config_error(tmp_path: Path) -> None:
    cfg = parse_config({"accounts": [{"name": "x", "connector": "nosuch"}]}, base_dir=tmp_path)
    with pytest.raises(UnknownConnectorError, match="unknown connector 'nosuch'; installed: .*memory"):
        run_sync(cfg)
    assert UnknownConnectorError("x").exit_code == 2


def every_table(path: Path) -> dict[str, list[tuple[object, ...]]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(conn.execute(f"SELECT * FROM [{n}]").fetchall(), key=repr) for n in names}
    finally:
        conn.close()


def test_a_dry_run_leaves_every_table_as_it_was_even_in_the_future(tmp_path: Path) -> None:
    seed()
    cfg = workspace(tmp_path)
    run_sync(cfg, now=NOW)
    before = every_table(tmp_path / "ledger.db")
    MemoryConnector.SOURCES["acme"] += [mk(50 + i, f"new{i}@x.com", "acme", 0.5) for i in range(3)]
    for when in (NOW, NOW + 400 * DAY):
        report = run_sync(cfg, now=when, dry_run=True)
        assert report.ok and report.accounts[0].touches_added == 3
        assert every_table(tmp_path / "ledger.db") == before
    assert MemoryConnector.PUSHED.get("beta") is None
    # the next real run sees the new events and the lists as of its own time
    real = run_sync(cfg, now=NOW)
    assert real.accounts[0].touches_added == 3
    assert every_table(tmp_path / "ledger.db") != before


def test_a_mass_addition_stops_unless_forced(tmp_path: Path) -> None:
    MemoryConnector.SOURCES["acme"] = [mk(i * 10 + j, f"c{i}@x.com", "acme", j + 1) for i in range(2) for j in range(3)]
    cfg = workspace(tmp_path)
    assert run_sync(cfg, now=NOW).accounts[0].lists[0].added == 2
    MemoryConnector.SOURCES["acme"] += [
        mk(100 + i * 10 + j, f"n{i}@x.com", "acme", j + 1) for i in range(3) for j in range(3)
    ]
    stopped = run_sync(cfg, now=NOW)
    assert stopped.exit_code == 1
    assert "would grow the list from 2 to 5 contacts" in (stopped.accounts[0].lists[0].error or "")
    with Ledger(cfg.ledger_path) as led:
        assert len(led.list_members("acme", "acme-mkt")) == 2
    forced = run_sync(cfg, now=NOW, force=True)
    assert forced.ok and forced.accounts[0].lists[0].added == 3


def test_an_import_naming_an_unknown_brand_fails_that_account_and_writes_nothing(tmp_path: Path) -> None:
    MemoryConnector.SOURCES["acme"] = [mk(1, "a@x.com", "acme", 1), mk(2, "b@x.com", "vello", 1)]
    MemoryConnector.SOURCES["beta"] = [mk(3, "c@x.com", "beta", 1)]
    report = run_sync(workspace(tmp_path), now=NOW)
    acme, beta = report.accounts
    assert not acme.ok and "touch 'vello-2': brand: unknown brand 'vello'" in (acme.error or "")
    assert beta.ok
    with Ledger(tmp_path / "ledger.db") as led:
        assert led.contact("a@x.com") is None and led.contact("c@x.com") is not None
        assert led.watermark("acme") is None


def test_a_failed_account_is_named_once_in_its_error() -> None:
    from pressure_sdk.sync import AccountReport

    rep = AccountReport("maison-paris", "hubspot")
    rep.fail("pull: account 'maison-paris': environment variable HUBSPOT_TOKEN is not set")
    rep.fail("push l: account 'maison-paris' (HUBSPOT_TOKEN): → 401: bad token")
    rep.fail("push m: account 'velo': another account's words stay")
    assert rep.error == (
        "pull: environment variable HUBSPOT_TOKEN is not set; push l: → 401: bad token; "
        "push m: account 'velo': another account's words stay"
    )


def test_connectors_pull_windows_follow_the_workspace_clock(tmp_path: Path) -> None:
    import time

    from pressure_sdk.sync import build_connectors

    frozen = parse_config(
        {
            "workspace": {"now": "2026-11-16T09:00:00+01:00"},
            "brands": {"acme": {}},
            "accounts": [{"name": "acme", "connector": "memory", "brand": "acme"}],
        },
        base_dir=tmp_path,
    )
    (conn,) = build_connectors(frozen, frozen.accounts).values()
    assert conn.now() == frozen.clock == 1_794_816_000
    live = parse_config(
        {"brands": {"acme": {}}, "accounts": [{"name": "acme", "connector": "memory", "brand": "acme"}]},
        base_dir=tmp_path,
    )
    (conn,) = build_connectors(live, live.accounts).values()
    assert abs(conn.now() - time.time()) < 5
