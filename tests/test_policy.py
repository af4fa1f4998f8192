"""Rule semantics of DESIGN §5, with concrete numbers.

Most tests go through the Workspace API (record touches, ingest engagements and
contacts, then decide); a few call Policy.evaluate directly to pin the window maths.
Every workspace test runs on both ledgers (SQLite and PostgreSQL).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.errors import InvalidValueError
from pressure_sdk.models import Batch, Candidate, ContactUpdate, CountedTouch, Engagement, Touch
from pressure_sdk.policy import ContactState, Policy
from pressure_sdk.workspace import Workspace

H = 3600
D = 86400
A = "ann@example.com"
B = "bob@example.com"


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


#: Tuesday 10 March 2026, 12:00 UTC
T = ts("2026-03-10T12:00:00+00:00")

_ids = itertools.count()

MakeWs = Callable[..., Workspace]


@pytest.fixture
def make_workspace(make_backend_workspace: MakeWs) -> MakeWs:
    """Workspaces on the test's backend: the rules read the same whichever ledger holds the history."""
    return make_backend_workspace


def touch(
    ws: Workspace,
    *ats: int,
    channel: str = "email",
    brand: str = "acme",
    family: str = "marketing",
    weight: float | None = None,
    email: str = A,
) -> None:
    ws.record([Touch(f"t{next(_ids)}", email, channel, brand, family, at, weight) for at in ats])


def engage(
    ws: Workspace,
    type_: str,
    at: int,
    *,
    channel: str | None = "email",
    product: str | None = None,
    email: str = A,
    brand: str | None = "acme",
) -> None:
    ws.ledger.ingest(
        Batch(engagements=[Engagement(f"e{next(_ids)}", email, type_, at, channel, brand, product)]), account="test"
    )


def contact(ws: Workspace, email: str = A, **kw: Any) -> None:
    ws.ledger.ingest(Batch(contacts=[ContactUpdate(email, **kw)]), account="test")


def score(ws: Workspace, tier: str = "active", capital: float = 100.0, email: str = A) -> None:
    """Give the contact the engagements that make it ``tier`` with ``capital`` at T.

    Scores are derived from the ledger at each decision's time (default tiers and
    tolerance costs: incident 30, bounce 10), so a test sets them through events.
    """
    events = [("delivered", T - 400 * D)]  # first seen long ago: not 'new'
    events += {
        "engaged": [("click", T - 4 * D), ("click", T - 3 * D)],
        "active": [("click", T - 60 * D)],
        "dormant": [("open", T - 150 * D)],
        "inactive": [],
    }[tier]
    spend = 100 - capital
    events += [("incident", T - 20 * D + i) for i in range(int(spend // 30))]
    events += [("bounce", T - 19 * D + i) for i in range(int(spend % 30 // 10))]
    for type_, at in events:
        engage(ws, type_, at, channel=None, email=email)


def cap(id_: str = "email-weekly", max_: Any = 3, **kw: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": id_, "kind": "cap", "max": max_, **kw}
    if "window" not in rule and "calendar" not in rule:
        rule["window"] = "7d"
    return rule


def decide(
    ws: Workspace,
    at: int = T,
    *,
    channel: str = "email",
    brand: str = "acme",
    family: str = "marketing",
    email: str = A,
    **kw: Any,
):  # type: ignore[no-untyped-def]
    return ws.decide(email, channel, brand, family, at, **kw)


# -- cap: rolling window --------------------------------------------------------


def test_cap_window_blocks_at_max_with_readable_reason(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap(channels=["email"])])
    touch(ws, T - 6 * D, T - 3 * D)
    assert decide(ws).allowed
    touch(ws, T - H)
    d = decide(ws)
    assert not d.allowed
    assert d.blocking_rules == ["email-weekly"]
    (r,) = d.reasons
    assert r.message == "cap:email-weekly 3/3 in 7d (brand acme)"
    assert (r.kind, r.counted, r.limit) == ("cap", 3, 3)
    assert [t.at for t in r.touches] == [T - 6 * D, T - 3 * D, T - H]
    assert all(not t.planned and t.family == "marketing" for t in r.touches)
    # the oldest touch leaves the window 7 days after it was sent
    assert d.next_allowed_at == T + D
    text = ws.explain(d)
    assert "BLOCKED" in text and "cap:email-weekly 3/3 in 7d (brand acme)" in text
    assert "next allowed: 2026-03-11T12:00:00+00:00" in text
    # another channel is not counted nor blocked by an email rule
    assert decide(ws, channel="sms").allowed


def test_allowed_decision_has_its_own_time_as_next_allowed(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap()])
    d = decide(ws)
    assert d.allowed and d.reasons == () and d.next_allowed_at == T


def test_cap_window_is_half_open_t_minus_w_excluded(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap(max_=2)])
    # exactly 7 days ago: out of (t - 7d, t]
    touch(ws, T - 7 * D, T - D)
    assert decide(ws).allowed
    # one second later it would still be in
    ws2 = make_workspace(rules=[cap(max_=2)])
    touch(ws2, T - 7 * D + 1, T - D)
    d = decide(ws2)
    assert not d.allowed
    assert [t.at for t in d.reasons[0].touches] == [T - 7 * D + 1, T - D]
    assert d.next_allowed_at == T + 1


def test_cap_window_counts_a_touch_at_t_but_not_after_in_real_time(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap(max_=2)])
    touch(ws, T - D, T)
    assert not decide(ws).allowed
    ws2 = make_workspace(rules=[cap(max_=2)])
    touch(ws2, T - D, T + 1, T + D)
    assert decide(ws2).allowed


def test_cap_next_allowed_waits_until_enough_weight_left(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap(max_=3)])
    touch(ws, T - 6 * D, T - 5 * D, T - 4 * D)
    d = decide(ws, weight=2)
    assert not d.allowed
    assert d.reasons[0].message == "cap:email-weekly 3/3 in 7d (brand acme)"
    # two touches must leave: the second leaves at T - 5d + 7d
    assert d.next_allowed_at == T + 2 * D
    assert decide(ws, T + 2 * D, weight=2).allowed
    assert not decide(ws, T + 2 * D - 1, weight=2).allowed
    # weight 1 needs only the first to leave
    assert decide(ws, weight=1).next_allowed_at == T + D


# -- cap: calendar period in the contact's zone -----------------------------------


def test_cap_calendar_day_in_contact_time_zone(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("daily", 1, calendar="day")])
    contact(ws, A, timezone="Asia/Tokyo")
    late = ts("2026-03-10T23:00:00+09:00")  # 14:00 UTC
    touch(ws, late, email=A)
    touch(ws, late, email=B)  # B has no zone: the workspace's (UTC)
    after_midnight = ts("2026-03-11T00:30:00+09:00")  # 15:30 UTC, same UTC day
    assert decide(ws, after_midnight, email=A).allowed
    d = decide(ws, after_midnight, email=B)
    assert not d.allowed
    assert d.reasons[0].message == "cap:daily 1/1 this day from 2026-03-10 (brand acme)"
    assert d.next_allowed_at == ts("2026-03-11T00:00:00+00:00")
    d = decide(ws, ts("2026-03-10T23:30:00+09:00"), email=A)
    assert not d.allowed
    assert d.reasons[0].message == "cap:daily 1/1 this day from 2026-03-10 (brand acme)"
    assert [t.at for t in d.reasons[0].touches] == [late]
    assert d.next_allowed_at == ts("2026-03-11T00:00:00+09:00")


def test_cap_calendar_uses_the_workspace_zone_by_default(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("daily", 1, calendar="day")], workspace={"timezone": "Asia/Tokyo"})
    touch(ws, ts("2026-03-10T23:00:00+09:00"))
    assert decide(ws, ts("2026-03-11T00:30:00+09:00")).allowed
    assert not decide(ws, ts("2026-03-10T23:30:00+09:00")).allowed


