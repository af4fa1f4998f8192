"""Property-based tests (hypothesis) of the invariants of DESIGN §5 and §7.1.

The plan invariant is checked by brute force, with code written here that does not
call the policy: filters, scopes, weights, rolling windows and calendar periods are
recomputed from the generated config.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Candidate, ContactUpdate, Decision, Engagement, Touch
from pressure_sdk.timeutil import calendar_period
from pressure_sdk.workspace import Workspace

from .snapshot import snapshot

H = 3600
D = 86400
#: Wednesday 25 March 2026, 12:00 UTC: candidates run over the Paris DST change (29 March)
T0 = int(datetime.fromisoformat("2026-03-25T12:00:00+00:00").timestamp())

BRANDS = {"a": "g", "b": "g", "c": None}
CHANNELS = ["email", "sms"]
FAMILIES = ["transactional", "trigger", "marketing"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]
WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- scenario generation ---------------------------------------------------------------


@dataclass(frozen=True)
class CapSpec:
    id: str
    max: int
    window: int | None
    calendar: str | None
    scope: str
    #: (channels, families, brands) of each filter; None means any
    counts: tuple[Any, Any, Any]
    applies: tuple[Any, Any, Any]
    config: dict[str, Any]


@st.composite
def cap_specs(draw: st.DrawFn, idx: int) -> CapSpec:
    window = draw(st.sampled_from([None, 6 * H, D, 36 * H, 7 * D]))
    if window is None:
        calendar = draw(st.sampled_from(["day", "week", "month"]))
    else:
        calendar = draw(st.sampled_from([None, None, "day", "week"]))
    max_ = draw(st.sampled_from([1, 1, 2, 2, 3, 4, 0]))
    scope = draw(st.sampled_from(["brand", "group", "all"]))
    style = draw(st.sampled_from(["any", "channel", "marketing", "counts-all", "counts-wider", "one-brand"]))
    rid = f"cap{idx}"
    cfg: dict[str, Any] = {"id": rid, "kind": "cap", "max": max_, "scope": scope}
    if window is not None:
        cfg["window"] = window
    if calendar is not None:
        cfg["calendar"] = calendar
    anyf: tuple[Any, Any, Any] = (None, None, None)
    if style == "any":
        counts = applies = anyf
    elif style == "channel":
        ch = draw(st.sampled_from(CHANNELS))
        cfg["channels"] = [ch]
        counts = applies = ([ch], None, None)
    elif style == "marketing":
        cfg["families"] = ["marketing", "transactional"]
        counts = applies = (None, ["marketing", "transactional"], None)
    elif style == "counts-all":
        cfg["counts"] = {}
        cfg["applies"] = {"families": ["marketing"]}
        counts, applies = anyf, (None, ["marketing"], None)
    elif style == "counts-wider":
        cfg["counts"] = {"channels": ["email", "sms"]}
        cfg["applies"] = {"channels": ["email"]}
        counts, applies = (["email", "sms"], None, None), (["email"], None, None)
    else:
        cfg["counts"] = {}
        cfg["applies"] = {"brands": ["a"]}
        counts, applies = anyf, (None, None, ["a"])
    return CapSpec(rid, max_, window, calendar, scope, counts, applies, cfg)


@dataclass(frozen=True)
class Scenario:
    caps: list[CapSpec]
    gap: dict[str, Any] | None
    weights: dict[str, float]
    brand_priority: dict[str, int]
    week_start: int
    zones: list[str | None]
    history: list[Touch]
    candidates: list[Candidate]

    def config(self) -> dict[str, Any]:
        rules = [c.config for c in self.caps] + ([self.gap] if self.gap else [])
        return {
            "workspace": {"week_start": WEEKDAY_NAMES[self.week_start]},
            "brands": {b: {"group": g, "priority": self.brand_priority[b]} for b, g in BRANDS.items()},
            "families": {
                "transactional": {"priority": 100, "weight": self.weights["transactional"], "exempt": True},
                "trigger": {"priority": 50, "weight": self.weights["trigger"]},
                "marketing": {"priority": 10, "weight": self.weights["marketing"]},
            },
            "rules": rules,
        }


def email_of(i: int) -> str:
    return f"c{i}@example.com"


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    caps = [draw(cap_specs(i)) for i in range(draw(st.integers(1, 3)))]
    gap = draw(
        st.sampled_from(
            [None, None, {"id": "gap", "kind": "gap", "min_gap": 12 * H, "families": ["marketing"], "scope": "group"}]
        )
    )
    weight = st.sampled_from([0.5, 1.0, 2.0])
    weights = {"transactional": draw(weight), "trigger": draw(weight), "marketing": draw(weight)}
    brand_priority = {b: draw(st.integers(0, 2)) for b in BRANDS}
    n_contacts = draw(st.integers(1, 3))
    zones = [draw(st.sampled_from([None, *ZONES])) for _ in range(n_contacts)]
    event = st.tuples(
        st.integers(0, n_contacts - 1),
        st.sampled_from(CHANNELS),
        st.sampled_from(list(BRANDS)),
        st.sampled_from(FAMILIES),
        st.sampled_from([None, None, 0.5, 1.0, 2.0]),
    )
    history = [
        Touch(f"h{i}", email_of(c), ch, br, fa, T0 + off, w)
        for i, ((c, ch, br, fa, w), off) in enumerate(
            draw(st.lists(st.tuples(event, st.integers(-9 * D, 12 * D)), max_size=12))
        )
    ]
    candidates = [
        Candidate(email_of(c), ch, br, fa, T0 + off, w, f"k{i}", float(v))
        for i, ((c, ch, br, fa, w), off, v) in enumerate(
            draw(
                st.lists(
                    st.tuples(event, st.integers(0, 9 * D), st.integers(0, 2)),
                    min_size=1,
                    max_size=14,
                )
            )
        )
    ]
    return Scenario(caps, gap, weights, brand_priority, draw(st.integers(0, 6)), zones, history, candidates)


def workspace(s: Scenario) -> Workspace:
    ws = Workspace(parse_config(s.config()), Ledger(":memory:"))
    contacts = [ContactUpdate(email_of(i), timezone=z) for i, z in enumerate(s.zones) if z is not None]
    ws.ledger.ingest(Batch(touches=list(s.history), contacts=contacts), account="test")
    return ws


# -- independent re-implementation of the counting rules ---------------------------------


def matches(f: tuple[Any, Any, Any], channel: str, brand: str, family: str) -> bool:
    chs, fams, brs = f
    return (chs is None or channel in chs) and (fams is None or family in fams) and (brs is None or brand in brs)


def same_scope(scope: str, brand: str, other: str) -> bool:
    if scope == "all" or brand == other:
        return True
    return scope == "group" and BRANDS[brand] is not None and BRANDS[brand] == BRANDS[other]


def local_midnight(d: date, tz: ZoneInfo) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


def period_of(at: int, kind: str, tz_name: str, week_start: int) -> tuple[int, int]:
    tz = ZoneInfo(tz_name)
    d = datetime.fromtimestamp(at, tz).date()
    if kind == "day":
        first, nxt = d, d + timedelta(days=1)
    elif kind == "week":
        first = d - timedelta(days=(d.weekday() - week_start) % 7)
        nxt = first + timedelta(days=7)
    else:
        first = d.replace(day=1)
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return local_midnight(first, tz), local_midnight(nxt, tz)


@dataclass(frozen=True)
class Sent:
    at: int
    channel: str
    brand: str
    family: str
    weight: float


def check_plan_invariant(s: Scenario, decisions: list[Decision]) -> None:
    exempt = {"transactional"}
    by_id = {c.candidate_id: c for c in s.candidates}
    for i, zone_name in enumerate(s.zones):
        email = email_of(i)
        tz = zone_name or "UTC"
        sent = [
            Sent(t.at, t.channel, t.brand, t.family, s.weights[t.family] if t.weight is None else t.weight)
            for t in s.history
            if t.email == email
        ]
        mine = [by_id[d.candidate.candidate_id] for d in decisions if d.allowed and d.candidate.email == email]
        sent += [
            Sent(c.at, c.channel, c.brand, c.family, s.weights[c.family] if c.weight is None else c.weight)
            for c in mine
        ]
        for y in mine:
            if y.family in exempt:
                continue
            for r in s.caps:
                if not matches(r.applies, y.channel, y.brand, y.family):
                    continue
                assert r.max > 0, f"{y.candidate_id} accepted under {r.id} with max 0"
                counted = [
                    x
                    for x in sent
                    if matches(r.counts, x.channel, x.brand, x.family) and same_scope(r.scope, y.brand, x.brand)
                ]
                if r.window is not None:
                    W = r.window
                    # the window sum only changes where a touch enters or leaves: try them all
                    ends = {y.at, y.at + W - 1}
                    for x in counted:
                        ends |= {x.at, x.at - 1, x.at + W, x.at + W - 1}
                    for e in ends:
                        if not (e - W < y.at <= e):
                            continue
                        total = sum(x.weight for x in counted if e - W < x.at <= e)
                        assert total <= r.max, (
                            f"{r.id}: window ({e - W}, {e}] around accepted {y.candidate_id} holds {total} > {r.max}"
                        )
                if r.calendar is not None:
                    start, end = period_of(y.at, r.calendar, tz, s.week_start)
                    total = sum(x.weight for x in counted if start <= x.at < end)
                    assert total <= r.max, f"{r.id}: {r.calendar} of accepted {y.candidate_id} holds {total} > {r.max}"


# -- (a) plan invariant, (b) exempt never rejected, (c) determinism ---------------------------


@FAST
@given(scenarios())
def test_plan_never_overfills_a_cap_around_an_accepted_candidate(s: Scenario) -> None:
    ws = workspace(s)
    decisions = ws.plan(s.candidates)
    assert [d.candidate.candidate_id for d in decisions] == [c.candidate_id for c in s.candidates]
    check_plan_invariant(s, decisions)
    for d in decisions:
        if not d.allowed:
            assert d.reasons and all(r.rule_id for r in d.reasons)


@FAST
@given(scenarios())
def test_plan_exempt_candidates_are_never_rejected(s: Scenario) -> None:
    ws = workspace(s)
    # make everything else as hostile as possible
    emails = sorted({c.email for c in s.candidates})
    ws.ledger.ingest(
        Batch(
            engagements=[Engagement(f"u{e}{ch}", e, "unsubscribe", T0 - D, ch) for e in emails for ch in CHANNELS],
            contacts=[ContactUpdate(e, paused_until=T0 + 30 * D) for e in emails],
        ),
        account="test",
    )
    for d in ws.plan(s.candidates):
        if d.candidate.family == "transactional":
            assert d.allowed and d.exempt and d.reasons == ()
        else:
            assert not d.allowed
    for c in s.candidates:
        if c.family == "transactional":
            assert ws.decide(c.email, c.channel, c.brand, c.family, c.at).allowed


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_plan_is_deterministic_whatever_the_input_order(s: Scenario, rnd: random.Random) -> None:
    ws = workspace(s)
    shuffled = list(s.candidates)
    rnd.shuffle(shuffled)

    def summary(ds: list[Decision]) -> dict[str, tuple[bool, list[str]]]:
        return {d.candidate.candidate_id: (d.allowed, d.blocking_rules) for d in ds}

    first = summary(ws.plan(s.candidates))
    assert summary(ws.plan(shuffled)) == first
    assert summary(ws.plan(s.candidates)) == first
    # and a fresh workspace over the same data agrees
    assert summary(workspace(s).plan(shuffled)) == first


# -- (d) idempotent re-import ---------------------------------------------------------------

_emails = st.sampled_from(["ann@example.com", "bob@example.com", "cy@example.org"])
_at = st.integers(T0 - 400 * D, T0 + 30 * D)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    touches = [
        Touch(
            f"t{i}",
            draw(_emails),
            draw(st.sampled_from(CHANNELS)),
            draw(st.sampled_from(list(BRANDS))),
            draw(st.sampled_from(FAMILIES)),
            draw(_at),
            draw(st.sampled_from([None, 0.5, 2.0])),
            draw(st.sampled_from([None, "spring"])),
            draw(st.sampled_from([None, "sku-1"])),
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    engagements = [
        Engagement(
            f"e{i}",
            draw(_emails),
            draw(st.sampled_from(["open", "click", "purchase", "unsubscribe", "resubscribe", "complaint", "bounce"])),
            draw(st.sampled_from([T0 - D, T0, T0 + H])),
            draw(st.sampled_from([None, *CHANNELS])),
            draw(st.sampled_from([None, "a"])),
            draw(st.sampled_from([None, "sku-1"])),
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    contacts = [
        ContactUpdate(
            draw(_emails),
            draw(st.sampled_from([None, *ZONES])),
            draw(st.sampled_from([None, T0 + D])),
            draw(st.dictionaries(st.sampled_from(["max_per_week", "lang"]), st.sampled_from([1, 3, "fr"]), max_size=2)),
            draw(st.sampled_from([None, "ext-1", "ext-2"])),
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    return Batch(touches=touches, engagements=engagements, contacts=contacts)


def dump(led: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the ledger holds, through its interface."""
    return snapshot(led, accounts=("acc",))


