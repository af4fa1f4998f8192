"""Property tests of arbitration (DESIGN §5): plan stability and maximality.

Small random workspaces (one or two brands of a group, caps over rolling windows and/or
calendar periods, gaps, counts and applies filters that differ, brand, group and client
scopes, exempt and non-exempt families, weights), random history and a handful of
candidates for one contact. The windows, periods and gaps are recomputed here by direct
iteration over the touches, from the generated rule specs, without the arbiter's or the
policy's helpers; ``Policy.evaluate`` is only used as the oracle of single decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pressure_sdk.arbiter import arbitrate
from pressure_sdk.config import parse_config
from pressure_sdk.models import Candidate, CountedTouch, Decision
from pressure_sdk.policy import ContactState, Policy

H = 3600
D = 86400
#: Tuesday 20 October 2026, 12:00 UTC: the plans run over the end of DST in Paris
#: (25 October), in New York (1 November) and over a month boundary
T0 = int(datetime.fromisoformat("2026-10-20T12:00:00+00:00").timestamp())

CHANNELS = ["email", "sms", "push"]
FAMILIES = ["transactional", "trigger", "marketing"]
EXEMPT = {"transactional"}
ZONES = ["UTC", "Europe/Paris", "America/New_York"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
EMAIL = "ann@example.com"
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- generation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One cap or gap as the brute force reads it; a filter maps a field to its allowed values."""

    id: str
    kind: str
    scope: str
    counts: dict[str, list[str]]
    applies: dict[str, list[str]]
    max: float = 0.0
    window: int | None = None
    calendar: str | None = None
    min_gap: int = 0


@dataclass(frozen=True)
class World:
    brands: dict[str, str | None]
    weights: dict[str, float]
    specs: list[Spec]
    hours: bool
    timezone: str
    week_start: int
    history: list[CountedTouch]
    candidates: list[Candidate]

    def config(self) -> dict[str, Any]:
        rules: list[dict[str, Any]] = []
        for s in self.specs:
            r: dict[str, Any] = {"id": s.id, "kind": s.kind, "scope": s.scope}
            if s.counts is s.applies:
                # one filter for both, given at the rule's level
                r.update(s.counts)
            else:
                r["counts"] = s.counts
                r["applies"] = s.applies
            if s.kind == "cap":
                r["max"] = s.max
                if s.window is not None:
                    r["window"] = s.window
                if s.calendar is not None:
                    r["calendar"] = s.calendar
            else:
                r["min_gap"] = s.min_gap
            rules.append(r)
        if self.hours:
            rules.append(
                {
                    "id": "office",
                    "kind": "hours",
                    "channels": ["sms"],
                    "allowed": [{"days": WEEKDAYS[:5], "start": "08:00", "end": "20:00"}],
                }
            )
        return {
            "workspace": {"timezone": self.timezone, "week_start": WEEKDAYS[self.week_start]},
            "brands": {b: {"group": g, "priority": i} for i, (b, g) in enumerate(self.brands.items())},
            "families": {
                "transactional": {"priority": 100, "weight": self.weights["transactional"], "exempt": True},
                "trigger": {"priority": 50, "weight": self.weights["trigger"]},
                "marketing": {"priority": 10, "weight": self.weights["marketing"]},
            },
            "rules": rules,
        }


@st.composite
def filters(draw: st.DrawFn, brands: list[str]) -> dict[str, list[str]]:
    f: dict[str, list[str]] = {}
    if draw(st.booleans()):
        f["channels"] = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 2)) == 0:
        f["families"] = draw(st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=2, unique=True))
    if len(brands) > 1 and draw(st.integers(0, 3)) == 0:
        f["brands"] = [draw(st.sampled_from(brands))]
    return f