def test_cap_calendar_week_across_dst(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("weekly", 1, calendar="week")])
    contact(ws, timezone="Europe/Paris")
    touch(ws, ts("2026-03-23T00:30:00+01:00"))  # Monday, winter time
    d = decide(ws, ts("2026-03-29T23:30:00+02:00"))  # Sunday, summer time
    assert not d.allowed
    assert d.reasons[0].message == "cap:weekly 1/1 this week from 2026-03-23 (brand acme)"
    # the week is 167 hours long: it ends at local midnight, summer time
    assert d.next_allowed_at == ts("2026-03-30T00:00:00+02:00")
    assert decide(ws, ts("2026-03-30T00:30:00+02:00")).allowed


def test_cap_calendar_week_start_from_config(make_workspace: MakeWs) -> None:
    saturday = ts("2026-03-28T10:00:00+01:00")
    sunday = ts("2026-03-29T10:00:00+02:00")
    monday_weeks = make_workspace(rules=[cap("weekly", 1, calendar="week")])
    sunday_weeks = make_workspace(rules=[cap("weekly", 1, calendar="week")], workspace={"week_start": "sun"})
    for ws in (monday_weeks, sunday_weeks):
        contact(ws, timezone="Europe/Paris")
        touch(ws, saturday)
    assert not decide(monday_weeks, sunday).allowed
    d = decide(sunday_weeks, sunday)
    assert d.allowed
    assert not decide(sunday_weeks, sunday - 12 * H).allowed


def test_cap_calendar_month(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("monthly", 2, calendar="month")])
    contact(ws, timezone="Europe/Paris")
    touch(ws, ts("2026-02-28T23:30:00+01:00"))  # February, not counted in March
    touch(ws, ts("2026-03-01T00:30:00+01:00"))
    assert decide(ws, ts("2026-03-31T23:30:00+02:00")).allowed
    touch(ws, ts("2026-03-15T12:00:00+01:00"))
    d = decide(ws, ts("2026-03-31T23:30:00+02:00"))
    assert not d.allowed
    assert d.reasons[0].message == "cap:monthly 2/2 this month from 2026-03-01 (brand acme)"
    assert d.next_allowed_at == ts("2026-04-01T00:00:00+02:00")


