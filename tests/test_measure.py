"""KPIs and fatigue curves (DESIGN §8) on both ledgers, from histories small enough to check by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError
from pressure_sdk.measure import (
    PerThousand,
    Rate,
    fit_slope,
    last_complete_month,
    measure,
    month_bounds,
    months_ending,
    saturation_of,
)
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.timeutil import parse_instant

DAY = 86400


def at(text: str) -> int:
    return parse_instant(text, "UTC")


CFG = parse_config(
    {
        "clients": {"one": {}, "two": {}},
        "brands": {"a": {"client": "one"}, "b": {"client": "one"}, "z": {"client": "two"}},
        "families": {
            "marketing": {"weight": 1},
            "transactional": {"weight": 1, "exempt": True},
            "care": {"weight": 0.5},
        },
    }
)


def history() -> Batch:
    """Client one: x gets a, b (exempt), a, a-care; y gets a once. Client two: x's namesake gets z."""
    return Batch(
        touches=[
            Touch("t1", "x@e.com", "email", "a", "marketing", at("2026-10-05T10:00:00Z")),
            Touch("t2", "x@e.com", "email", "b", "transactional", at("2026-10-06T10:00:00Z")),
            Touch("t3", "x@e.com", "email", "a", "marketing", at("2026-10-07T10:00:00Z")),
            Touch("t4", "x@e.com", "email", "a", "care", at("2026-10-07T11:00:00Z")),
            Touch("t5", "y@e.com", "sms", "a", "marketing", at("2026-10-07T11:00:00Z")),
            # September's last touch counts in x's level on October 5 (within 7 days)...
            Touch("t0", "x@e.com", "email", "b", "marketing", at("2026-09-29T10:00:01Z")),
            # ...and this one, exactly 7 days before t1, does not: the window is (t - 7d, t]
            Touch("t00", "x@e.com", "email", "b", "marketing", at("2026-09-28T10:00:00Z")),
            # t7's follow-up runs into November, where t6 takes the credit of the events after it
            Touch("t7", "x@e.com", "email", "a", "marketing", at("2026-10-30T10:00:00Z")),
            Touch("t6", "x@e.com", "email", "a", "marketing", at("2026-11-02T10:00:00Z")),
        ],
        engagements=[
            # credited to t1 (the last message of brand a before it); a response of t1 only
            Engagement("e1", "x@e.com", "click", at("2026-10-06T12:00:00Z"), "email", "a"),
            # a purchase of brand a: a response of t1, t3 and t4; credited to t4 with its amount
            Engagement("e2", "x@e.com", "purchase", at("2026-10-07T12:00:00Z"), "email", "a", amount=50.0),
            Engagement("e3", "y@e.com", "open", at("2026-10-07T12:00:00Z"), "sms", "a"),
            # y unsubscribes from a: credited to t5; y attrites
            Engagement("e4", "y@e.com", "unsubscribe", at("2026-10-08T09:00:00Z"), "sms", "a"),
            # a click of brand b: no message of b within 7 days before it is measured, no credit
            Engagement("e5", "x@e.com", "click", at("2026-10-20T09:00:00Z"), "email", "b"),
            # a response of t7 (within 7 days) but credited to t6 (November), the last message before it
            Engagement("e6", "x@e.com", "purchase", at("2026-11-02T11:00:00Z"), "email", "a", amount=7.0),
        ],
    )


@pytest.fixture
def led(ledger_factory: Callable[[], Any]) -> Any:
    ledger = ledger_factory()
    ledger.ingest(history(), account="acc-one", client="one")
    ledger.ingest(
        Batch(touches=[Touch("u1", "x@e.com", "email", "z", "marketing", at("2026-10-05T09:00:00Z"))]),
        account="acc-two",
        client="two",
    )
    return ledger


def rows_of(m: Any) -> dict[tuple[str, str, int], Any]:
    return {(k.client, k.tier, k.level): k for k in m.kpis}


def test_levels_responses_and_credits_follow_the_definitions(led: Any) -> None:
    m = measure(led, CFG, months=["2026-10"], now=at("2026-11-20T00:00:00Z"))
    rows = rows_of(m)
    # x: t1 at level 2 (t0 + t1; t00 is exactly 7 days before); t3 at 1 + 1 + 1 = 3 (t0 left the
    # window, the exempt t2 counts); t4 (care, 0.5) at 3.5 -> 3; t7 at 1; y: t5 at 1. The other
    # client's touch never adds to x's level.
    assert sorted(rows) == [("one", "new", 1), ("one", "new", 2), ("one", "new", 3), ("two", "new", 1)]
    lv1, lv2, lv3 = rows["one", "new", 1], rows["one", "new", 2], rows["one", "new", 3]
    assert (lv2.messages, lv2.contacts, lv2.response_rate.count, lv2.click_rate.count) == (1, 1, 1, 1)
    assert (lv3.messages, lv3.contacts, lv3.response_rate.count, lv3.click_rate.count) == (2, 1, 2, 0)
    # the purchase is credited once, to the last message before it, with its amount
    assert (lv3.purchases_per_1000.total, lv3.revenue_per_1000.total) == (1, 50.0)
    assert lv3.revenue_per_1000.value == pytest.approx(25_000.0)
    # t5 and t7: y opened and unsubscribed; t7 responded (November's purchase), credited to nothing here
    assert (lv1.messages, lv1.contacts, lv1.open_rate.count, lv1.unsubscribe_rate.count) == (2, 2, 1, 1)
    assert (lv1.response_rate.count, lv1.purchases_per_1000.total) == (1, 0)
    # the month's end is past: y (highest level 1) unsubscribed, x (highest level 3) stays
    assert lv1.attrition is not None and (lv1.attrition.count, lv1.attrition.n) == (1, 1)
    assert lv3.retention is not None and (lv3.retention.count, lv3.retention.n) == (1, 1)
    assert lv3.attrition is not None and lv3.attrition.count == 0
    assert rows["two", "new", 1].messages == 1
    assert m.complete == {"2026-10": True}


