"""Priority arbitration of competing candidates (DESIGN §5, Arbitration)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from pressure_sdk.arbiter import arbitrate, priority_key
from pressure_sdk.config import parse_config
from pressure_sdk.models import Candidate, CountedTouch, Touch
from pressure_sdk.policy import ContactState, Policy
from pressure_sdk.workspace import Workspace

H = 3600
D = 86400
A = "ann@example.com"
B = "bob@example.com"
T = int(datetime.fromisoformat("2026-03-10T12:00:00+00:00").timestamp())
UTC = ContactState(timezone="UTC")

MakeWs = Callable[..., Workspace]
_ids = itertools.count()


def cand(
    cid: str,
    at: int = T,
    *,
    family: str = "marketing",
    brand: str = "acme",
    channel: str = "email",
    value: float = 0.0,
    email: str = A,
    weight: float | None = None,
) -> Candidate:
    return Candidate(email, channel, brand, family, at, weight, cid, value)


def policy(rules: list[dict[str, Any]], **sections: Any) -> Policy:
    sections.setdefault("brands", {"acme": {}, "beta": {}})
    return Policy(parse_config({"rules": rules, **sections}))


def run(p: Policy, cands: list[Candidate], history: list[CountedTouch] | None = None) -> dict[str, bool]:
    return {d.candidate.candidate_id: d.allowed for d in arbitrate(p, UTC, history or [], cands)}


ONE_A_WEEK = {"id": "weekly", "kind": "cap", "max": 1, "window": "7d", "scope": "all"}


def test_exempt_candidates_go_first_whatever_their_priority() -> None:
    families = {"receipt": {"priority": 0, "exempt": True}, "marketing": {"priority": 10}}
    rule = {**ONE_A_WEEK, "counts": {}, "applies": {"families": ["marketing"]}}
    p = policy([rule], families=families)
    decisions = arbitrate(p, UTC, [], [cand("m", T), cand("r", T + H, family="receipt")])
    assert [(d.candidate.candidate_id, d.allowed, d.exempt) for d in decisions] == [
        ("m", False, False),
        ("r", True, True),
    ]
    assert decisions[0].blocking_rules == ["weekly"]
    assert decisions[0].reasons[0].touches[0].family == "receipt"


def test_family_priority_then_brand_then_value_then_time_then_id() -> None:
    p = policy([ONE_A_WEEK], brands={"acme": {"priority": 1}, "beta": {"priority": 5}})
    # family: trigger (50) before marketing (10), even with a higher value and an earlier time
    assert run(p, [cand("m", T, value=100), cand("t", T + H, family="trigger")]) == {"m": False, "t": True}
    # brand priority
    assert run(p, [cand("a", T, brand="acme", value=100), cand("b", T + H, brand="beta")]) == {"a": False, "b": True}
    # value
    assert run(p, [cand("low", T, value=1), cand("high", T + H, value=9)]) == {"low": False, "high": True}
    # planned time
    assert run(p, [cand("late", T + H), cand("early", T)]) == {"late": False, "early": True}
    # candidate id
    assert run(p, [cand("b", T), cand("a", T)]) == {"b": False, "a": True}


def test_priority_key_orders_as_designed() -> None:
    p = policy(
        [],
        brands={"acme": {"priority": 1}, "beta": {"priority": 5}},
        families={
            "receipt": {"priority": 0, "exempt": True},
            "trigger": {"priority": 50},
            "marketing": {"priority": 10},
        },
    )
    cands = [
        cand("m-acme-v0-T-b", T),
        cand("m-acme-v0-T-a", T),
        cand("m-acme-v0-early", T - H),
        cand("m-acme-v5", T + H, value=5),
        cand("m-beta", T + 2 * H, brand="beta"),
        cand("trigger", T + 3 * H, family="trigger"),
        cand("receipt", T + 4 * H, family="receipt"),
    ]
    ordered = sorted(cands, key=lambda c: priority_key(p, c))
    assert [c.candidate_id for c in ordered] == [
        "receipt",
        "trigger",
        "m-beta",
        "m-acme-v5",
        "m-acme-v0-early",
        "m-acme-v0-T-a",
        "m-acme-v0-T-b",
    ]


def test_rejected_candidates_carry_every_blocking_rule() -> None:
    gap = {"id": "spacing", "kind": "gap", "min_gap": "1d"}
    p = policy([ONE_A_WEEK, gap])
    decisions = arbitrate(p, UTC, [], [cand("first", T, value=2), cand("second", T + H, value=1)])
    first, second = decisions
    assert first.allowed and first.next_allowed_at == T and first.reasons == ()
    assert not second.allowed
    assert second.blocking_rules == ["weekly", "spacing"]
    # both name the accepted send that fills the week and breaks the spacing
    first_send = "the accepted marketing email send at 2026-03-10T12:00:00+00:00"
    assert second.reasons[0].message == f"cap:weekly 1/1 in 7d (all brands) including {first_send}"
    assert second.reasons[1].message == f"gap:spacing a marketing email touch 1h ago, min gap 1d including {first_send}"


def test_history_alone_is_not_named_as_an_accepted_send() -> None:
    p = policy([ONE_A_WEEK])
    history = [CountedTouch(T - D, "email", "acme", "marketing", 1.0)]
    (d,) = arbitrate(p, UTC, history, [cand("c", T)])
    assert not d.allowed
    assert d.reasons[0].message == "cap:weekly 1/1 in 7d (all brands)"


def test_history_counts_in_a_plan() -> None:
    p = policy([ONE_A_WEEK])
    history = [CountedTouch(T - 6 * D, "email", "acme", "marketing", 1.0)]
    assert run(p, [cand("c", T)], history) == {"c": False}
    assert run(p, [cand("c", T + D)], history) == {"c": True}


def test_a_later_higher_priority_send_blocks_an_earlier_one() -> None:
    p = policy([ONE_A_WEEK])
    decisions = arbitrate(p, UTC, [], [cand("promo", T), cand("trigger", T + 2 * D, family="trigger")])
    promo, trigger = decisions
    assert trigger.allowed and not promo.allowed
    (r,) = promo.reasons
    assert [(t.at, t.family, t.planned) for t in r.touches] == [(T + 2 * D, "trigger", True)]
    # a planned send exactly one window later shares no window with it
    assert run(p, [cand("promo", T), cand("trigger", T + 7 * D, family="trigger")]) == {"promo": True, "trigger": True}
    # one second less and they do
    assert run(p, [cand("promo", T), cand("trigger", T + 7 * D - 1, family="trigger")]) == {
        "promo": False,
        "trigger": True,
    }


def test_planned_sends_count_on_both_sides_through_a_calendar_period() -> None:
    p = policy([{"id": "daily", "kind": "cap", "max": 2, "calendar": "day"}])
    got = run(
        p,
        [
            cand("evening-1", T + 8 * H, family="trigger"),
            cand("morning", T - 4 * H),
            cand("evening-2", T + 9 * H, family="trigger"),
            cand("tomorrow", T + 13 * H),
        ],
    )
    assert got == {"evening-1": True, "evening-2": True, "morning": False, "tomorrow": True}


def test_accepted_weight_fills_the_window() -> None:
    p = policy([{**ONE_A_WEEK, "max": 3}])
    got = run(p, [cand("heavy", T, value=9, weight=2), cand("light", T + H, value=5), cand("last", T + 2 * H, value=1)])
    assert got == {"heavy": True, "light": True, "last": False}


def test_exempt_candidates_are_accepted_even_over_the_cap() -> None:
    rule = {**ONE_A_WEEK, "families": ["transactional", "marketing"]}
    p = policy([rule])
    got = run(p, [cand(f"tx{i}", T + i * H, family="transactional") for i in range(3)] + [cand("m", T)])
    assert got == {"tx0": True, "tx1": True, "tx2": True, "m": False}


def test_a_counted_but_not_applied_send_cannot_overfill_an_accepted_window() -> None:
    # sms counts toward the email cap but the cap only applies to email
    rule = {**ONE_A_WEEK, "counts": {"channels": ["email", "sms"]}, "applies": {"channels": ["email"]}}
    p = policy([rule])
    decisions = arbitrate(p, UTC, [], [cand("email", T, value=10), cand("sms", T + H, channel="sms", value=1)])
    email, sms = decisions
    assert email.allowed
    # accepting the sms would put the accepted email's week at 2/1
    assert not sms.allowed
    assert sms.blocking_rules == ["weekly"]
    assert "cap:weekly" in sms.reasons[0].message
    # with the sms first (higher value), the email is the one refused, by its own rule
    decisions = arbitrate(p, UTC, [], [cand("email", T, value=1), cand("sms", T + H, channel="sms", value=10)])
    assert [d.allowed for d in decisions] == [False, True]
    # outside the window they do not interfere
    assert run(p, [cand("email", T, value=10), cand("sms", T + 8 * D, channel="sms", value=1)]) == {
        "email": True,
        "sms": True,
    }


def test_a_counted_but_not_applied_send_cannot_break_an_accepted_gap() -> None:
    gap = {
        "id": "spacing",
        "kind": "gap",
        "min_gap": "1d",
        "counts": {"channels": ["email", "sms"]},
        "applies": {"channels": ["email"]},
    }
    p = policy([gap])
    got = run(p, [cand("email", T, value=10), cand("sms", T + H, channel="sms", value=1)])
    assert got == {"email": True, "sms": False}
    assert run(p, [cand("email", T, value=10), cand("sms", T + D, channel="sms", value=1)]) == {
        "email": True,
        "sms": True,
    }


def test_rejected_decisions_have_no_next_allowed_and_keep_exempt_flag() -> None:
    p = policy([ONE_A_WEEK])
    decisions = arbitrate(p, UTC, [], [cand("a", T), cand("b", T + H)])
    assert decisions[1].next_allowed_at is None and decisions[1].exempt is False


def _at(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def test_a_send_the_cap_applies_to_but_does_not_count_is_protected_from_a_newcomer_it_counts() -> None:
    # counts sms and push, applies to email and sms: the email's own weight plus one counted
    # sms breaks the cap for the email, while the sms alone (the email is not counted) fits
    cfg = parse_config(
        {
            "brands": {"b": {}},
            "rules": [
                {
                    "id": "cap0",
                    "kind": "cap",
                    "max": 1,
                    "window": "4d",
                    "counts": {"channels": ["sms", "push"]},
                    "applies": {"channels": ["email", "sms"]},
                }
            ],
        }
    )
    p = Policy(cfg)
    email = cand("email", _at("2026-10-02T12:00:00+00:00"), brand="b", channel="email")
    sms = cand("sms", _at("2026-10-03T12:00:00+00:00"), brand="b", channel="sms")
    push = cand("push", _at("2026-10-12T12:00:00+00:00"), brand="b", channel="push")
    e, s, u = arbitrate(p, UTC, [], [email, sms, push])
    assert (e.allowed, s.allowed, u.allowed) == (True, False, True)
    assert s.blocking_rules == ["cap0"]
    assert s.reasons[0].message == (
        "cap:cap0 1/1 in 4d (brand b) for the accepted marketing email send at 2026-10-02T12:00:00+00:00"
    )
    # the push, nine days after the email, is in none of its windows
    assert u.reasons == () and u.next_allowed_at == push.at


def test_a_gap_that_counts_the_newcomer_but_not_the_accepted_send_still_protects_it() -> None:
    gap = {
        "id": "spacing",
        "kind": "gap",
        "min_gap": "1d",
        "counts": {"channels": ["sms"]},
        "applies": {"channels": ["email", "sms"]},
    }
    p = policy([gap])
    got = arbitrate(p, UTC, [], [cand("email", T, value=10), cand("sms", T + H, channel="sms", value=1)])
    assert [d.allowed for d in got] == [True, False]
    assert got[1].reasons[0].message == (
        "gap:spacing a marketing sms touch 1h later, min gap 1d "
        "for the accepted marketing email send at 2026-03-10T12:00:00+00:00"
    )
    # a day apart they do not interfere; one second less and they do
    assert run(p, [cand("email", T, value=10), cand("sms", T + D, channel="sms", value=1)]) == {
        "email": True,
        "sms": True,
    }
    assert run(p, [cand("email", T, value=10), cand("sms", T + D - 1, channel="sms", value=1)]) == {
        "email": True,
        "sms": False,
    }


def test_a_counted_only_newcomer_is_checked_over_the_whole_reach_of_the_accepted_sends_rules() -> None:
    weekly = {**ONE_A_WEEK, "counts": {"channels": ["sms"]}, "applies": {"channels": ["email"]}}
    p = policy([weekly])
    for gap, allowed in [(7 * D - 1, False), (7 * D, True)]:
        for sms_at in (T - gap, T + gap):
            got = run(p, [cand("email", T, value=10), cand("sms", sms_at, channel="sms", value=1)])
            assert got == {"email": True, "sms": allowed}, (gap, sms_at)
    monthly = {
        "id": "monthly",
        "kind": "cap",
        "max": 1,
        "calendar": "month",
        "scope": "all",
        "counts": {"channels": ["sms"]},
        "applies": {"channels": ["email"]},
    }
    p = policy([monthly])
    first = _at("2026-03-01T00:30:00+00:00")
    last = _at("2026-03-31T23:30:00+00:00")
    assert run(p, [cand("email", first, value=10), cand("sms", last, channel="sms", value=1)]) == {
        "email": True,
        "sms": False,
    }
    assert run(p, [cand("email", last, value=10), cand("sms", last + H, channel="sms", value=1)]) == {
        "email": True,
        "sms": True,
    }


def test_a_heavier_accepted_send_is_protected_from_a_lighter_newcomer_under_a_shared_rule() -> None:
    # the rule applies to both and counts only sms: the sms sees 0 + 1 <= 2, the email 1 + 2 > 2
    rule = {**ONE_A_WEEK, "max": 2, "counts": {"channels": ["sms"]}, "applies": {}}
    p = policy([rule])
    got = run(p, [cand("email", T, value=10, weight=2), cand("sms", T + H, channel="sms", value=1)])
    assert got == {"email": True, "sms": False}


def test_a_newcomer_outside_the_scope_of_an_accepted_send_is_not_blamed_for_it() -> None:
    # brand-scoped cap that counts sms and applies to email: beta's sms is not in acme's scope
    rule = {
        "id": "weekly",
        "kind": "cap",
        "max": 1,
        "window": "7d",
        "scope": "brand",
        "counts": {"channels": ["sms"]},
        "applies": {"channels": ["email"]},
    }
    p = policy([rule])
    email = cand("email", T, value=10)
    assert run(p, [email, cand("sms", T + H, brand="beta", channel="sms", value=1)]) == {"email": True, "sms": True}
    assert run(p, [email, cand("sms", T + H, brand="acme", channel="sms", value=1)]) == {"email": True, "sms": False}


def test_a_newcomer_names_every_accepted_send_it_would_push_over() -> None:
    rule = {**ONE_A_WEEK, "counts": {"channels": ["sms"]}, "applies": {"channels": ["email"]}}
    p = policy([rule])
    got = arbitrate(
        p,
        UTC,
        [],
        [cand("e1", T, value=10), cand("e2", T + 2 * H, value=9), cand("sms", T + H, channel="sms", value=1)],
    )
    assert [d.allowed for d in got] == [True, True, False]
    messages = [r.message for r in got[2].reasons]
    assert len(messages) == 2
    assert "send at 2026-03-10T12:00:00+00:00" in messages[0]
    assert "send at 2026-03-10T14:00:00+00:00" in messages[1]


# -- through the Workspace ------------------------------------------------------------


def test_plan_returns_decisions_in_input_order_across_contacts(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[{**ONE_A_WEEK, "families": ["marketing", "trigger"]}])
    ws.record(Touch(f"h{next(_ids)}", B, "email", "acme", "marketing", T - D))
    cands = [
        cand("a-low", T, email=A, value=1),
        cand("b-1", T, email=B, family="trigger"),
        cand("a-high", T + H, email=A, value=5),
        cand("b-tx", T, email=B, family="transactional"),
        cand("a-tx", T - H, email=A, family="transactional"),
    ]
    decisions = ws.plan(cands)
    assert [d.candidate.candidate_id for d in decisions] == [c.candidate_id for c in cands]
    assert {d.candidate.candidate_id: d.allowed for d in decisions} == {
        "a-low": False,
        "b-1": False,  # B's history already fills the week
        "a-high": True,
        "b-tx": True,
        "a-tx": True,
    }


def test_plan_normalizes_emails_and_groups_them(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[ONE_A_WEEK])
    decisions = ws.plan([cand("x", T, email="  Ann@Example.com", value=2), cand("y", T + H, email=A, value=1)])
    assert [d.allowed for d in decisions] == [True, False]
    assert decisions[0].candidate.email == A


def test_plan_sees_ledger_history_after_the_candidates(make_workspace: MakeWs) -> None:
    ws = make_workspace(rules=[ONE_A_WEEK])
    ws.record(Touch(f"h{next(_ids)}", A, "email", "acme", "marketing", T + 6 * D))
    (d,) = ws.plan([cand("c", T)])
    assert not d.allowed
    assert d.reasons[0].touches[0].at == T + 6 * D


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_plan_is_independent_of_input_order(make_workspace: MakeWs, shift: int) -> None:
    ws = make_workspace(rules=[{**ONE_A_WEEK, "max": 2}], brands={"acme": {"priority": 2}, "beta": {}})
    cands = [
        cand("m1", T, value=3),
        cand("m2", T + D, brand="beta", value=3),
        cand("m3", T + 2 * D, value=1),
        cand("t1", T + 3 * D, family="trigger"),
    ]
    rotated = cands[shift:] + cands[:shift]
    got = {d.candidate.candidate_id: d.allowed for d in ws.plan(rotated)}
    assert got == {"t1": True, "m1": True, "m3": False, "m2": False}