def test_cap_calendar_counts_only_the_past_in_real_time_but_the_whole_period_in_a_plan(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("daily", 1, calendar="day")])
    touch(ws, ts("2026-03-10T20:00:00+00:00"))
    morning = ts("2026-03-10T08:00:00+00:00")
    assert decide(ws, morning).allowed
    (d,) = ws.plan([Candidate(A, "email", "acme", "marketing", morning, candidate_id="c1")])
    assert not d.allowed and d.blocking_rules == ["daily"]


def test_cap_with_window_and_calendar_holds_for_both(make_workspace: MakeWs) -> None:
    rule = cap("both", 2, window="7d", calendar="week")
    # window only: two touches in the previous calendar week, within 7 days
    ws = make_workspace(rules=[rule])
    touch(ws, ts("2026-03-07T12:00:00+00:00"), ts("2026-03-08T12:00:00+00:00"))
    d = decide(ws)
    assert [r.message for r in d.reasons] == ["cap:both 2/2 in 7d (brand acme)"]
    assert d.next_allowed_at == ts("2026-03-14T12:00:00+00:00")
    # calendar only: a short window, two touches this week
    ws = make_workspace(rules=[cap("both", 2, window="1d", calendar="week")])
    touch(ws, ts("2026-03-09T08:00:00+00:00"), ts("2026-03-10T01:00:00+00:00"))
    d = decide(ws)
    assert [r.message for r in d.reasons] == ["cap:both 2/2 this week from 2026-03-09 (brand acme)"]
    assert d.next_allowed_at == ts("2026-03-16T00:00:00+00:00")
    # both at once: two reasons from the same rule
    ws = make_workspace(rules=[rule])
    touch(ws, ts("2026-03-09T20:00:00+00:00"), ts("2026-03-10T06:00:00+00:00"))
    d = decide(ws)
    assert d.blocking_rules == ["both", "both"]
    assert {r.message for r in d.reasons} == {
        "cap:both 2/2 in 7d (brand acme)",
        "cap:both 2/2 this week from 2026-03-09 (brand acme)",
    }
    assert d.next_allowed_at == ts("2026-03-16T20:00:00+00:00")


# -- cap: scope -------------------------------------------------------------------

BRANDS = {"acme": {"group": "g1"}, "beta": {"group": "g1"}, "gamma": {}}


@pytest.mark.parametrize(
    ("scope", "brand", "counted", "message"),
    [
        ("brand", "acme", 1, None),
        ("group", "acme", 2, "cap:r 2/2 in 7d (group g1)"),
        ("group", "beta", 2, "cap:r 2/2 in 7d (group g1)"),
        ("group", "gamma", 1, None),
        ("all", "acme", 3, "cap:r 3/2 in 7d (all brands)"),
        ("all", "gamma", 3, "cap:r 3/2 in 7d (all brands)"),
    ],
)
def test_cap_scope(make_workspace: MakeWs, scope: str, brand: str, counted: int, message: str | None) -> None:
    ws = make_workspace(rules=[cap("r", 2, scope=scope)], brands=BRANDS)
    touch(ws, T - 3 * D, brand="acme")
    touch(ws, T - 2 * D, brand="beta")
    touch(ws, T - D, brand="gamma")
    d = decide(ws, brand=brand)
    if message is None:
        assert d.allowed
        return
    assert not d.allowed
    (r,) = d.reasons
    assert r.message == message
    assert r.counted == counted
    in_scope = {"group": {"acme", "beta"}, "all": {"acme", "beta", "gamma"}}[scope]
    assert {t.brand for t in r.touches} == in_scope


# -- counts vs applies; exempt families -------------------------------------------


def test_counts_every_family_but_applies_to_marketing_only(make_workspace: MakeWs) -> None:
    rule = cap("pressure", 3, counts={}, applies={"families": ["marketing"]})
    ws = make_workspace(rules=[rule])
    touch(ws, T - 3 * D, T - 2 * D, family="transactional")
    touch(ws, T - D, family="trigger", channel="sms")
    d = decide(ws)
    assert not d.allowed
    assert d.reasons[0].message == "cap:pressure 3/3 in 7d (brand acme)"
    assert sorted(t.family for t in d.reasons[0].touches) == ["transactional", "transactional", "trigger"]
    # not applied to triggers, exempt never blocked
    assert decide(ws, family="trigger").allowed
    assert decide(ws, family="transactional").allowed
    # with default filters, only the rule's families count
    ws2 = make_workspace(rules=[cap("pressure", 3, families=["marketing"])])
    touch(ws2, T - 3 * D, T - 2 * D, family="transactional")
    touch(ws2, T - D, family="trigger")
    assert decide(ws2).allowed


def test_exempt_families_are_counted_but_never_blocked(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("r", 1, families=["transactional", "marketing"])])
    touch(ws, T - D, family="transactional")
    d = decide(ws)
    assert not d.allowed and d.reasons[0].counted == 1
    assert d.reasons[0].touches[0].family == "transactional"
    touch(ws, T - H, family="marketing")
    e = decide(ws, family="transactional")
    assert e.allowed and e.exempt and e.reasons == ()
    # not even consent blocks an exempt family
    engage(ws, "unsubscribe", T - H)
    assert decide(ws, family="transactional").allowed


def test_exempt_family_from_config(make_workspace: MakeWs) -> None:
    families = {"receipt": {"exempt": True}, "marketing": {}}
    ws = make_workspace(rules=[cap("r", 0, families=["receipt", "marketing"])], families=families)
    assert decide(ws, family="receipt").allowed
    assert not decide(ws, family="marketing").allowed


