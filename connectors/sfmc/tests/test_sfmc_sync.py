"""``run_sync`` over real HTTP against the sandbox: clean runs, faults, token expiry, and request counts."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_sfmc import SfmcConnector
from pressure_connector_sfmc.testing import GENEROUS_LIMITS, SfmcSandbox

from pressure_sdk.config import ListConfig, WorkspaceConfig, parse_config
from pressure_sdk.ledger import Ledger, Member
from pressure_sdk.sync import run_sync

DAY = 86400
ENV = "OUTLET_SFMC"
ACCOUNT = "outlet-sfmc"
LIST = "outlet-marketing-pause"
DE = f"pressure-{LIST}"
#: midnight UTC four days ago: every event sits inside the first run's backfill
T0 = int(time.time()) // DAY * DAY - 4 * DAY


def scenario(sb: SfmcSandbox) -> None:
    """24 subscribers; half get three campaigns in two days (over the cap), a triggered mail each; one complains."""
    for i in range(24):
        email = f"shopper{i:02d}@outlet.example"
        sb.add_subscriber(email, at=T0 - 30 * DAY)
        sends = ("spring", "summer", "autumn") if i % 2 == 0 else ("spring",)
        for n, send in enumerate(sends):
            at = T0 + n * DAY // 2 + i * 60
            sb.add_event("sent", email, at, send=send)
            if i % 3 == 0:
                sb.add_event("open", email, at + 300, send=send)
                sb.add_event("click", email, at + 400, send=send, url=f"https://outlet.example/{send}")
        sb.add_event("sent", email, T0 + DAY + i * 60, send="order-confirmation", triggered=True)
    sb.add_event("complaint", "shopper01@outlet.example", T0 + DAY, send="spring")
    sb.add_event("bounce", "shopper03@outlet.example", T0 + 600, send="spring")


def workspace(tmp_path: Path, sb: SfmcSandbox, **settings: Any) -> WorkspaceConfig:
    return parse_config(
        {
            "workspace": {"ledger": "ledger.db", "guard_min_size": 1000},
            "brands": {"outlet": {}},
            "accounts": [
                {
                    "name": ACCOUNT,
                    "connector": "sfmc",
                    "brand": "outlet",
                    "credential_env": ENV,
                    "base_url": sb.url,
                    "settings": {"batch_size": 10, "lookup_size": 7, "async_poll_interval": 0, **settings},
                    "lists": [{"name": LIST}],
                }
            ],
            "rules": [{"id": "weekly", "kind": "cap", "max": 2, "window": "7d", "families": ["marketing"]}],
        },
        base_dir=tmp_path,
    )


def start(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> SfmcSandbox:
    sb = SfmcSandbox(limits=GENEROUS_LIMITS, async_polls=1, **kw).start()
    scenario(sb)
    for name, value in sb.env(ENV).items():
        monkeypatch.setenv(name, value)
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
    return touches, engagements, members  # type: ignore[return-value]


@pytest.fixture
def clean(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]):
    """The ledger and data extension a run without faults ends with."""
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path_factory.mktemp("clean"), sb)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        touches, engagements, _ = snapshot(cfg)
        yield touches, engagements, sb.emails(DE)
    finally:
        sb.stop()


def test_full_run_pulls_and_pushes(clean: Any) -> None:
    touches, engagements, on_platform = clean
    # 12 x 3 campaigns + 12 x 1, plus 24 triggered sends
    assert len(touches) == 48 + 24
    assert {t[3] for t in touches} == {"marketing", "trigger"}
    # shoppers 0, 6, 12, 18 open and click 3 campaigns, 3, 9, 15, 21 one: 16 + 16; one bounce; the
    # complaint arrives as its automatic unsubscribe (the SOAP API has no complaint object)
    assert len(engagements) == 16 + 16 + 1 + 1
    assert {e[3] for e in engagements} == {"open", "click", "bounce", "unsubscribe"}
    # times are UTC: the sandbox answers server time (CST) and the connector converts it back
    assert min(t[1] for t in touches) == T0
    # the capped (three campaigns in a week) and the one who complained are in the data extension
    assert {f"shopper{i:02d}@outlet.example" for i in range(0, 24, 2)} <= on_platform
    assert "shopper01@outlet.example" in on_platform


def test_second_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        first = snapshot(cfg)
        writes = sb.count(path="/rest/hub/") + sb.count(path="/rest/data/v1/async/dataextensions/")
        again = run_sync(cfg)
        assert again.exit_code == 0 and again.accounts[0].pulled == 0
        assert snapshot(cfg) == first
        assert sb.count(path="/rest/hub/") + sb.count(path="/rest/data/v1/async/dataextensions/") == writes
        # two runs, one token each (a connector per run); never one per call
        assert sb.token_requests == 2 and sb.oversized == 0
    finally:
        sb.stop()


FAULTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429 storm on the upsert", {"kind": "rate_limit", "times": 1000, "path": "/rest/hub/", "retry_after": 2}, {}),
    ("SOAP throttled (500 faults)", {"kind": "rate_limit", "times": 1000, "path": "/soap/", "skip": 3}, {}),
    ("5xx beyond retries", {"kind": "status", "status": 503, "times": 1000, "path": "/soap/", "skip": 5}, {}),
    ("timeout", {"kind": "timeout", "delay": 0.6, "times": 1000, "path": "/soap/"}, {"timeout": 0.2}),
    ("malformed answer", {"kind": "malformed", "times": 1, "path": "/soap/", "skip": 2}, {}),
    ("credential revoked mid-run", {"kind": "revoke", "path": "/soap/", "skip": 4}, {}),
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
        sb.inject(fault.pop("kind"), **fault)
        report = run_sync(faulty)
        account = report.accounts[0]
        assert report.exit_code == 1 and not account.ok and account.name == ACCOUNT
        error = account.error or ""
        assert sb.credential not in error and sb.client_id not in error
        # the fault happened, and the client did what it should about it
        if name.startswith("429"):
            assert sb.count(status=429) == 3 and recorded_sleeps.count(2) >= 2, "Retry-After honoured, then gave up"
        if name.startswith("SOAP throttled") or name.startswith("5xx"):
            status = 500 if name.startswith("SOAP") else 503
            assert sb.count(path="/soap/", status=status) == 3 and len(recorded_sleeps) >= 2
        if name == "timeout":
            assert "no answer within the timeout" in error and sb.count(path="/soap/") == 3
        if name == "malformed answer":
            assert "not a RetrieveResponseMsg" in error
        if name.startswith("credential revoked"):
            assert f"check {ENV}_" in error and "401" in error
            assert f"account {ACCOUNT!r}" not in error  # the report names the account once
        # the fault passes; the credential is valid again; a plain rerun converges to the clean result
        sb.clear_faults()
        sb.revoke(False)
        rerun = run_sync(workspace(tmp_path, sb))
        assert rerun.exit_code == 0, rerun.accounts[0].error
        touches, engagements, members = snapshot(faulty)
        assert (touches, engagements) == (clean[0], clean[1])
        assert sb.emails(DE) == clean[2] == members
    finally:
        sb.stop()


# -- tokens expire during a run (they last 20 minutes) ---------------------------------------------------


def fast_clock(step: float) -> Any:
    """A clock that moves ``step`` seconds each time it is read: a long run in a short test."""
    ticks = itertools.count()
    start = time.time()
    return lambda: start + step * next(ticks)


def test_token_expiry_mid_run_is_refreshed_when_the_platform_refuses_it(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    # the platform's clock runs fast: its tokens expire every few calls while ours looks fresh
    sb = start(monkeypatch, clock=fast_clock(60.0))
    try:
        cfg = workspace(tmp_path, sb)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        refused_rest, refused_soap = sb.count(path="/rest/", status=401), sb.count(path="/soap/", status=500)
        assert refused_rest + refused_soap >= 1, "no token expired during the run"
        assert sb.token_requests == 1 + refused_rest + refused_soap, "one new token per refusal, no more"
        assert recorded_sleeps == [], "a new token is not a retry with backoff"
        touches, engagements, members = snapshot(cfg)
        assert (touches, engagements) == (clean[0], clean[1]) and sb.emails(DE) == clean[2] == members
    finally:
        sb.stop()


def test_token_expiry_mid_run_is_anticipated_by_its_expires_in(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    clock = fast_clock(30.0)
    sb = start(monkeypatch, clock=clock)
    # our clock is the platform's: tokens are renewed before expires_in runs out, never refused
    monkeypatch.setattr(SfmcConnector, "token_clock", lambda self: clock())
    try:
        cfg = workspace(tmp_path, sb)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        assert sb.token_requests >= 2, "the run did not outlast a token"
        assert sb.count(status=401) == 0 and sb.count(path="/soap/", status=500) == 0
        touches, engagements, _ = snapshot(cfg)
        assert (touches, engagements) == (clean[0], clean[1]) and sb.emails(DE) == clean[2]
    finally:
        sb.stop()


# -- drift: the data extension changed behind the ledger's back ------------------------------------------


def test_a_data_extension_deleted_by_hand_is_recreated_and_hand_edits_are_repaired(
    clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    sb = start(monkeypatch)
    try:
        cfg = workspace(tmp_path, sb)
        assert run_sync(cfg).exit_code == 0
        sb.delete_data_extension(DE)
        report = run_sync(cfg)
        assert report.exit_code == 0, report.accounts[0].error
        assert report.accounts[0].lists[0].drift and sb.emails(DE) == clean[2]
        rows = sorted(sb.rows(DE), key=lambda r: r["SubscriberKey"])
        # one row taken out by hand: the size differs, so a plain run reads the rows and puts it back
        sb.edit_rows(DE, remove=(rows[0]["SubscriberKey"],))
        report = run_sync(cfg)
        assert report.accounts[0].lists[0].drift and report.accounts[0].lists[0].added == 1
        assert sb.emails(DE) == clean[2]
    finally:
        sb.stop()


# -- request counts ----------------------------------------------------------------------------------------


def push_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adds: int, removes: int) -> int:
    sb = SfmcSandbox(limits=GENEROUS_LIMITS, async_polls=2).start()
    try:
        for name, value in sb.env(ENV).items():
            monkeypatch.setenv(name, value)
        de = sb.add_data_extension(LIST, DE)
        add = [Member(i, f"m{i:05d}@outlet.example", f"SK-M{i}") for i in range(1, adds + 1)]
        rem = [Member(i, f"r{i:05d}@outlet.example", f"SK-R{i}") for i in range(1, removes + 1)]
        for m in rem:
            de.upsert({"SubscriberKey": m.external_id, "EmailAddress": m.email})
        cfg = workspace(tmp_path, sb, async_poll_interval=0)
        connector = SfmcConnector.from_account(cfg.accounts[0], cfg, 0)
        before = len(sb.requests)
        batches = list(connector.push(ListConfig(name=LIST, brand="outlet"), add, rem, add))
        connector.close()
        assert sum(len(b.added) for b in batches) == adds and sum(len(b.removed) for b in batches) == removes
        assert sb.emails(DE) == {m.email for m in add} and sb.oversized == 0
        return len(sb.requests) - before
    finally:
        sb.stop()


def test_push_10000_changes_request_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    # 5,000 adds + 5,000 removes: token, data extension lookup, one asynchronous upsert and its two
    # status polls, then 100 SOAP deletes of 50 (no bulk delete is documented). Floor: ceil(5000/32000)
    # upserts + ceil(5000/50) deletes = 101 calls
    assert push_count(tmp_path / "mixed", monkeypatch, 5000, 5000) == 1 + 1 + 1 + 2 + 100
    # 10,000 adds: one asynchronous upsert (floor: ceil(10000/32000) = 1) and its polls
    assert push_count(tmp_path / "adds", monkeypatch, 10_000, 0) == 1 + 1 + 1 + 2
    # 30 adds fit one synchronous call: no polling
    assert push_count(tmp_path / "small", monkeypatch, 30, 0) == 1 + 1 + 1


def test_pull_request_counts_at_one_hundredth_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    """100,000 contacts and pages of 2,500 measured as 1,000 contacts and pages of 25 (lookups of 500 as 5).

    Every count scales with events / page size, so the requests are those of the full size.
    Two campaigns a week to everyone for 90 days (26 sends each), 20% opened, 4% clicked, 1% bounced.
    """
    import random

    rnd = random.Random(7)
    now = int(time.time()) // 3600 * 3600
    sb = SfmcSandbox(limits=GENEROUS_LIMITS).start()
    try:
        for name, value in sb.env(ENV).items():
            monkeypatch.setenv(name, value)
        keys = [sb.add_subscriber(f"c{i:06d}@example.com", at=now - 200 * DAY) for i in range(1000)]
        for week in range(13):
            for day in (1, 4):
                at0 = now - 90 * DAY + week * 7 * DAY + day * DAY
                for i, key in enumerate(keys):
                    at, r, send = at0 + i * 5, rnd.random(), f"c{week}-{day}"
                    sb.add_event("sent", "", at, send=send, key=key)
                    if r < 0.20:
                        sb.add_event("open", "", at + 3600, send=send, key=key)
                    if r < 0.04:
                        sb.add_event("click", "", at + 3700, send=send, key=key)
                    if 0.5 < r < 0.51:
                        sb.add_event("bounce", "", at + 60, send=send, key=key)
        cfg = workspace(tmp_path, sb, batch_size=25, lookup_size=5)

        def measured(pull: Any, at: int, state: Any) -> tuple[int, Any]:
            connector = SfmcConnector.from_account(cfg.accounts[0], cfg, 0)
            connector.now = lambda: at  # type: ignore[method-assign]
            before = len(sb.requests)
            batches = list(pull(connector)(state))
            connector.close()
            return len(sb.requests) - before, batches[-1].state

        # first run: the token, every page of 2,500 of each tracking object in each window (2.6 M sends
        # alone are 1,040 pages), the reads of empty windows, and 200 subscriber lookups (100,000 keys / 500)
        first, state = measured(lambda c: c.pull, now, None)
        assert first == 1530
        audience, _ = measured(lambda c: c.pull_audience, now, None)
        assert audience == 1 + 40  # the token and 100,000 subscribers in pages of 2,500
        # an hour later, nothing new: the token and one read per tracking object
        quiet, state = measured(lambda c: c.pull, now + 3600, state)
        assert quiet == 1 + 5
        # an hour in which a campaign went to everyone: 40 pages of sends, every key looked up again
        # (a run keeps no key→email map), 200 lookups
        for i, key in enumerate(keys):
            sb.add_event("sent", "", now + 3600 + i, send="flash", key=key)
        busy, _ = measured(lambda c: c.pull, now + 7200, state)
        assert busy == 1 + 40 + 200 + 4
    finally:
        sb.stop()
