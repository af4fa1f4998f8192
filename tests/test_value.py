"""Value data: the ledger's per-contact facts (both backends), RFM, CLV, relationship value."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError, InvalidValueError
from pressure_sdk.ledger.facts import ValueFact
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch
from pressure_sdk.sync import BatchChecker
from pressure_sdk.validate import Vocabulary
from pressure_sdk.value import (
    _expected_purchases,
    _fit_bgnbd,
    _fit_gamma_gamma,
    compute_values,
    quintiles,
    segment,
)

DAY = 86400
NOW = 1_790_000_000


def buy(
    i: int, email: str, at: int, amount: float | None, currency: str | None = "EUR", brand: str = "a"
) -> Engagement:
    return Engagement(f"p{i}", email, "purchase", at, None, brand, None, amount, currency)


def event(i: int, email: str, typ: str, at: int, brand: str = "a") -> Engagement:
    return Engagement(f"r{i}", email, typ, at, None, brand)


# -- the ledger's facts, on both backends -------------------------------------------------


def test_value_facts_group_by_type_brand_and_currency_up_to_the_time(ledger_factory: Callable[[], Any]) -> None:
    led = ledger_factory()
    ann = "ann@x.com"
    led.ingest(
        Batch(
            engagements=[
                buy(1, ann, NOW - 10 * DAY, 40.0),
                buy(2, ann, NOW - 10 * DAY + 60, 10.0),  # same day: one purchase day
                buy(3, ann, NOW - 3 * DAY, 25.0),
                buy(4, ann, NOW - 2 * DAY, -15.0),  # a refund
                buy(5, ann, NOW - 5 * DAY, 30.0, "USD"),
                buy(6, ann, NOW - 4 * DAY, None, None, brand="b"),
                buy(7, ann, NOW + DAY, 99.0),  # after the time: left out
                event(8, ann, "review", NOW - DAY),
                event(9, ann, "review", NOW - 2 * DAY),
                event(10, ann, "click", NOW - DAY),  # not asked for
            ]
        ),
        account="shop",
        client="c1",
    )
    led.ingest(Batch(engagements=[buy(11, ann, NOW - DAY, 500.0)]), account="other", client="c2")
    facts = list(led.value_facts("c1", NOW, ["purchase", "review"]))
    cid = led.contact(ann, "c1").id
    first_seen = NOW - 10 * DAY
    assert facts == [
        ValueFact(cid, first_seen, "purchase", "a", "EUR", 3, 2, 1, NOW - 10 * DAY, NOW - 2 * DAY, 60.0, 4),
        ValueFact(cid, first_seen, "purchase", "a", "USD", 1, 1, 0, NOW - 5 * DAY, NOW - 5 * DAY, 30.0, 1),
        ValueFact(cid, first_seen, "purchase", "b", None, 1, 1, 0, NOW - 4 * DAY, NOW - 4 * DAY, 0.0, 0),
        ValueFact(cid, first_seen, "review", "a", None, 2, 2, 0, NOW - 2 * DAY, NOW - DAY, 0.0, 0),
    ]
    # one contact only, and nothing for a client or types without such events
    assert list(led.value_facts("c1", NOW, ["review"], [cid])) == facts[3:]
    assert list(led.value_facts("c1", NOW, ["review"], [cid + 1000])) == []
    assert list(led.value_facts("c3", NOW, ["purchase"])) == []
    assert list(led.value_facts("c1", NOW, [])) == []


def test_history_of_holds_every_event_with_its_account(ledger_factory: Callable[[], Any]) -> None:
    led = ledger_factory()
    led.ingest(
        Batch(
            touches=[Touch("t1", "ann@x.com", "email", "a", "marketing", NOW - DAY, 2.0, "spring", "sku")],
            engagements=[buy(1, "ann@x.com", NOW - 2 * DAY, 12.5)],
            contacts=[ContactUpdate("ann@x.com", external_id="42")],
        ),
        account="shop",
    )
    led.ingest(Batch(touches=[Touch("t2", "ann@x.com", "sms", "b", "trigger", NOW)]), account="crm")
    h = led.history_of(led.contact("ann@x.com").id)
    assert [(t.at, t.channel, t.brand, t.family, t.weight, t.account, t.campaign, t.product) for t in h.touches] == [
        (NOW - DAY, "email", "a", "marketing", 2.0, "shop", "spring", "sku"),
        (NOW, "sms", "b", "trigger", None, "crm", None, None),
    ]
    assert [(e.type, e.amount, e.currency, e.account) for e in h.engagements] == [("purchase", 12.5, "EUR", "shop")]
    assert h.identities == (("crm", None), ("shop", "42"))


# -- declared relationship types are accepted where types are checked --------------------


def test_declared_relationship_types_pass_the_batch_check_and_others_do_not() -> None:
    cfg = parse_config({"brands": {"a": {}}, "value": {"relationship": {"review": 3, "unboxing_video": 8}}})
    acc = parse_config(
        {"brands": {"a": {}}, "accounts": [{"name": "shop", "connector": "files", "brand": "a"}]}
    ).accounts[0]
    check = BatchChecker(Vocabulary(cfg), acc, "default").check
    check(Batch(engagements=[event(1, "a@x.com", "unboxing_video", NOW), event(2, "a@x.com", "review", NOW)]))
    with pytest.raises(InvalidValueError, match=r"engagement 'r3': type: unknown engagement type 'referral'"):
        # declaring the table replaces the defaults: referral is no longer known
        check(Batch(engagements=[event(3, "a@x.com", "referral", NOW)]))


def test_a_relationship_type_may_not_shadow_a_built_in_one() -> None:
    with pytest.raises(ConfigError, match=r"value.relationship: 'purchase' is a built-in engagement type"):
        parse_config({"value": {"relationship": {"purchase": 2}}})


# -- RFM ----------------------------------------------------------------------------------


def test_quintiles_rank_within_the_set_and_ties_share_a_score() -> None:
    assert quintiles([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintiles([7, 7, 7]) == [4, 4, 4]
    assert quintiles([]) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0, 40.0, 1e6]), min_size=1, max_size=40))
def test_quintiles_are_those_of_scipys_average_ranks(values: list[float]) -> None:
    from scipy.stats import rankdata

    n = len(values)
    assert quintiles(values) == [max(1, min(5, math.ceil(5 * float(r) / n))) for r in rankdata(values)]


def test_segments_follow_the_documented_table() -> None:
    assert segment(5, 5, 4, 9) == "champions"
    assert segment(3, 4, 1, 9) == "loyal"
    assert segment(5, 1, 2, 1) == "new"
    assert segment(2, 3, 5, 4) == "at_risk"
    assert segment(1, 1, 1, 1) == "hibernating"
    assert segment(3, 2, 3, 2) == "potential"
    assert segment(0, 0, 0, 0) == "prospect"


def _client(make_ledger_workspace: Callable[..., Any], **value: Any) -> Any:
    return make_ledger_workspace(brands={"a": {}, "b": {}}, value=value)


def test_rfm_scores_are_quintiles_within_the_client(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _client(make_ledger_workspace)
    evs = []
    # ten customers: customer k bought k times, k*10 EUR each time, last k days ago
    for k in range(1, 11):
        for j in range(k):
            evs.append(buy(len(evs), f"c{k}@x.com", NOW - (k + j * 30) * DAY, 10.0 * k))
    ws.ledger.ingest(Batch(engagements=evs), account="shop")
    # another client's big spender changes nothing here
    ws.ledger.ingest(Batch(engagements=[buy(999, "c1@x.com", NOW, 1e6)]), account="x", client="other")
    t = compute_values(ws.ledger, ws.config, "default", NOW)
    got = {ws.ledger.contacts_by_id([cid])[cid].email: v for cid, v in t.contacts.items()}
    assert len(got) == 10
    assert [got[f"c{k}@x.com"].f for k in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [got[f"c{k}@x.com"].m for k in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # c1 bought most recently
    assert [got[f"c{k}@x.com"].r for k in range(1, 11)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert got["c10@x.com"].monetary == pytest.approx(1000.0)
    assert got["c10@x.com"].frequency == 10
    assert got["c1@x.com"].recency_days == pytest.approx(1.0)
    assert got["c1@x.com"].segment == "new"
    assert got["c10@x.com"].segment == "at_risk"
    assert t.model.method == "historical-rate" and "too few" in t.model.note


def test_other_currencies_convert_by_rate_or_are_left_out(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _client(make_ledger_workspace, rates={"USD": 0.5})
    ws.ledger.ingest(
        Batch(
            engagements=[
                buy(1, "a@x.com", NOW - DAY, 100.0, "EUR"),
                buy(2, "a@x.com", NOW - 2 * DAY, 100.0, "USD"),
                buy(3, "a@x.com", NOW - 3 * DAY, 100.0, "GBP"),
                buy(4, "a@x.com", NOW - 4 * DAY, 10.0, None),  # no currency: the client's
            ]
        ),
        account="shop",
    )
    t = compute_values(ws.ledger, ws.config, "default", NOW)
    (v,) = t.contacts.values()
    assert v.monetary == pytest.approx(100 + 50 + 10)
    assert v.frequency == 4
    assert t.left_out == {"GBP": 1}
    assert t.currency == "EUR"


def test_relationship_points_and_the_value_score_per_brand(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _client(make_ledger_workspace, relationship={"review": 3, "referral": 5}, point_value=10)
    ws.ledger.ingest(
        Batch(
            engagements=[
                event(1, "a@x.com", "review", NOW - DAY, "a"),
                event(2, "a@x.com", "review", NOW - 2 * DAY, "a"),
                event(3, "a@x.com", "referral", NOW - DAY, "b"),
                buy(4, "a@x.com", NOW - 10 * DAY, 80.0, brand="b"),
            ]
        ),
        account="shop",
    )
    t = compute_values(ws.ledger, ws.config, "default", NOW)
    cid = ws.ledger.contact("a@x.com").id
    v = t.contacts[cid]
    assert v.events == {"review": 2, "referral": 1}
    assert v.relationship == 11
    assert v.score == pytest.approx(v.clv + 110)
    assert t.brand_value(cid, "a") == pytest.approx(60)
    assert t.brand_value(cid, "b") == pytest.approx(v.clv + 50)
    assert v.clv > 0
    assert t.segment_of(cid + 1) == "prospect" and t.score_of(cid + 1) == 0


# -- CLV: the fitted models recover what they are fed ---------------------------------------


def _simulate(
    rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float, T: float, hold: float
) -> tuple[Any, Any, Any, Any]:
    """BG/NBD customers: purchases at a Poisson rate, dropping out after each with some chance."""
    lam = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    xs, txs, later = [], [], []
    for i in range(n):
        t, times = 0.0, []
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T + hold:
                break
            times.append(t)
            if rng.random() < drop[i]:
                break
        cal = [u for u in times if u <= T]
        xs.append(len(cal))
        txs.append(cal[-1] if cal else 0.0)
        later.append(len(times) - len(cal))
    return np.array(xs, float), np.array(txs, float), np.full(n, T), np.array(later, float)


def test_bgnbd_predicts_the_purchases_of_a_held_out_period() -> None:
    rng = np.random.default_rng(7)
    x, tx, T, later = _simulate(rng, 2000, 0.25, 4.0, 0.8, 2.5, 52.0, 26.0)
    params = _fit_bgnbd(x, tx, T)
    assert params is not None
    expected = _expected_purchases(params, x, tx, T, 26.0)
    # the aggregate forecast is within 10 % of what the simulated customers really did
    assert expected.sum() == pytest.approx(later.sum(), rel=0.10)
    # and it ranks customers: the top predicted fifth buys far more than the bottom fifth
    order = np.argsort(expected)
    assert later[order[-400:]].sum() > 5 * later[order[:400]].sum()
    assert params[0] == pytest.approx(0.25, rel=0.25)


def test_gamma_gamma_recovers_the_mean_spend() -> None:
    rng = np.random.default_rng(3)
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, 3000)
    x = rng.integers(1, 8, 3000).astype(float)
    m = np.array([rng.gamma(p, 1 / nu[i], int(x[i])).mean() for i in range(3000)])
    fit = _fit_gamma_gamma(x, m)
    assert fit is not None
    fp, fq, fv = fit
    # the population mean spend p*v/(q-1) is what matters to CLV
    assert fp * fv / (fq - 1) == pytest.approx(p * v / (q - 1), rel=0.05)


def test_clv_uses_the_fitted_models_when_the_client_has_enough_customers(
    make_ledger_workspace: Callable[..., Any],
) -> None:
    ws = _client(make_ledger_workspace)
    rng = np.random.default_rng(11)
    evs: list[Engagement] = []
    for k in range(60):
        n = int(rng.integers(1, 6))
        start = NOW - int(rng.integers(100, 300)) * DAY
        for j in range(n):
            evs.append(
                buy(len(evs), f"c{k}@x.com", start + j * int(rng.integers(5, 30)) * DAY, float(rng.integers(20, 80)))
            )
    ws.ledger.ingest(Batch(engagements=evs), account="shop")
    t = compute_values(ws.ledger, ws.config, "default", NOW)
    assert t.model.method == "bg-nbd+gamma-gamma", t.model.note
    assert set(t.model.params) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert t.model.customers == 60
    assert all(v.clv >= 0 for v in t.contacts.values())
    assert len({round(v.clv, 6) for v in t.contacts.values()}) > 10
    # a table for segments only fits nothing and gives the same segments
    seg = compute_values(ws.ledger, ws.config, "default", NOW, clv=False)
    assert seg.model.method == "none" and all(v.clv == 0 for v in seg.contacts.values())
    assert {c: v.segment for c, v in seg.contacts.items()} == {c: v.segment for c, v in t.contacts.items()}


def test_declared_types_may_score_and_quiet_like_built_in_ones(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = make_ledger_workspace(
        brands={"a": {}},
        value={"relationship": {"unboxing": 4}},
        scoring={"weights": {"click": 3, "unboxing": 6}},
        rules=[{"id": "thanks", "kind": "quiet", "after": ["unboxing"], "for": "2d", "families": ["marketing"]}],
        tiers=[{"name": "engaged", "min_score": 6, "lookback": "30d"}, {"name": "other"}],
    )
    ws.ledger.ingest(Batch(engagements=[event(1, "a@x.com", "unboxing", NOW - DAY)]), account="shop")
    d = ws.decide("a@x.com", "email", "a", "marketing", NOW)
    assert [r.rule_id for r in d.reasons] == ["thanks"]
    assert ws.contact("a@x.com", at=NOW).tier == "engaged"
    assert ws.decide("a@x.com", "email", "a", "marketing", NOW + 2 * DAY).allowed
    with pytest.raises(ConfigError, match=r"scoring.weights: unknown event type 'unboxing'"):
        parse_config({"scoring": {"weights": {"unboxing": 6}}})