# -- weights ----------------------------------------------------------------------

WEIGHTED = {
    "transactional": {"priority": 100, "exempt": True},
    "marketing": {"priority": 10, "weight": 2},
    "newsletter": {"priority": 5, "weight": 0.5},
}


def test_family_weight(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("r", 3)], families=WEIGHTED)
    touch(ws, T - D)
    d = decide(ws)
    # 2 counted + 2 for the candidate > 3
    assert not d.allowed
    assert d.reasons[0].message == "cap:r 2/3 in 7d (brand acme)"
    assert d.reasons[0].touches[0].weight == 2
    assert decide(ws, family="newsletter").allowed  # 2 + 0.5
    ws = make_workspace(rules=[cap("r", 3)], families=WEIGHTED)
    touch(ws, *(T - i * H for i in range(1, 6)), family="newsletter")  # 2.5
    assert decide(ws, family="newsletter").allowed  # 3.0 <= 3
    touch(ws, T - 6 * H, family="newsletter")  # 3.0
    d = decide(ws, family="newsletter")
    assert not d.allowed
    assert d.reasons[0].message == "cap:r 3/3 in 7d (brand acme)"


def test_explicit_touch_and_candidate_weight(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("r", 3)], families=WEIGHTED)
    touch(ws, T - D, weight=3)  # explicit weight wins over the family's 2
    d = decide(ws, weight=1)
    assert not d.allowed and d.reasons[0].counted == 3
    assert d.reasons[0].touches[0].weight == 3
    with pytest.raises(InvalidValueError, match="weight: expected a positive number, got 0"):
        decide(ws, weight=0)
    ws = make_workspace(rules=[cap("r", 3)], families=WEIGHTED)
    touch(ws, *(T - i * H for i in range(1, 5)), weight=0.25)  # 1.0
    assert decide(ws).allowed  # 1 + 2
    assert not decide(ws, weight=2.5).allowed  # 1 + 2.5
    # a message heavier than the cap itself never fits
    ws = make_workspace(rules=[cap("r", 3), cap("d", 3, calendar="day")], families=WEIGHTED)
    d = decide(ws, weight=4)
    assert d.blocking_rules == ["r", "d"]
    assert d.next_allowed_at is None


# -- max: tiers, contact attribute, zero ------------------------------------------


@pytest.mark.parametrize(
    ("tier", "allowed", "limit", "why"),
    [
        ("engaged", True, 5, None),
        ("dormant", False, 1, "tier dormant"),
        ("active", False, 2, "tier active: default"),
        (None, False, 2, "tier new: default"),
    ],
)
def test_max_per_tier(make_workspace: MakeWs, tier: str | None, allowed: bool, limit: float, why: str | None) -> None:
    ws = make_workspace(rules=[cap("r", {"engaged": 5, "dormant": 1, "default": 2})])
    touch(ws, T - 2 * D, T - D)
    if tier is not None:
        score(ws, tier)
    d = decide(ws)
    assert d.allowed is allowed
    if not allowed:
        assert d.reasons[0].limit == limit
        assert d.reasons[0].message == f"cap:r 2/{limit} in 7d (brand acme, {why})"


def test_max_from_contact_attribute_with_fallback(make_workspace: MakeWs) -> None:
    rule = cap("chosen", {"attribute": "max_per_week", "fallback": 1})
    ws = make_workspace(rules=[rule])
    contact(ws, A, attributes={"max_per_week": 3})
    touch(ws, T - 2 * D, T - D, email=A)
    touch(ws, T - 2 * D, T - D, email=B)  # no attribute: fallback 1
    assert decide(ws, email=A).allowed
    d = decide(ws, email=B)
    assert not d.allowed
    assert d.reasons[0].message == "cap:chosen 2/1 in 7d (brand acme, max_per_week fallback)"
    assert d.reasons[0].limit == 1
    touch(ws, T - H, email=A)
    d = decide(ws, email=A)
    assert not d.allowed
    assert d.reasons[0].message == "cap:chosen 3/3 in 7d (brand acme, max_per_week=3)"


@pytest.mark.parametrize(
    ("value", "limit"),
    [("weekly", 1), (None, 1), ("", 1), (0, 0), ("2", 2), (2.5, 2.5), ("nan", 1), ("NaN", 1), (-2, 1), ("inf", 1)],
)
def test_max_attribute_unusable_values_fall_back(make_workspace: MakeWs, value: Any, limit: float) -> None:
    ws = make_workspace(rules=[cap("chosen", {"attribute": "max_per_week", "fallback": 1})])
    contact(ws, attributes={"max_per_week": value})
    touch(ws, T - D, T - H)
    d = decide(ws)
    assert not d.allowed
    assert d.reasons[0].limit == limit