@st.composite
def specs(draw: st.DrawFn, idx: int, brands: list[str], contested: bool) -> Spec:
    kind = draw(st.sampled_from(["cap", "cap", "gap"]))
    scope = draw(st.sampled_from(["brand", "group", "all"]))
    style = "cross" if contested else draw(st.sampled_from(["same", "free", "cross"]))
    if style == "cross":
        # counts one channel the rule does not apply to, applies to one it does not count,
        # and maybe shares a third (counts sms and push, applies to email and sms): a send
        # can be counted and not protected, or protected and not counted
        only_counted, only_applied, shared = draw(st.permutations(CHANNELS))
        both = [shared] if draw(st.booleans()) else []
        counts = {"channels": [only_counted, *both]}
        applies = {"channels": [only_applied, *both]}
    else:
        counts = draw(filters(brands))
        # one filter for both, given at the rule's level, or two unrelated ones
        applies = counts if style == "same" else draw(filters(brands))
    if kind == "gap":
        gap = draw(st.sampled_from([6 * H, D, 2 * D]))
        return Spec(f"gap{idx}", "gap", scope, counts, applies, min_gap=gap)
    window = draw(st.sampled_from([None, 6 * H, D, 36 * H, 4 * D, 7 * D]))
    periods = ["day", "week", "month"]
    calendar = draw(st.sampled_from(periods if window is None else [None, None, *periods]))
    max_ = draw(st.sampled_from([1.0, 1.5, 2.0] if contested else [0.0, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0]))
    return Spec(f"cap{idx}", "cap", scope, counts, applies, max=max_, window=window, calendar=calendar)


@st.composite
def worlds(draw: st.DrawFn, contested: bool = False) -> World:
    """A random workspace, history and plan; ``contested``: one rule whose counts and applies
    filters cross, few history touches, candidates packed in two days, so that accepted
    sends are often pushed over by later ones."""
    brands: dict[str, str | None] = {"a": "g"}
    if draw(st.booleans()):
        brands["b"] = draw(st.sampled_from(["g", "g", None]))
    names = list(brands)
    rules = [draw(specs(i, names, contested)) for i in range(1 if contested else draw(st.integers(1, 3)))]
    weight = st.sampled_from([0.5, 1.0, 1.0, 2.0] if contested else [0.5, 1.0, 1.0, 2.0, 0.0])
    weights = {f: draw(weight) for f in FAMILIES}
    own_weight = st.sampled_from([None, None, None, 0.5, 1.0, 2.0])
    family = st.sampled_from(["trigger", "marketing", "marketing", "transactional"] if contested else FAMILIES)
    touch = st.tuples(st.sampled_from(CHANNELS), st.sampled_from(names), family, own_weight)
    # hours after T0: spread over the plan, or packed in two days so that gaps and short
    # windows meet (multiples of 3h hit window and gap edges exactly)
    packed = st.integers(0, 16).map(lambda n: 3 * n)
    plan_hours = packed if contested else st.one_of(st.integers(0, 12 * 24), packed)
    history_hours = st.integers(-10 * 24, 14 * 24)
    history = sorted(
        (
            CountedTouch(T0 + n * H, ch, br, fa, weights[fa] if w is None else w)
            for (ch, br, fa, w), n in draw(st.lists(st.tuples(touch, history_hours), max_size=2 if contested else 6))
        ),
        key=lambda h: h.at,
    )
    drawn = draw(st.lists(st.tuples(touch, plan_hours, st.integers(0, 2)), min_size=2 if contested else 1, max_size=8))
    candidates = [
        Candidate(EMAIL, ch, br, fa, T0 + n * H, w, f"k{i}", float(value))
        for i, ((ch, br, fa, w), n, value) in enumerate(drawn)
    ]
    return World(
        brands,
        weights,
        rules,
        not contested and draw(st.integers(0, 4)) == 0,
        draw(st.sampled_from(ZONES)),
        draw(st.integers(0, 6)),
        history,
        candidates,
    )


PLANS = st.one_of(worlds(), worlds(contested=True))


# -- brute force -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    at: int
    channel: str
    brand: str
    family: str
    weight: float


def matches(f: dict[str, list[str]], s: Sent) -> bool:
    return (
        ("channels" not in f or s.channel in f["channels"])
        and ("families" not in f or s.family in f["families"])
        and ("brands" not in f or s.brand in f["brands"])
    )


def in_scope(w: World, scope: str, brand: str, other: str) -> bool:
    if scope == "all" or brand == other:
        return True
    return scope == "group" and w.brands[brand] is not None and w.brands[brand] == w.brands[other]


