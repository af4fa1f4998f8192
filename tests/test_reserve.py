"""reserve(): decide and record in one atomic step (DESIGN §5, Reserve)."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import open_ledger
from pressure_sdk.models import Batch, Engagement
from pressure_sdk.workspace import Workspace

from .snapshot import EVER, FOREVER

H = 3600
D = 86400
A = "ann@example.com"
T = int(datetime.fromisoformat("2026-03-10T12:00:00+00:00").timestamp())
CAP5 = {"id": "five", "kind": "cap", "max": 5, "window": "7d"}

MakeWs = Callable[..., Workspace]


def touches_of(ws: Workspace, email: str = A) -> list[tuple[Any, ...]]:
    """(at, channel, brand, family, weight) of the contact's touches, as the ledger reads them."""
    contact = ws.ledger.contact(email)
    return [] if contact is None else list(ws.ledger.touches_of(contact.id, EVER, FOREVER))


def test_reserve_records_only_when_allowed(make_ledger_workspace: MakeWs) -> None:
    ws = make_ledger_workspace(rules=[{**CAP5, "max": 2}])
    first = ws.reserve(A, "email", "acme", "marketing", T - D, weight=1.5, campaign="spring", event_id="r1")
    assert first.allowed
    assert touches_of(ws) == [(T - D, "email", "acme", "marketing", 1.5)]
    assert ws.ledger.touch_counts("account") == [("sdk", 1)]
    # 1.5 counted + 1 > 2
    second = ws.reserve(A, "email", "acme", "marketing", T)
    assert not second.allowed
    assert second.blocking_rules == ["five"]
    assert second.reasons[0].message == "cap:five 1.5/2 in 7d (brand acme)"
    assert second.next_allowed_at == T + 6 * D
    assert len(touches_of(ws)) == 1
    # a lighter message still fits, and is recorded
    assert ws.reserve(A, "email", "acme", "marketing", T, weight=0.5).allowed
    assert len(touches_of(ws)) == 2
    # decide() never writes
    assert not ws.decide(A, "email", "acme", "marketing", T).allowed
    assert len(touches_of(ws)) == 2


def test_reserve_is_idempotent_on_its_event_id(make_ledger_workspace: MakeWs) -> None:
    ws = make_ledger_workspace(rules=[CAP5])
    assert ws.reserve(A, "email", "acme", "marketing", T, event_id="same").allowed
    assert ws.reserve(A, "email", "acme", "marketing", T, event_id="same").allowed
    assert len(touches_of(ws)) == 1


def test_a_cap_of_n_allows_exactly_n_reserves(make_ledger_workspace: MakeWs) -> None:
    ws = make_ledger_workspace(rules=[CAP5], brands={"acme": {}, "beta": {}})
    results = [ws.reserve(A, "email", "acme", "marketing", T + i).allowed for i in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert [row[0] for row in touches_of(ws)] == [T + i for i in range(5)]
    # another brand has its own budget under a brand-scoped cap
    assert ws.reserve(A, "email", "beta", "marketing", T + 10).allowed


def test_reserve_blocked_by_consent_records_nothing_but_exempt_always_records(make_ledger_workspace: MakeWs) -> None:
    ws = make_ledger_workspace(rules=[{**CAP5, "max": 0}])
    ws.ledger.ingest(Batch(engagements=[Engagement("u", A, "unsubscribe", T - D, "email")]), account="test")
    d = ws.reserve(A, "email", "acme", "marketing", T)
    assert not d.allowed and d.next_allowed_at is None
    assert d.blocking_rules == ["consent", "five"]
    assert touches_of(ws) == []
    for i in range(3):
        assert ws.reserve(A, "email", "acme", "transactional", T + i).allowed
    assert len(touches_of(ws)) == 3


# -- concurrency -------------------------------------------------------------------------


def _config(target: str) -> Any:
    return parse_config({"workspace": {"ledger": target}, "brands": {"acme": {}}, "rules": [CAP5]})


def _race(target: str, attempts: int, open_first: bool, barrier: Any, out: Any) -> None:
    """One process: open its own Workspace on the shared ledger and reserve ``attempts`` times."""
    try:
        ws = Workspace(_config(target)) if open_first else None
        barrier.wait(timeout=60)
        if ws is None:
            ws = Workspace(_config(target))
        allowed = sum(ws.reserve(A, "email", "acme", "marketing", T).allowed for _ in range(attempts))
        ws.close()
        out.put(allowed)
    except Exception as exc:  # reported to the parent, which fails the test with it
        out.put(f"{type(exc).__name__}: {exc}")


def _run_processes(path: str, *, n: int, attempts: int, open_first: bool) -> list[Any]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(n)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(path), attempts, open_first, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def _ledger_touches(target: str) -> int:
    with open_ledger(target) as led:
        return led.count("touches")


def test_processes_racing_on_one_ledger_take_exactly_max_slots(new_ledger_target: Callable[[], str]) -> None:
    path = new_ledger_target()
    Workspace(_config(path)).close()  # the ledger exists, as after any earlier run
    results = _run_processes(path, n=6, attempts=3, open_first=True)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 5
    assert _ledger_touches(path) == 5


def test_processes_opening_a_new_ledger_at_once_take_exactly_max_slots(new_ledger_target: Callable[[], str]) -> None:
    # the first run of several workers: each one creates/migrates the file as it opens it;
    # a few rounds, since the race on a new file is not lost every time
    for _ in range(3):
        path = new_ledger_target()
        results = _run_processes(path, n=8, attempts=2, open_first=False)
        assert all(isinstance(r, int) for r in results), results
        assert sum(results) == 5
        assert _ledger_touches(path) == 5


def test_threads_sharing_one_workspace_take_exactly_max_slots(new_ledger_target: Callable[[], str]) -> None:
    ws = Workspace(_config(new_ledger_target()))
    n = 8
    barrier = threading.Barrier(n)

    def worker(_: int) -> int:
        barrier.wait(timeout=30)
        return sum(ws.reserve(A, "email", "acme", "marketing", T).allowed for _ in range(3))

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(worker, range(n)))
    assert sum(results) == 5
    assert ws.ledger.count("touches") == 5
    ws.close()