def test_max_zero_blocks_everything_forever(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("never", 0), cap("never-cal", 0, calendar="day")])
    d = decide(ws)
    assert not d.allowed
    assert [r.message for r in d.reasons] == [
        "cap:never 0/0 in 7d (brand acme)",
        "cap:never-cal 0/0 this day from 2026-03-10 (brand acme)",
    ]
    assert d.next_allowed_at is None
    # even a weightless message: max 0 means none at all, for the window and the calendar
    weightless = Candidate(A, "email", "acme", "marketing", T, 0.0, "c")
    assert [r.rule_id for r in ws.policy.evaluate(weightless, ContactState(timezone="UTC"), [])] == [
        "never",
        "never-cal",
    ]
    assert decide(ws, family="transactional").allowed


# -- gap ----------------------------------------------------------------------------

GAP = {"id": "spacing", "kind": "gap", "min_gap": "2d", "channels": ["email"]}


def test_gap_blocks_within_min_gap_of_a_past_touch(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[GAP])
    touch(ws, T - D)
    d = decide(ws)
    assert not d.allowed
    (r,) = d.reasons
    assert r.message == "gap:spacing a marketing email touch 1d ago, min gap 2d"
    assert [t.at for t in r.touches] == [T - D]
    assert d.next_allowed_at == T + D
    assert decide(ws, T + D).allowed
    assert not decide(ws, T + D - 1).allowed
    assert decide(ws, channel="sms").allowed


def test_gap_exactly_min_gap_is_allowed(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[GAP])
    touch(ws, T - 2 * D)
    assert decide(ws).allowed
    touch(ws, T - 2 * D + 1, channel="sms")  # not counted
    assert decide(ws).allowed


def test_gap_next_allowed_follows_the_latest_past_touch(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[GAP])
    touch(ws, T - 36 * H, T - 6 * H)
    d = decide(ws)
    assert d.reasons[0].message == "gap:spacing a marketing email touch 6h ago, min gap 2d"
    assert d.reasons[0].counted == 2
    assert d.reasons[0].until == T - 6 * H + 2 * D
    assert d.next_allowed_at == T - 6 * H + 2 * D


def test_gap_real_time_looks_at_the_past_only_plan_at_both_sides(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[GAP])
    touch(ws, T + D)  # already scheduled/recorded later
    assert decide(ws).allowed
    (d,) = ws.plan([Candidate(A, "email", "acme", "marketing", T, candidate_id="c")])
    assert not d.allowed
    assert d.reasons[0].message == "gap:spacing a marketing email touch 1d later, min gap 2d"
    (d,) = ws.plan([Candidate(A, "email", "acme", "marketing", T - D, candidate_id="c")])
    assert d.allowed  # exactly 2d before


def test_gap_not_b_within_n_days_of_a(make_workspace: MakeWs) -> None:
    rule = {
        "id": "no-promo-after-trigger",
        "kind": "gap",
        "min_gap": "3d",
        "counts": {"families": ["trigger"]},
        "applies": {"families": ["marketing"]},
    }
    ws = make_workspace(rules=[rule])
    touch(ws, T - D, family="marketing")
    assert decide(ws).allowed
    touch(ws, T - 2 * D, family="trigger")
    d = decide(ws)
    assert d.reasons[0].message == "gap:no-promo-after-trigger a trigger email touch 2d ago, min gap 3d"
    assert d.next_allowed_at == T + D
    assert decide(ws, family="trigger").allowed


# -- quiet ------------------------------------------------------------------------

QUIET = {"id": "after-purchase", "kind": "quiet", "after": ["purchase"], "for": "14d", "families": ["marketing"]}


def test_quiet_after_purchase(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[QUIET])
    touch(ws, T - 30 * D)  # the contact exists
    engage(ws, "purchase", T - 3 * D)
    d = decide(ws)
    assert not d.allowed
    (r,) = d.reasons
    assert r.message == "quiet:after-purchase purchase on 2026-03-07, quiet for 14d"
    assert r.kind == "quiet"
    assert d.next_allowed_at == T + 11 * D
    assert decide(ws, T + 11 * D).allowed
    assert decide(ws, family="trigger").allowed
    assert decide(ws, channel="sms").reasons[0].rule_id == "after-purchase"


@pytest.mark.parametrize(("ago", "allowed"), [(14 * D, True), (14 * D - 1, False), (-H, True)])
def test_quiet_boundaries(make_workspace: MakeWs, ago: int, allowed: bool) -> None:
    ws = make_workspace(rules=[QUIET])
    engage(ws, "purchase", T - ago)
    assert decide(ws).allowed is allowed


def test_quiet_ignores_other_event_types(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[QUIET])
    engage(ws, "click", T - D)
    engage(ws, "open", T - D)
    assert decide(ws).allowed


def test_quiet_match_product(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[{**QUIET, "match": "product"}])
    engage(ws, "purchase", T - D, product="sku-1")
    d = decide(ws, product="sku-1")
    assert not d.allowed
    assert d.reasons[0].message == "quiet:after-purchase purchase of sku-1 on 2026-03-09, quiet for 14d"
    assert d.next_allowed_at == T + 13 * D
    assert decide(ws, product="sku-2").allowed
    assert decide(ws).allowed


