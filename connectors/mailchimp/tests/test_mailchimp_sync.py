"""``run_sync`` over real HTTP against the sandbox: clean runs, faults, and convergence after them.

Each fault test checks that the fault happened (the sandbox's log), what the client did
about it (retries, waits, or none), that the account failed alone and by name, and that a
plain rerun converges to the result of a run without faults.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_mailchimp.testing import MailchimpSandbox

from pressure_sdk.config import WorkspaceConfig, parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.sync import run_sync

DAY = 86400
ENV = "MAILCHIMP_SYNC_KEY"
ACCOUNT = "outlet-mailchimp"
LIST = "outlet-marketing-pause"
#: midnight UTC four days ago: every campaign sits inside the first run's backfill
T0 = int(time.time()) // DAY * DAY - 4 * DAY


def scenario(sb: MailchimpSandbox) -> dict[str, str]:
    """24 shoppers: half get three campaigns in a day (over the cap); some open, click, opt out or complain."""
    shoppers = [f"shopper{i:02d}@outlet.example" for i in range(24)]
    for email in shoppers:
        sb.add_member(email, at=T0 - 30 * DAY)
    even = shoppers[::2]
    ids = {
        "spring": sb.add_campaign("spring", T0, shoppers),
        "summer": sb.add_campaign("summer", T0 + DAY // 2, even),
        "autumn": sb.add_campaign("autumn", T0 + DAY, even),
    }
    for n, cid in enumerate(ids.values()):
        for i, email in enumerate(shoppers):
            if i % 3 == 0 and (n == 0 or i % 2 == 0):
                sb.add_activity(cid, email, "open", T0 + n * DAY // 2 + 300 + i)
                sb.add_activity(cid, email, "click", T0 + n * DAY // 2 + 400 + i, url=f"https://outlet.example/{n}")
    sb.add_unsubscribe(ids["spring"], "shopper01@outlet.example", T0 + DAY)
    sb.add_abuse(ids["spring"], "shopper05@outlet.example", T0 + DAY + 60)
    return ids


def workspace(tmp_path: Path, sb: MailchimpSandbox, **settings: Any) -> WorkspaceConfig:
    return parse_config(
        {
            "workspace": {"ledger": "ledger.db", "guard_min_size": 1000},
            "brands": {"outlet": {}},
            "accounts": [
                {
                    "name": ACCOUNT,
                    "connector": "mailchimp",
                    "brand": "outlet",
                    "credential_env": ENV,
                    "base_url": sb.url,
                    "settings": {"list_id": sb.list_id, "page_size": 5, "batch_min_operations": 0, **settings},
                    "lists": [{"name": LIST}],
                }
            ],
            "rules": [{"id": "weekly", "kind": "cap", "max": 2, "window": "7d", "families": ["marketing"]}],
        },
        base_dir=tmp_path,
    )


def start(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> MailchimpSandbox:
    sb = MailchimpSandbox(**kw).start()
    scenario(sb)
    monkeypatch.setenv(ENV, sb.credential)
    return sb


def snapshot(cfg: WorkspaceConfig) -> tuple[list[Any], list[Any], set[str]]:
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
    return touches, engagements, members


@pytest.fixture
def clean(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]):
    """The ledger and segment a run without faults ends with."""
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path_factory.mktemp("clean"), sb)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        touches, engagements, members = snapshot(cfg)
        assert members == sb.segment_members(LIST)
        yield touches, engagements, sb.segment_members(LIST)
    finally:
        sb.stop()


def test_a_full_run_pulls_and_pushes(clean: Any) -> None:
    touches, engagements, on_platform = clean
    assert len(touches) == 24 + 12 + 12 and {t[3] for t in touches} == {"marketing"}
    # shoppers 0, 3, …, 21 open and click spring; the even ones of them (0, 6, 12, 18) summer and autumn too
    assert sorted(e[3] for e in engagements).count("open") == 8 + 4 + 4
    assert {e[3] for e in engagements} == {"open", "click", "unsubscribe", "complaint"}
    # the capped (three campaigns in a day), the unsubscribed and the complainer are in the segment
    assert {f"shopper{i:02d}@outlet.example" for i in range(0, 24, 2)} <= on_platform
    assert {"shopper01@outlet.example", "shopper05@outlet.example"} <= on_platform
    assert "shopper03@outlet.example" not in on_platform


def test_a_second_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        first = snapshot(cfg)
        pushes = sb.count(method="POST", path="/segments/")
        sends = sb.count(path="/sent-to")
        again = run_sync(cfg)
        assert again.exit_code == 0
        assert snapshot(cfg) == first
        assert sb.count(method="POST", path="/segments/") == pushes
        # the known campaigns were not read whole again: no second sent-to (5 + 3 + 3 pages of 5 the first time)
        assert sends == 11 and sb.count(path="/sent-to") == sends
    finally:
        sb.stop()


def test_reads_through_batches_give_the_same_ledger(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch, batch_polls=2)
    try:
        cfg = workspace(tmp_path, sb, batch_min_operations=2, batch_poll_interval=1)
        assert run_sync(cfg).exit_code == 0
        touches, engagements, _ = snapshot(cfg)
        assert (touches, engagements) == (clean[0], clean[1]) and sb.segment_members(LIST) == clean[2]
        assert sb.count(method="POST", path="/batches") >= 2 and sb.count(path="/sent-to") == 0
        assert sb.count(path="/batch-results/") == sb.count(method="POST", path="/batches")
    finally:
        sb.stop()


FAULTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429 storm", {"kind": "rate_limit", "times": 1000, "path": "/email-activity", "retry_after": 2}, {}),
    ("5xx beyond retries", {"kind": "status", "status": 502, "times": 1000, "path": "/sent-to"}, {}),
    ("5xx on push", {"kind": "status", "status": 500, "times": 1000, "path": "/segments/", "method": "POST"}, {}),
    ("timeout", {"kind": "timeout", "delay": 0.6, "times": 1000, "path": "/campaigns"}, {"timeout": 0.2}),
    ("malformed JSON", {"kind": "malformed", "times": 1, "path": "/unsubscribed"}, {}),
    ("key revoked mid-run", {"kind": "revoke", "path": "/email-activity", "skip": 1}, {}),
]


@pytest.mark.parametrize(("name", "fault", "settings"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_fails_the_account_then_a_rerun_converges(
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
        kind, where = fault.pop("kind"), fault["path"]
        sb.inject(kind, **fault)
        report = run_sync(faulty)
        account = report.accounts[0]
        error = account.error or ""
        assert report.exit_code == 1 and not account.ok and account.name == ACCOUNT
        assert sb.credential not in error
        hits = [r for r in sb.requests if where in r.path and r.method == fault.get("method", r.method)]
        if name == "429 storm":
            # three tries, each 429, waits as told in between
            assert [r.status for r in hits] == [429, 429, 429] and recorded_sleeps[:2] == [2, 2]
            assert "429" in error and "still limited after retries" in error
        elif name.startswith("5xx"):
            assert [r.status for r in hits] == [fault["status"]] * 3 and len(recorded_sleeps) == 2
            assert str(fault["status"]) in error
        elif name == "timeout":
            assert len(hits) == 3 and len(recorded_sleeps) == 2 and "timeout" in error
        elif name == "malformed JSON":
            assert len(hits) == 1 and recorded_sleeps == [] and "not JSON" in error
        else:  # revoked: one refusal, never retried
            assert [r.status for r in hits] == [200, 401] and recorded_sleeps == []
            assert f"check {ENV}" in error and "401" in error and "API Key Invalid" in error
            assert f"account {ACCOUNT!r}" not in error  # the report names the account once
        # the fault passes; the key is valid again; a plain rerun converges to the clean result
        sb.clear_faults()
        sb.revoke(False)
        rerun = run_sync(workspace(tmp_path, sb))
        assert rerun.exit_code == 0, rerun.accounts[0].error
        touches, engagements, members = snapshot(faulty)
        assert (touches, engagements) == (clean[0], clean[1])
        assert sb.segment_members(LIST) == clean[2] == members
    finally:
        sb.stop()


@pytest.mark.parametrize(
    ("kind", "fault"),
    [("status", {"status": 503}), ("timeout", {"delay": 0.6}), ("drop", {}), ("rate_limit", {"retry_after": 1})],
)
def test_a_passing_fault_is_retried_and_the_run_succeeds(
    clean: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorded_sleeps: list[float],
    kind: str,
    fault: dict[str, Any],
) -> None:
    sb = start(monkeypatch)
    try:
        sb.inject(kind, path="/email-activity", **fault)
        report = run_sync(workspace(tmp_path, sb, timeout=0.3))
        assert report.exit_code == 0, report.accounts[0].error
        # the first email-activity read failed and the same page was read again: one retry, one wait
        reads = [r for r in sb.requests if "/email-activity" in r.path]
        assert len(reads) == 11 + 1 and (reads[0].path, reads[0].query) == (reads[1].path, reads[1].query)
        assert reads[0].status == {"status": 503, "rate_limit": 429}.get(kind, 200) and reads[1].status == 200
        assert len(recorded_sleeps) == 1
        touches, engagements, _ = snapshot(workspace(tmp_path, sb))
        assert (touches, engagements) == (clean[0], clean[1]) and sb.segment_members(LIST) == clean[2]
    finally:
        sb.stop()


def test_too_many_connections_are_waited_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    """Another client holds every connection: each refused request waits and tries again."""
    sb = start(monkeypatch, max_connections=0, retry_after=False)
    try:
        report = run_sync(workspace(tmp_path, sb, retry={"max_attempts": 2}))
        assert report.exit_code == 1 and "429" in (report.accounts[0].error or "")
        assert sb.refused_connections == 2 and len(recorded_sleeps) == 1  # no Retry-After: backoff
        sb.max_connections = 10
        assert run_sync(workspace(tmp_path, sb)).exit_code == 0
    finally:
        sb.stop()


def test_a_batch_whose_results_cannot_be_fetched_is_read_directly(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        sb.inject("status", status=403, times=1000, path="/batch-results/")
        report = run_sync(workspace(tmp_path, sb, batch_min_operations=2, batch_poll_interval=0))
        assert report.exit_code == 0, report.accounts[0].error
        assert sb.count(path="/batch-results/") >= 1 and sb.count(path="/sent-to") == 11
        touches, engagements, _ = snapshot(workspace(tmp_path, sb))
        assert (touches, engagements) == (clean[0], clean[1])
    finally:
        sb.stop()


# -- drift: the segment changed on Mailchimp behind the ledger's back -----------------------------------


def test_a_segment_deleted_by_hand_is_created_again_by_the_next_run(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        sb.delete_segment(LIST)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        lrep = report.accounts[0].lists[0]
        assert "missing on the platform" in (lrep.drift or "") and lrep.added == len(clean[2])
        assert sb.segment_members(LIST) == clean[2]
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
        in_segment = sorted(clean[2])
        outsider = next(
            f"shopper{i:02d}@outlet.example" for i in range(24) if f"shopper{i:02d}@outlet.example" not in clean[2]
        )
        # two members taken out by hand: the size differs, so a plain run reads the members and puts them back
        sb.edit_segment(LIST, remove=(in_segment[0], in_segment[1]))
        report = run_sync(cfg)
        assert report.exit_code == 0 and report.accounts[0].lists[0].drift
        assert report.accounts[0].lists[0].added == 2 and sb.segment_members(LIST) == clean[2]
        # one out, one in: the size is the same, so only a reconcile (the full membership) sees it
        sb.edit_segment(LIST, add=(outsider,), remove=(in_segment[2],))
        assert run_sync(cfg).accounts[0].lists[0].drift is None
        assert sb.segment_members(LIST) != clean[2]
        report = run_sync(cfg, reconcile=True)
        lrep = report.accounts[0].lists[0]
        assert report.exit_code == 0 and lrep.drift and (lrep.added, lrep.removed) == (1, 1)
        assert sb.segment_members(LIST) == clean[2]
    finally:
        sb.stop()


def test_unsubscribed_members_stay_in_the_segment_and_are_counted_in_its_size(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    """member_count counts active subscribers only; the inspection counts every status, so no false drift."""
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        report = run_sync(cfg)
        assert report.accounts[0].lists[0].drift is None
        assert sb.member("shopper01@outlet.example").status == "unsubscribed"  # type: ignore[union-attr]
        assert "shopper01@outlet.example" in sb.segment_members(LIST)
    finally:
        sb.stop()