def period(w: World, at: int, kind: str) -> tuple[int, int]:
    tz = ZoneInfo(w.timezone)
    d = datetime.fromtimestamp(at, tz).date()
    if kind == "day":
        first, nxt = d, d + timedelta(days=1)
    elif kind == "week":
        first = d - timedelta(days=(d.weekday() - w.week_start) % 7)
        nxt = first + timedelta(days=7)
    else:
        first = d.replace(day=1)
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return (
        int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp()),
        int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()),
    )


def broken(w: World, y: Sent, others: list[Sent]) -> set[str]:
    """Ids of the caps and gaps that forbid ``y`` next to ``others`` (``y`` not exempt)."""
    out: set[str] = set()
    for r in w.specs:
        if not matches(r.applies, y):
            continue
        counted = [x for x in others if matches(r.counts, x) and in_scope(w, r.scope, y.brand, x.brand)]
        if r.kind == "gap":
            if any(abs(x.at - y.at) < r.min_gap for x in counted):
                out.add(r.id)
            continue
        if r.max <= 0:
            out.add(r.id)
            continue
        if r.window is not None:
            W = r.window
            # every window (e - W, e] that holds y; its content only changes where a touch
            # enters (e = x.at) or leaves (e = x.at + W): try those ends and their neighbours
            ends = {y.at, y.at + W - 1}
            for x in counted:
                ends |= {x.at - 1, x.at, x.at + 1, x.at + W - 1, x.at + W, x.at + W + 1}
            for e in ends:
                if e - W < y.at <= e and sum(x.weight for x in counted if e - W < x.at <= e) + y.weight > r.max:
                    out.add(r.id)
        if r.calendar is not None:
            start, end = period(w, y.at, r.calendar)
            if sum(x.weight for x in counted if start <= x.at < end) + y.weight > r.max:
                out.add(r.id)
    return out


# -- helpers ---------------------------------------------------------------------------


def setup(w: World) -> tuple[Policy, ContactState, list[Decision]]:
    p = Policy(parse_config(w.config()))
    state = ContactState(timezone=w.timezone)
    return p, state, arbitrate(p, state, w.history, w.candidates)


def sent(w: World, c: Candidate) -> Sent:
    return Sent(c.at, c.channel, c.brand, c.family, w.weights[c.family] if c.weight is None else c.weight)


def as_touch(s: Sent, planned: bool) -> CountedTouch:
    return CountedTouch(s.at, s.channel, s.brand, s.family, s.weight, planned)


def history_sent(w: World) -> list[Sent]:
    return [Sent(h.at, h.channel, h.brand, h.family, h.weight) for h in w.history]


def touches(w: World, planned: list[Sent]) -> list[CountedTouch]:
    out = list(w.history) + [as_touch(s, True) for s in planned]
    return sorted(out, key=lambda h: h.at)


def iso(at: int, tz: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(tz)).isoformat()


BLAME = re.compile(r" for the accepted (\w+) (\w+) send at (\S+)$")
NAMED = re.compile(r"the accepted (\w+) (\w+) send at (\S+?)(?:,|$)")


def _at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


#: the smallest plan the first arbiter got wrong: it accepted the sms, which put the email
#: over its cap, then rejected the push nine days later "for" the email
FIRST_BUG = World(
    brands={"b": None},
    weights={"transactional": 1.0, "trigger": 1.0, "marketing": 1.0},
    specs=[
        Spec(
            "cap0",
            "cap",
            "brand",
            counts={"channels": ["sms", "push"]},
            applies={"channels": ["email", "sms"]},
            max=1.0,
            window=4 * D,
        )
    ],
    hours=False,
    timezone="UTC",
    week_start=0,
    history=[],
    candidates=[
        Candidate(EMAIL, "email", "b", "marketing", _at("2026-10-02T12:00:00+00:00"), None, "email"),
        Candidate(EMAIL, "sms", "b", "marketing", _at("2026-10-03T12:00:00+00:00"), None, "sms"),
        Candidate(EMAIL, "push", "b", "marketing", _at("2026-10-12T12:00:00+00:00"), None, "push"),
    ],
)


# -- properties ------------------------------------------------------------------------