def test_threads_with_their_own_workspaces_on_one_file_take_exactly_max_slots(
    new_ledger_target: Callable[[], str],
) -> None:
    path = new_ledger_target()
    Workspace(_config(path)).close()
    n = 6
    spaces = [Workspace(_config(path)) for _ in range(n)]
    barrier = threading.Barrier(n)

    def worker(i: int) -> int:
        barrier.wait(timeout=30)
        return sum(spaces[i].reserve(A, "email", "acme", "marketing", T).allowed for _ in range(3))

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(worker, range(n)))
    for ws in spaces:
        ws.close()
    assert sum(results) == 5
    assert _ledger_touches(path) == 5


# -- many workers, many contacts, two caps ----------------------------------------------

# at one instant: at most 3 sends a day in all, at most 2 a week per brand
WORKERS_RULES = [
    {"id": "week", "kind": "cap", "max": 2, "window": "7d"},
    {"id": "day", "kind": "cap", "max": 3, "window": "1d", "scope": "all"},
]
CONTACTS = [f"c{i}@example.com" for i in range(4)]


def _worker(target: str, seed: int, barrier: Any, out: Any) -> None:
    """One worker: its own Workspace; reserves for every contact and both brands, in its own order."""
    try:
        brands = {"acme": {}, "beta": {}}
        ws = Workspace(parse_config({"workspace": {"ledger": target}, "brands": brands, "rules": WORKERS_RULES}))
        attempts = [(e, b) for e in CONTACTS for b in brands for _ in range(3)]
        attempts = attempts[seed % len(attempts) :] + attempts[: seed % len(attempts)]
        barrier.wait(timeout=60)
        allowed = [(e, b) for e, b in attempts if ws.reserve(e, "email", b, "marketing", T).allowed]
        ws.close()
        out.put(allowed)
    except Exception as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_worker_processes_never_allow_more_than_max_per_contact(new_ledger_target: Callable[[], str]) -> None:
    target = new_ledger_target()
    Workspace(_config(target)).close()
    n = 8
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(target, 5 * i, barrier, out)) for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(isinstance(r, list) for r in results), results
    allowed = [a for r in results for a in r]
    with open_ledger(target) as led:
        assert led.count("touches") == len(allowed) == 3 * len(CONTACTS)
        for email in CONTACTS:
            brands = sorted(b for e, b in allowed if e == email)
            cid = led.contact(email).id  # type: ignore[union-attr]
            assert sorted(r[2] for r in led.touches_of(cid, T - D, T)) == brands
            # the daily cap in all binds at exactly 3 (attempts enough), the weekly cap per brand at 2
            assert len(brands) == 3 and brands.count("acme") <= 2 and brands.count("beta") <= 2, brands