def test_quiet_after_complaint_keeps_the_latest_event(make_workspace: MakeWs) -> None:
    rule = {
        "id": "cool-down",
        "kind": "quiet",
        "after": ["complaint", "incident"],
        "for": "30d",
        "families": ["marketing", "trigger"],
    }
    # tolerance off: the two incidents would also spend the capital
    ws = make_workspace(rules=[rule], tolerance={"enabled": False})
    engage(ws, "incident", T - 20 * D, channel=None)
    engage(ws, "complaint", T - 10 * D, channel="sms")
    d = decide(ws, channel="email")
    assert not d.allowed
    assert d.reasons[0].message == "quiet:cool-down complaint on 2026-02-28, quiet for 30d"
    assert d.next_allowed_at == T + 20 * D


@pytest.mark.parametrize(
    ("scope", "event_brand", "blocked"),
    [
        ("all", "velo", {"acme", "beta", "velo"}),
        ("group", "beta", {"acme", "beta"}),
        ("group", "velo", {"velo"}),
        ("brand", "beta", {"beta"}),
        ("brand", None, {"acme", "beta", "velo"}),  # an event that names no brand quiets all
    ],
)
def test_quiet_scope_follows_the_event_brand(
    make_workspace: MakeWs, scope: str, event_brand: str | None, blocked: set[str]
) -> None:
    brands = {"acme": {"group": "g"}, "beta": {"group": "g"}, "velo": {}}
    rule = {
        "id": "after-incident",
        "kind": "quiet",
        "after": ["incident"],
        "for": "7d",
        "scope": scope,
        "families": ["marketing"],
    }
    ws = make_workspace(rules=[rule], brands=brands)
    engage(ws, "incident", T - D, brand=event_brand)
    assert {b for b in brands if not decide(ws, brand=b).allowed} == blocked


def test_quiet_counts_filters_events_by_channel_and_brand(make_workspace: MakeWs) -> None:
    rule = {
        "id": "sms-complaint",
        "kind": "quiet",
        "after": ["complaint"],
        "for": "30d",
        "counts": {"channels": ["sms"], "brands": ["acme"]},
        "applies": {"families": ["marketing"]},
    }
    ws = make_workspace(rules=[rule], brands={"acme": {}, "beta": {}}, tolerance={"enabled": False})
    engage(ws, "complaint", T - D, channel="email")
    assert decide(ws, channel="push").allowed  # an email complaint does not count
    engage(ws, "complaint", T - D, channel="sms", brand="beta")
    assert decide(ws, channel="push").allowed  # nor one about another brand
    engage(ws, "complaint", T - D, channel="sms")
    d = decide(ws, channel="push", brand="beta")
    assert not d.allowed and d.reasons[0].rule_id == "sms-complaint"


# -- hours ------------------------------------------------------------------------

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
HOURS = {
    "id": "call-hours",
    "kind": "hours",
    "channels": ["call"],
    "allowed": [
        {"days": WEEKDAYS, "start": "10:00", "end": "13:00"},
        {"days": WEEKDAYS, "start": "14:00", "end": "20:00"},
    ],
}


@pytest.mark.parametrize(
    ("local", "next_local"),
    [
        ("2026-03-10T10:00:00+01:00", None),
        ("2026-03-10T12:59:00+01:00", None),
        ("2026-03-10T13:00:00+01:00", "2026-03-10T14:00:00+01:00"),
        ("2026-03-10T13:30:00+01:00", "2026-03-10T14:00:00+01:00"),
        ("2026-03-10T19:59:00+01:00", None),
        ("2026-03-10T20:00:00+01:00", "2026-03-11T10:00:00+01:00"),
        ("2026-03-10T09:59:00+01:00", "2026-03-10T10:00:00+01:00"),
        ("2026-03-14T11:00:00+01:00", "2026-03-16T10:00:00+01:00"),  # Saturday
        ("2026-03-27T21:00:00+01:00", "2026-03-30T10:00:00+02:00"),  # Friday night, DST on Sunday
    ],
)
def test_hours_in_contact_time_zone(make_workspace: MakeWs, local: str, next_local: str | None) -> None:
    ws = make_workspace(rules=[HOURS])
    contact(ws, timezone="Europe/Paris")
    d = decide(ws, ts(local), channel="call")
    if next_local is None:
        assert d.allowed
        return
    assert not d.allowed
    assert d.blocking_rules == ["call-hours"]
    assert d.next_allowed_at == ts(next_local)
    assert decide(ws, ts(next_local), channel="call").allowed
    # the rule is about calls only
    assert decide(ws, ts(local), channel="email").allowed


def test_hours_reason_is_readable_and_zone_dependent(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[HOURS])
    contact(ws, A, timezone="Europe/Paris")
    contact(ws, B, timezone="America/New_York")
    at = ts("2026-03-10T12:30:00+00:00")  # 13:30 in Paris, 08:30 in New York
    d = decide(ws, at, channel="call", email=A)
    assert d.reasons[0].message == "hours:call-hours Tue 13:30 (Europe/Paris) is outside the allowed hours"
    d = decide(ws, at, channel="call", email=B)
    assert d.reasons[0].message == "hours:call-hours Tue 08:30 (America/New_York) is outside the allowed hours"
    assert d.next_allowed_at == ts("2026-03-10T10:00:00-04:00")
    # a contact without a zone is read in the workspace's (UTC): 12:30 is allowed
    assert decide(ws, at, channel="call", email="carl@example.com").allowed