#: the ledger on either backend: ``ledger_factory`` gives a new, empty one per example
BOTH = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@BOTH
@given(st.lists(batches(), min_size=1, max_size=3))
def test_ingesting_the_same_batches_again_changes_nothing(ledger_factory: Callable[[], Any], bs: list[Batch]) -> None:
    led = ledger_factory()
    for b in bs:
        led.ingest(b, account="acc")
    once = dump(led)
    for b in bs:
        led.ingest(b, account="acc")
    assert dump(led) == once
    # each batch twice in a row, too
    led2 = ledger_factory()
    for b in bs:
        led2.ingest(b, account="acc")
        led2.ingest(b, account="acc")
    assert dump(led2) == once


def test_one_event_twice_in_a_batch_with_different_fields_is_ingested_once(ledger_factory: Callable[[], Any]) -> None:
    # a page can carry the same event twice (overlapping pagination, an event enriched
    # between two reads); the ledger keeps one row (the first) and a re-import changes nothing
    led = ledger_factory()
    batch = Batch(
        touches=[
            Touch("t1", "ann@example.com", "email", "a", "marketing", T0, None),
            Touch("t1", "ann@example.com", "email", "a", "marketing", T0, 2.0),
        ],
        engagements=[
            Engagement("e1", "ann@example.com", "purchase", T0, None, None, None),
            Engagement("e1", "ann@example.com", "purchase", T0, None, None, "sku-1"),
        ],
    )
    led.ingest(batch, account="acc")
    once = dump(led)
    assert once["touches"] == [("default", "ann@example.com", T0, "email", "a", "marketing", None)]
    assert once["engagements"] == [("default", "ann@example.com", T0, "purchase", None, None, None)]
    led.ingest(batch, account="acc")
    assert dump(led) == once