def test_exempt_messages_count_in_the_level_but_are_not_measured_unless_asked(led: Any) -> None:
    m = measure(led, CFG, months=["2026-10"], now=at("2026-11-20T00:00:00Z"), families=["transactional"])
    rows = rows_of(m)
    # t2 at level 3: t0, t1 and itself
    assert list(rows) == [("one", "new", 3)]
    assert rows["one", "new", 3].messages == 1


def test_channels_and_client_filter(led: Any) -> None:
    m = measure(led, CFG, months=["2026-10"], now=at("2026-11-20T00:00:00Z"), channels=["sms"], client="one")
    assert [(k.client, k.level, k.messages) for k in m.kpis] == [("one", 1, 1)]
    assert m.clients == ["one"]


def test_a_month_whose_end_is_not_past_has_no_attrition_yet(led: Any) -> None:
    m = measure(led, CFG, months=["2026-10"], now=at("2026-10-25T00:00:00Z"))
    assert all(k.attrition is None and k.retention is None for k in m.kpis)
    assert m.complete == {"2026-10": False}


def test_tiers_are_taken_at_the_months_start(led: Any) -> None:
    # In November x is no longer new (first seen September 28, more than 30 days before
    # November 1) and its clicks and purchase of October make it engaged (3 + 5 + 3 >= 6 over 30 days).
    m = measure(led, CFG, months=["2026-10", "2026-11"], now=at("2026-12-20T00:00:00Z"))
    nov = [k for k in m.kpis if k.month == "2026-11"]
    assert [(k.tier, k.level, k.messages) for k in nov] == [("engaged", 2, 1)]
    assert nov[0].purchases_per_1000.total == 1 and nov[0].revenue_per_1000.total == 7.0
    curve = m.curve("one", "new")
    assert curve is not None and [p.level for p in curve.points] == [1, 2, 3]
    # October's new contacts of client one: x reached level 3, y level 1
    share = m.share_at_or_above("one", "new", 2, "2026-10")
    assert (share.count, share.n) == (1, 2)
    assert m.share_at_or_above("one", "engaged", 1).n == 1  # November, the last month measured


def test_measuring_needs_kept_scores(ledger_factory: Callable[[], Any]) -> None:
    from pressure_sdk.errors import LedgerError
    from pressure_sdk.ledger.lists import TouchFilter

    with pytest.raises(LedgerError, match="keep_scores"):
        ledger_factory().measure_month(
            since=0, until=DAY, weights={}, counts=TouchFilter(), level_cap=10, last_tier="inactive", end_scored=False
        )


def test_months() -> None:
    assert month_bounds("2026-10", "UTC") == (at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z"))
    assert month_bounds("2026-10", "Europe/Paris")[0] == at("2026-09-30T22:00:00Z")
    assert months_ending("2026-01", 3, "UTC") == ["2025-11", "2025-12", "2026-01"]
    # on November 5 October's last messages are still in their 7-day follow-up
    assert last_complete_month(at("2026-11-05T00:00:00Z"), "UTC") == "2026-09"
    assert last_complete_month(at("2026-11-08T00:00:00Z"), "UTC") == "2026-10"
    with pytest.raises(ConfigError, match="YYYY-MM"):
        month_bounds("October", "UTC")


def test_intervals_come_from_the_statistics_library() -> None:
    from statsmodels.stats.proportion import proportion_confint

    r = Rate.of(20, 1000)
    assert (r.low, r.high) == pytest.approx(proportion_confint(20, 1000, method="wilson"))
    assert Rate.of(0, 0).value is None
    # per-message values 0, 0, 3, 1: mean 1, sample sd sqrt(2)
    p = PerThousand.of(4, 10, 4)
    assert p.value == 1000.0
    assert p.high == pytest.approx(1000 * (1 + 1.959964 * (2 / 4) ** 0.5), rel=1e-5)
    assert p.low == 0.0


def test_fit_slope_recovers_a_known_logistic_slope() -> None:
    import math

    levels = [1.0, 2.0, 3.0, 4.0, 5.0]
    n = [200_000] * 5
    events = [round(200_000 / (1 + math.exp(-(-3.0 - 0.2 * lv)))) for lv in levels]
    s = fit_slope(levels, events, n, outcome="click")
    assert s is not None and s.low < -0.2 < s.high and s.estimate == pytest.approx(-0.2, abs=0.01)
    assert fit_slope([1.0, 2.0], [0, 0], [10, 10]) is None
    assert fit_slope([1.0, 1.0], [1, 2], [10, 10]) is None


def test_saturation_is_the_first_level_significantly_below_the_least_pressured_one() -> None:
    from pressure_sdk.measure import FatiguePoint

    def point(level: int, hits: int, n: int = 10_000) -> FatiguePoint:
        r = Rate.of(hits, n)
        z = PerThousand.of(0, 0, n)
        return FatiguePoint(level, n, r, r, r, r, z, z)

    ref, sat = saturation_of([point(1, 500), point(2, 520), point(3, 480), point(4, 300), point(5, 200)])
    assert (ref, sat) == (1, 4)
    # a level with too few messages is neither the reference nor the saturation level
    assert saturation_of([point(1, 5, 50), point(2, 500), point(3, 30, 99), point(4, 200)]) == (2, 4)
    assert saturation_of([point(1, 500), point(2, 510)]) == (1, None)
    assert saturation_of([point(1, 5, 50)]) == (None, None)