def test_next_allowed_combines_cap_and_hours(make_workspace: MakeWs) -> None:
    hours = {**HOURS, "allowed": [{"days": WEEKDAYS, "start": "10:00", "end": "13:00"}]}
    ws = make_workspace(rules=[cap("one-call", 1, window="36h", channels=["call"]), hours])
    contact(ws, timezone="Europe/Paris")
    touch(ws, ts("2026-03-10T10:30:00+01:00"), channel="call")
    d = decide(ws, ts("2026-03-10T11:00:00+01:00"), channel="call")
    assert d.blocking_rules == ["one-call"]
    # the cap frees a slot on Wednesday 22:30, outside the hours: Thursday 10:00
    assert d.next_allowed_at == ts("2026-03-12T10:00:00+01:00")


# -- consent, pause, tolerance ------------------------------------------------------


def test_unsubscribe_blocks_non_exempt_on_that_channel_only(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[])
    engage(ws, "unsubscribe", T - 5 * D, channel="email")
    d = decide(ws)
    assert not d.allowed
    (r,) = d.reasons
    assert (r.rule_id, r.kind) == ("consent", "consent")
    assert r.message == "consent: unsubscribed from email from acme on 2026-03-05"
    assert d.next_allowed_at is None
    assert "next allowed: not until consent changes" in ws.explain(d)
    assert not decide(ws, family="trigger").allowed
    assert decide(ws, family="transactional").allowed
    assert decide(ws, channel="sms").allowed


def test_later_resubscribe_lifts_the_block_an_earlier_one_does_not(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[])
    engage(ws, "resubscribe", T - 6 * D)
    engage(ws, "unsubscribe", T - 5 * D)
    assert not decide(ws).allowed
    engage(ws, "resubscribe", T - D)
    assert decide(ws).allowed
    # an older unsubscribe arriving late changes nothing
    engage(ws, "unsubscribe", T - 3 * D)
    assert decide(ws).allowed


def test_complaint_blocks_that_channel(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[])
    engage(ws, "complaint", T - 2 * D, channel="sms")
    d = decide(ws, channel="sms")
    assert not d.allowed
    assert d.reasons[0].message == "consent: complained about sms from acme on 2026-03-08"
    assert d.next_allowed_at is None
    assert decide(ws, channel="email").allowed
    assert decide(ws, channel="sms", family="service").allowed


def test_pause_until_a_date(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[])
    contact(ws, paused_until=T + 3 * D)
    d = decide(ws)
    assert not d.allowed
    (r,) = d.reasons
    assert (r.rule_id, r.kind) == ("pause", "consent")
    assert r.message == "consent: contact paused until 2026-03-13"
    assert d.next_allowed_at == T + 3 * D
    assert not decide(ws, channel="sms").allowed
    assert decide(ws, family="transactional").allowed
    assert decide(ws, T + 3 * D).allowed


def test_tolerance_capital_below_threshold_blocks_marketing_only(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[])
    touch(ws, T - 30 * D)
    score(ws, capital=30)
    d = decide(ws)
    assert not d.allowed
    (r,) = d.reasons
    assert r.rule_id == "tolerance"
    assert r.message == "tolerance: capital 30 below 40; contact flagged for care"
    assert (r.counted, r.limit) == (30, 40)
    assert d.next_allowed_at is None
    assert decide(ws, family="trigger").allowed
    assert decide(ws, family="transactional").allowed
    # at exactly the threshold, marketing goes on
    touch(ws, T - 30 * D, email=B)
    score(ws, capital=40, email=B)
    assert decide(ws, email=B).allowed


def test_tolerance_disabled(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[], tolerance={"enabled": False})
    touch(ws, T - 30 * D)
    score(ws, capital=0)
    assert decide(ws).allowed


def test_every_blocking_rule_is_reported(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[cap("weekly", 1), GAP, QUIET])
    touch(ws, T - H)
    engage(ws, "purchase", T - D)
    engage(ws, "unsubscribe", T - D)
    d = decide(ws)
    assert d.blocking_rules == ["consent", "weekly", "spacing", "after-purchase"]
    assert d.next_allowed_at is None


# -- Policy.evaluate directly ----------------------------------------------------------


def _policy(*rules: dict[str, Any], **sections: Any) -> Policy:
    return Policy(parse_config({"brands": {"acme": {}, "beta": {}}, "rules": list(rules), **sections}))


def _h(*ats: int, family: str = "marketing", planned: bool = False) -> list[CountedTouch]:
    return [CountedTouch(at, "email", "acme", family, 1.0, planned) for at in sorted(ats)]


def _cand(at: int = T, family: str = "marketing", weight: float | None = None) -> Candidate:
    return Candidate(A, "email", "acme", family, at, weight, "c")


UTC = ContactState(timezone="UTC")


def test_evaluate_rolling_window_boundaries() -> None:
    p = _policy({"id": "r", "kind": "cap", "max": 1, "window": 100})
    assert p.evaluate(_cand(), UTC, _h(T - 100)) == []
    (r,) = p.evaluate(_cand(), UTC, _h(T - 99))
    assert r.until == T + 1
    assert p.evaluate(_cand(), UTC, _h(T))[0].until == T + 100
    # real time ignores what lies after t, a plan does not
    assert p.evaluate(_cand(), UTC, _h(T + 1)) == []
    assert p.evaluate(_cand(), UTC, _h(T + 99), plan=True)[0].rule_id == "r"
    # a window holding both t and a touch at t + W would be longer than W
    assert p.evaluate(_cand(), UTC, _h(T + 100), plan=True) == []