# -- (e) calendar periods across zones and DST ------------------------------------------------

PERIOD_ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Lord_Howe",  # 30-minute DST
    "Asia/Kathmandu",  # +05:45
    "America/Santiago",  # DST changes at midnight: some days have no 00:00
    "America/Havana",  # falls back from 01:00 to 00:00: midnight twice
    "Pacific/Apia",  # skipped 30 December 2011
]


def _local(ts: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2_100_000_000),
    st.sampled_from(PERIOD_ZONES),
    st.sampled_from(["day", "week", "month"]),
    st.integers(0, 6),
)
def test_calendar_periods_contain_tile_and_start_at_local_midnight(
    ts: int, zone_name: str, kind: str, week_start: int
) -> None:
    tz = ZoneInfo(zone_name)
    start, end = calendar_period(ts, kind, zone_name, week_start)
    assert start <= ts < end
    # tiling: the period before ends where this one starts, the next starts where it ends
    assert calendar_period(start, kind, zone_name, week_start) == (start, end)
    assert calendar_period(end - 1, kind, zone_name, week_start) == (start, end)
    assert calendar_period(start - 1, kind, zone_name, week_start)[1] == start
    assert calendar_period(end, kind, zone_name, week_start)[0] == end
    # the first instant of the local first day (midnight, or the first instant after a skipped midnight)
    first_day = _local(start, tz).date()
    assert _local(start - 1, tz).date() < first_day
    if _local(start, tz).time() != time(0):
        back = datetime.combine(first_day, time(0), tzinfo=tz).timestamp()
        assert _local(int(back), tz).time() != time(0), "midnight existed but the period does not start there"
    day = _local(ts, tz).date()
    if kind == "day":
        assert first_day == day
        assert 22 * H <= end - start <= 26 * H or zone_name == "Pacific/Apia"
    elif kind == "week":
        assert first_day.weekday() == week_start
        assert 0 <= (day - first_day).days < 7
    else:
        assert first_day == day.replace(day=1)
    if zone_name in ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"):
        assert _local(start, tz).time() == time(0)
        assert _local(end, tz).time() == time(0)
