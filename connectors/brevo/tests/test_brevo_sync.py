"""``run_sync`` over real HTTP against the sandbox: clean runs, faults, and convergence after them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_brevo import BrevoConnector
from pressure_connector_brevo.testing import GENEROUS_LIMITS, BrevoSandbox

from pressure_sdk.config import ListConfig, WorkspaceConfig, parse_config
from pressure_sdk.ledger import Ledger, Member
from pressure_sdk.sync import run_sync

DAY = 86400
ENV = "BREVO_SYNC_KEY"
ACCOUNT = "velo-brevo"
LIST = "velo-marketing-pause"
#: midnight UTC four days ago: every event sits inside the first run's backfill
T0 = int(time.time()) // DAY * DAY - 4 * DAY


def scenario(sb: BrevoSandbox) -> None:
    """24 contacts; half get three campaigns in two days (over the cap), some transactional mail, one unsubscribes."""
    spring, summer, autumn = sb.campaign("spring"), sb.campaign("summer"), sb.campaign("autumn")
    for i in range(24):
        email = f"rider{i:02d}@velo.example"
        sb.add_contact(email, at=T0 - 30 * DAY)
        campaigns = (spring, summer, autumn) if i % 2 == 0 else (spring,)
        for n, cid in enumerate(campaigns):
            at = T0 + n * DAY // 2 + i * 60
            sb.add_event(email, "messagesSent", at, campaign=cid)
            if i % 3 == 0:
                sb.add_event(email, "opened", at + 300, campaign=cid)
                sb.add_event(email, "clicked", at + 400, campaign=cid, link=f"https://velo.example/c{cid}")
        sb.add_event(email, "requests", T0 + DAY + i * 60, message_id=f"<order-{i}@velo>")
        sb.add_event(email, "delivered", T0 + DAY + i * 60 + 5, message_id=f"<order-{i}@velo>")
    sb.add_event("rider01@velo.example", "userUnsubscription", T0 + DAY, campaign=spring)


def workspace(tmp_path: Path, sb: BrevoSandbox, **settings: Any) -> WorkspaceConfig:
    return parse_config(
        {
            "workspace": {"ledger": "ledger.db", "guard_min_size": 1000},
            "brands": {"velo": {}},
            "accounts": [
                {
                    "name": ACCOUNT,
                    "connector": "brevo",
                    "brand": "velo",
                    "credential_env": ENV,
                    "base_url": sb.url,
                    "settings": {
                        "events_page_size": 10,
                        "contacts_page_size": 5,
                        "folder_id": 1,
                        "import_poll_interval": 0,
                        **settings,
                    },
                    "lists": [{"name": LIST}],
                }
            ],
            "rules": [{"id": "weekly", "kind": "cap", "max": 2, "window": "7d", "families": ["marketing"]}],
        },
        base_dir=tmp_path,
    )


def start(monkeypatch: pytest.MonkeyPatch) -> BrevoSandbox:
    sb = BrevoSandbox(limits=GENEROUS_LIMITS, import_polls=1).start()
    sb.add_list("unrelated")  # folder 1 exists
    scenario(sb)
    monkeypatch.setenv(ENV, sb.credential)
    return sb


def snapshot(cfg: WorkspaceConfig) -> tuple[list[Any], list[Any], set[int]]:
    with Ledger(cfg.ledger_path) as led:
        touches = sorted(
            led.conn.execute(
                "SELECT c.email, t.at, t.uid, t.family, t.campaign "
                "FROM touches t JOIN contacts c ON c.id = t.contact_id"
            ).fetchall()
        )
        engagements = sorted(
            led.conn.execute(
                "SELECT c.email, e.at, e.uid, e.type FROM engagements e JOIN contacts c ON c.id = e.contact_id"
            ).fetchall()
        )
        members = {m.email for m in led.members(ACCOUNT, led.list_members(ACCOUNT, LIST))}
    return touches, engagements, members  # type: ignore[return-value]


@pytest.fixture
def clean(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]):
    """The ledger and list a run without faults ends with."""
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path_factory.mktemp("clean"), sb)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        touches, engagements, members = snapshot(cfg)
        yield touches, engagements, sb.list_members(LIST)
    finally:
        sb.stop()


def test_full_run_pulls_and_pushes(clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touches, engagements, on_platform = clean
    # 12 riders x 3 campaigns + 12 x 1, plus 24 transactional sends
    assert len(touches) == 48 + 24
    assert {t[3] for t in touches} == {"marketing", "transactional"}
    # riders 0, 6, 12, 18 open and click 3 campaigns, riders 3, 9, 15, 21 one: 16 opens, 16 clicks;
    # 24 transactional deliveries; 1 unsubscribe
    assert len(engagements) == 16 + 16 + 24 + 1
    assert {e[3] for e in engagements} == {"open", "click", "delivered", "unsubscribe"}
    # the capped (three campaigns in a week) and the unsubscribed are on the list
    assert {f"rider{i:02d}@velo.example" for i in range(0, 24, 2)} <= on_platform
    assert "rider01@velo.example" in on_platform


def test_second_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        first = snapshot(cfg)
        pushes = sb.count(method="POST", path="/contacts/lists/")
        again = run_sync(cfg)
        assert again.exit_code == 0 and again.accounts[0].pulled == 0
        assert snapshot(cfg) == first
        assert sb.count(method="POST", path="/contacts/lists/") == pushes
        assert all(not body.get("emailBlacklist") for body in sb.imports)
    finally:
        sb.stop()


FAULTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429 storm", {"kind": "rate_limit", "times": 1000, "path": "/contacts/7/campaignStats", "retry_after": 2}, {}),
    ("5xx beyond retries", {"kind": "status", "status": 502, "times": 1000, "path": "/contacts/9/campaignStats"}, {}),
    ("5xx on push", {"kind": "status", "status": 500, "times": 1000, "path": "/contacts/lists/2/contacts/add"}, {}),
    ("timeout", {"kind": "timeout", "delay": 0.6, "times": 1000, "path": "/smtp/statistics/events"}, {"timeout": 0.2}),
    ("malformed JSON", {"kind": "malformed", "times": 1, "path": "/contacts/3/campaignStats"}, {}),
    ("key revoked mid-run", {"kind": "revoke", "path": "/contacts/12/campaignStats"}, {}),
]


@pytest.mark.parametrize(("name", "fault", "settings"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_fails_the_account_then_a_rerun_converges(
    clean: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorded_sleeps: list[float],
    name: str,
    fault: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    sb = start(monkeypatch)
    try:
        faulty = workspace(tmp_path, sb, retry={"max_attempts": 3}, **settings)
        fault = dict(fault)
        kind = fault.pop("kind")
        sb.inject(kind, **fault)
        report = run_sync(faulty)
        account = report.accounts[0]
        assert report.exit_code == 1 and not account.ok and account.name == ACCOUNT
        assert sb.credential not in (account.error or "")
        if name == "key revoked mid-run":
            # the report names the account once; the error names the variable to fix
            assert f"account {ACCOUNT!r}" not in (account.error or "") and "401" in (account.error or "")
            assert f"check {ENV}" in (account.error or "")
        if name == "timeout":
            assert "timeout" in (account.error or "")
        # the fault happened, and the client did what it should: retried a transient one (3 tries in
        # all), never a malformed answer or a refused key
        tries = 1 if name in ("malformed JSON", "key revoked mid-run") else 3
        assert sb.fired == [(kind, sb.fired[0][1], f"/v3{fault['path']}")] * tries
        # the fault passes; the key is valid again; a plain rerun converges to the clean result
        sb.clear_faults()
        sb.revoke(False)
        rerun = run_sync(workspace(tmp_path, sb))
        assert rerun.exit_code == 0, rerun.accounts[0].error
        touches, engagements, _ = snapshot(faulty)
        assert (touches, engagements) == (clean[0], clean[1])
        assert sb.list_members(LIST) == clean[2]
        with Ledger(faulty.ledger_path) as led:
            assert {m.email for m in led.members(ACCOUNT, led.list_members(ACCOUNT, LIST))} == clean[2]
    finally:
        sb.stop()


# -- request counts for 10,000 list changes ------------------------------------------------------------


def measure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: int) -> dict[str, int]:
    sb = BrevoSandbox(limits=GENEROUS_LIMITS, import_polls=2).start()
    try:
        monkeypatch.setenv(ENV, sb.credential)
        list_id = sb.add_list(LIST)
        adds = [Member(i, f"m{i:05d}@velo.example", None) for i in range(1, 5001)]
        removes = [Member(i, f"r{i:05d}@velo.example", None) for i in range(5001, 10001)]
        for m in adds[missing:]:
            sb.add_contact(m.email)
        for m in removes:
            sb.add_contact(m.email, lists=(list_id,))
        cfg = workspace(tmp_path, sb)
        connector = BrevoConnector.from_account(cfg.accounts[0], cfg, 0)
        before = len(sb.requests)
        batches = list(connector.push(ListConfig(name=LIST, brand="velo"), adds, removes, adds))
        connector.close()
        assert sorted(c for b in batches for c in b.added) == [m.contact_id for m in adds]
        assert sorted(c for b in batches for c in b.removed) == [m.contact_id for m in removes]
        assert sb.list_members(LIST) == {m.email for m in adds}
        return {"requests": len(sb.requests) - before, "minimum": -(-5000 // 150) * 2}
    finally:
        sb.stop()


def test_push_10000_changes_request_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    existing = measure(tmp_path / "a", monkeypatch, missing=0)
    # 5,000 adds + 5,000 removes: 34 + 34 calls of 150, plus the one list lookup
    assert existing == {"requests": 34 + 34 + 1, "minimum": 68}
    with_missing = measure(tmp_path / "b", monkeypatch, missing=200)
    # + one lookup per failed email (200), one import, two process polls, and the confirmation read of
    # members modified since the import began: the 5,000 just added count too (10 full pages of 500;
    # the answer's count says the tenth is the last, so no empty page is asked for)
    assert with_missing["requests"] == 34 + 34 + 1 + 200 + 1 + 2 + 10


# -- drift: the list changed on Brevo behind the ledger's back ------------------------------------------


def test_a_list_deleted_by_hand_is_recreated_by_the_next_run(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        sb.delete_list(LIST)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        lrep = report.accounts[0].lists[0]
        assert "missing on the platform" in (lrep.drift or "") and lrep.added == len(clean[2])
        assert sb.list_members(LIST) == clean[2]
        assert run_sync(cfg).accounts[0].lists[0].drift is None  # repaired: the run after finds nothing
    finally:
        sb.stop()


def test_hand_edits_are_repaired_by_size_or_by_a_reconcile(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        on_list = sorted(clean[2])
        outsider = next(f"rider{i:02d}@velo.example" for i in range(24) if f"rider{i:02d}@velo.example" not in clean[2])
        # two members taken out by hand: the size differs, so a plain run reads the members and puts them back
        sb.edit_list(LIST, remove=(on_list[0], on_list[1]))
        report = run_sync(cfg)
        assert report.exit_code == 0 and report.accounts[0].lists[0].drift
        assert report.accounts[0].lists[0].added == 2 and sb.list_members(LIST) == clean[2]
        # one out, one in: the size is the same, so only a reconcile (the full membership) sees it
        sb.edit_list(LIST, add=(outsider,), remove=(on_list[2],))
        assert run_sync(cfg).accounts[0].lists[0].drift is None
        assert sb.list_members(LIST) != clean[2]
        report = run_sync(cfg, reconcile=True)
        lrep = report.accounts[0].lists[0]
        assert report.exit_code == 0 and lrep.drift and (lrep.added, lrep.removed) == (1, 1)
        assert sb.list_members(LIST) == clean[2]
    finally:
        sb.stop()