def test_evaluate_plan_checks_each_window_not_the_union() -> None:
    p = _policy({"id": "r", "kind": "cap", "max": 2, "window": 10})
    # T-9 and T+9 are never in one 10-second window: each holds one
    assert p.evaluate(_cand(), UTC, _h(T - 9, T + 9), plan=True) == []
    (r,) = p.evaluate(_cand(), UTC, _h(T - 1, T + 5), plan=True)
    assert [t.at for t in r.touches] == [T - 1, T + 5]
    assert r.until is None  # a plan does not guess when
    (r,) = p.evaluate(_cand(), UTC, _h(T - 9, T - 1, T + 9), plan=True)
    assert [t.at for t in r.touches] == [T - 9, T - 1]
    (r,) = p.evaluate(_cand(), UTC, _h(T - 9, T + 1, T + 9), plan=True)
    assert [t.at for t in r.touches] == [T + 1, T + 9]


def test_evaluate_counts_planned_touches_and_marks_them() -> None:
    p = _policy({"id": "r", "kind": "cap", "max": 1, "window": "7d"})
    (r,) = p.evaluate(_cand(), UTC, _h(T + 2 * D, planned=True), plan=True)
    assert r.touches[0].planned and r.touches[0].at == T + 2 * D


def test_evaluate_calendar_in_contact_state_zone() -> None:
    p = _policy({"id": "d", "kind": "cap", "max": 1, "calendar": "day"})
    history = _h(ts("2026-03-10T14:00:00+00:00"))
    at = ts("2026-03-10T15:30:00+00:00")
    assert p.evaluate(_cand(at), ContactState(timezone="Asia/Tokyo"), history) == []
    (r,) = p.evaluate(_cand(at), ContactState(timezone="UTC"), history)
    assert r.until == ts("2026-03-11T00:00:00+00:00")


def test_evaluate_weight_and_limits() -> None:
    p = _policy({"id": "r", "kind": "cap", "max": {"engaged": 3, "default": 1}, "window": "7d"})
    hist = _h(T - D)
    assert p.evaluate(_cand(), ContactState(timezone="UTC", tier="engaged"), hist) == []
    assert p.evaluate(_cand(weight=2), ContactState(timezone="UTC", tier="engaged"), hist) == []
    (r,) = p.evaluate(_cand(weight=2.5), ContactState(timezone="UTC", tier="engaged"), hist)
    assert (r.counted, r.limit) == (1, 3)
    assert p.evaluate(_cand(), ContactState(timezone="UTC", tier="new"), hist)[0].limit == 1


def test_evaluate_consent_pause_tolerance_from_state() -> None:
    p = _policy()
    st = ContactState(timezone="UTC", consent=[(T - D, "email", "acme", "unsubscribed")])
    assert [r.rule_id for r in p.evaluate(_cand(), st, [])] == ["consent"]
    # judged at the candidate's time: an opt-out recorded later does not block earlier sends
    assert p.evaluate(_cand(at=T - 2 * D), st, []) == []
    st = ContactState(timezone="UTC", consent=[(T - D, "email", "acme", "subscribed")])
    assert p.evaluate(_cand(), st, []) == []
    # another brand's opt-out binds that brand only; a client-wide one binds every brand
    st = ContactState(timezone="UTC", consent=[(T - D, "email", "beta", "unsubscribed")])
    assert p.evaluate(_cand(), st, []) == []
    st = ContactState(timezone="UTC", consent=[(T - D, "email", "*", "unsubscribed")])
    assert [r.message for r in p.evaluate(_cand(), st, [])] == [
        "consent: do not contact by email (every brand of the client) since 2026-03-09"
    ]
    st = ContactState(timezone="UTC", paused_until=T + 1)
    assert p.evaluate(_cand(), st, [])[0].until == T + 1
    st = ContactState(timezone="UTC", capital=10)
    assert [r.rule_id for r in p.evaluate(_cand(), st, [])] == ["tolerance"]
    assert p.evaluate(_cand(family="trigger"), st, []) == []


def test_next_allowed_is_a_time_that_is_allowed() -> None:
    p = _policy(
        {"id": "w", "kind": "cap", "max": 2, "window": "3d"},
        {"id": "g", "kind": "gap", "min_gap": "1d"},
    )
    hist = _h(T - 2 * D, T - 20 * H)
    cand = _cand()
    reasons = p.evaluate(cand, UTC, hist)
    nxt = p.next_allowed(cand, UTC, hist, reasons)
    # the cap frees a slot at T + 1d; the gap was over at T + 4h
    assert nxt == T + D
    moved = Candidate(A, "email", "acme", "marketing", nxt, None, "c")
    assert p.evaluate(moved, UTC, hist) == []
    early = Candidate(A, "email", "acme", "marketing", nxt - 1, None, "c")
    assert p.evaluate(early, UTC, hist) != []