@SETTINGS
@given(PLANS)
@example(FIRST_BUG)
def test_every_accepted_send_stays_allowed_next_to_all_the_others(w: World) -> None:
    p, state, decisions = setup(w)
    assert [d.candidate for d in decisions] == w.candidates
    accepted = [d.candidate for d in decisions if d.allowed]
    for d in decisions:
        if d.candidate.family in EXEMPT:
            assert d.allowed and d.exempt and d.reasons == ()
        if not d.allowed:
            assert d.reasons and d.next_allowed_at is None
    for i, y in enumerate(accepted):
        if y.family in EXEMPT:
            continue
        others = [sent(w, c) for j, c in enumerate(accepted) if j != i]
        assert p.evaluate(y, state, touches(w, others), plan=True) == [], y
        assert broken(w, sent(w, y), history_sent(w) + others) == set(), y


@SETTINGS
@given(PLANS)
@example(FIRST_BUG)
def test_a_candidate_is_rejected_only_when_accepting_it_would_break_the_plan(w: World) -> None:
    p, state, decisions = setup(w)
    accepted = [d.candidate for d in decisions if d.allowed]
    final = [sent(w, c) for c in accepted]
    hist = history_sent(w)
    for d in decisions:
        if d.allowed:
            continue
        x = d.candidate
        # its own rules, given history and every accepted send
        own = {r.rule_id for r in p.evaluate(x, state, touches(w, final), plan=True)}
        # the accepted sends it would push over a cap or a gap, and by which rules
        pushed: dict[tuple[int, str, str], set[str]] = {}
        for i, a in enumerate(accepted):
            if a.family in EXEMPT:
                continue
            others = hist + [s for j, s in enumerate(final) if j != i]
            # what x adds: the plan itself is checked by the stability test
            ids = broken(w, sent(w, a), [*others, sent(w, x)]) - broken(w, sent(w, a), others)
            if ids:
                pushed.setdefault((a.at, a.family, a.channel), set()).update(ids)
        assert own or pushed, f"{x} rejected for nothing: {d.reasons}"
        for r in d.reasons:
            m = BLAME.search(r.message)
            if m is None:
                # one of its own rules (monotone: more accepted sends only add to a window)
                assert r.rule_id in own, (x, r.message)
                continue
            family, channel, when = m.groups()
            named = {k for k in pushed if (iso(k[0], w.timezone), k[1], k[2]) == (when, family, channel)}
            assert named, f"{x} blamed for an accepted send it does not push over: {r.message}"
            assert any(r.rule_id in pushed[k] for k in named), (x, r.message, pushed)


@SETTINGS
@given(PLANS)
def test_reasons_name_the_accepted_sends_they_counted(w: World) -> None:
    p, state, decisions = setup(w)
    accepted = {(iso(c.at, w.timezone), c.family, c.channel) for c in (d.candidate for d in decisions if d.allowed)}
    for d in decisions:
        for r in d.reasons:
            if BLAME.search(r.message):
                continue
            planned = [t for t in r.touches if t.planned]
            if r.kind in ("cap", "gap") and planned:
                _, _, tail = r.message.partition(" including ")
                named = (m.groups() for m in NAMED.finditer(tail))
                names = {(when, family, channel) for family, channel, when in named}
                assert names == {(iso(t.at, w.timezone), t.family, t.channel) for t in planned}, r.message
                assert names <= accepted
            else:
                assert " including " not in r.message and " accepted " not in r.message, r.message


@SETTINGS
@given(PLANS, st.data())
def test_the_brute_force_agrees_with_single_decisions(w: World, data: st.DataObject) -> None:
    """The oracle itself: for single plan decisions it finds exactly the caps and gaps the policy finds."""
    p = Policy(parse_config(w.config()))
    state = ContactState(timezone=w.timezone)
    others = [sent(w, c) for c in w.candidates[1:]]
    y = w.candidates[0]
    if y.family in EXEMPT:
        y = Candidate(EMAIL, y.channel, y.brand, data.draw(st.sampled_from(["trigger", "marketing"])), y.at, y.weight)
    expected = {r.rule_id for r in p.evaluate(y, state, touches(w, others), plan=True) if r.kind in ("cap", "gap")}
    assert broken(w, sent(w, y), history_sent(w) + others) == expected
