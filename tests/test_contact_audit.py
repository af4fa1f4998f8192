"""The contact audit (SDK and CLI), care lists, value in arbitration, on both ledger backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pressure_sdk.cli import cli
from pressure_sdk.config import DEFAULT_TIERS, ScoringConfig, ToleranceConfig
from pressure_sdk.errors import InvalidValueError
from pressure_sdk.explain import membership
from pressure_sdk.models import Batch, Candidate, ContactUpdate, Engagement, Touch
from pressure_sdk.scoring import assign, capital_trail
from pressure_sdk.segments import ListKey, compute_lists

DAY = 86400
NOW = 1_790_000_000
BRANDS = {
    "paris": {"client": "maison", "group": "m", "consent_scope": "m", "priority": 1},
    "outlet": {"client": "maison", "group": "m", "consent_scope": "m", "priority": 1},
    "velo": {"client": "velo"},
}
ACCOUNTS = [
    {"name": "paris-hub", "connector": "files", "brand": "paris", "lists": [{"name": "care", "kind": "care"}]},
    {"name": "outlet-brevo", "connector": "files", "brand": "outlet", "lists": [{"name": "mk", "family": "marketing"}]},
    {"name": "velo", "connector": "files", "brand": "velo"},
]
RULES = [{"id": "weekly", "kind": "cap", "families": ["marketing"], "max": 2, "window": "7d", "scope": "group"}]


def _ws(make: Callable[..., Any], **extra: Any) -> Any:
    return make(
        brands=BRANDS,
        rules=RULES,
        clients={"maison": {}, "velo": {}},
        accounts=ACCOUNTS,
        workspace={"now": "2026-09-21T14:13:20Z"},
        **extra,
    )


def _fill(ws: Any) -> None:
    led = ws.ledger
    led.ingest(
        Batch(
            touches=[
                Touch("t1", "ann@x.com", "email", "paris", "marketing", NOW - 2 * DAY),
                Touch("t2", "ann@x.com", "sms", "paris", "trigger", NOW - DAY),
            ],
            engagements=[
                Engagement("e1", "ann@x.com", "purchase", NOW - 20 * DAY, "email", "paris", "coat", 120.0, "EUR"),
                Engagement("e2", "ann@x.com", "incident", NOW - 10 * DAY, None, "paris", "coat"),
                Engagement("e3", "ann@x.com", "review", NOW - 9 * DAY, None, "paris", "coat"),
            ],
            contacts=[ContactUpdate("ann@x.com", timezone="Europe/Paris", external_id="h-1")],
        ),
        account="paris-hub",
        client="maison",
    )
    led.ingest(
        Batch(
            touches=[Touch("t3", "ann@x.com", "email", "outlet", "marketing", NOW - 3 * DAY)],
            engagements=[
                Engagement("e4", "ann@x.com", "complaint", NOW - 5 * DAY, "email", "outlet"),
                Engagement("e5", "ann@x.com", "unsubscribe", NOW - 4 * DAY, "sms", "outlet"),
            ],
        ),
        account="outlet-brevo",
        client="maison",
    )
    # the same address at another client: another contact, never in maison's audit
    led.ingest(
        Batch(touches=[Touch("v1", "ann@x.com", "email", "velo", "marketing", NOW - DAY)]),
        account="velo",
        client="velo",
    )


def test_the_audit_tells_history_consent_capital_value_and_verdicts(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _ws(make_ledger_workspace)
    _fill(ws)
    a = ws.contact("Ann@X.com", client="maison")
    assert a.known and a.email == "ann@x.com" and a.client == "maison" and a.at == NOW
    assert [(t.account, t.brand, t.channel) for t in a.touches] == [
        ("outlet-brevo", "outlet", "email"),
        ("paris-hub", "paris", "email"),
        ("paris-hub", "paris", "sms"),
    ]
    assert [e.type for e in a.engagements] == ["purchase", "incident", "review", "complaint", "unsubscribe"]
    assert a.engagements[0].amount == 120.0 and a.engagements[0].currency == "EUR"
    assert a.identities == (("outlet-brevo", None), ("paris-hub", "h-1"))
    # consent per scope: both maison brands share the scope "m"
    assert [(c.channel, c.scope, c.status, c.brand) for c in a.consent] == [
        ("email", "m", "complained", "outlet"),
        ("sms", "m", "unsubscribed", "outlet"),
    ]
    # the capital: start 100, incident -30, complaint -60 (+ purchase at the full capital: no change)
    assert [(s.type, s.delta, s.capital) for s in a.capital_trail] == [
        ("incident", -30.0, 70.0),
        ("complaint", -60.0, 10.0),
        ("unsubscribe", -10.0, 0.0),
    ]
    assert a.capital == 0.0 and a.care and a.care_threshold == 40
    assert a.value is not None and a.value.events == {"review": 1} and a.value.monetary == 120.0
    assert a.segment == "champions" and a.currency == "EUR"  # the only customer: top of every quintile
    # verdicts are decide()'s, for every brand of the client, channel in use and family
    assert {v.brand for v in a.verdicts} == {"paris", "outlet"}
    assert {v.channel for v in a.verdicts} == {"email", "sms"}
    for v in a.verdicts:
        d = ws.decide("ann@x.com", v.channel, v.brand, v.family, client="maison")
        assert (v.allowed, v.reasons, v.next_allowed_at) == (
            d.allowed,
            tuple(r.message for r in d.reasons),
            d.next_allowed_at,
        )
    mk = next(v for v in a.verdicts if (v.brand, v.channel, v.family) == ("paris", "email", "marketing"))
    assert not mk.allowed and any("complained" in r for r in mk.reasons) and any("tolerance" in r for r in mk.reasons)
    data = a.as_dict()
    assert data["tolerance"]["trail"][0] == {
        "at": "2026-09-11T14:13:20+00:00",
        "type": "incident",
        "delta": -30.0,
        "capital": 70.0,
    }
    assert data["value"]["segment"] == "champions" and data["value"]["events"] == {"review": 1}
    assert "FLAGGED FOR CARE" in a.text() and "complained since" in a.text()


def test_an_unknown_contact_and_the_client_argument(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _ws(make_ledger_workspace)
    a = ws.contact("new@x.com", client="velo")
    assert not a.known and a.touches == () and a.segment == "prospect" and a.capital == 100 and not a.care
    assert all(v.allowed for v in a.verdicts)
    with pytest.raises(InvalidValueError, match="several clients"):
        ws.contact("new@x.com")
    with pytest.raises(InvalidValueError, match="unknown client 'nope'"):
        ws.contact("new@x.com", client="nope")
    with pytest.raises(InvalidValueError, match="not a valid email"):
        ws.contact("nobody", client="velo")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-300, 0).map(lambda d: NOW + d * DAY),
            st.sampled_from(["click", "purchase", "complaint", "incident", "unsubscribe", "bounce", "open"]),
        ),
        max_size=15,
    ).map(sorted)
)
def test_the_capital_trail_ends_at_the_capital_scoring_computes(events: list[tuple[int, str]]) -> None:
    tol = ToleranceConfig()
    trail = capital_trail(events, NOW, tol)
    s = assign(None, events, NOW, list(DEFAULT_TIERS), ScoringConfig(), tol)
    assert (trail[-1].capital if trail else tol.start) == s.capital
    assert all(step.delta != 0 for step in trail)


# -- care lists -----------------------------------------------------------------------------


def test_a_care_list_holds_the_audience_flagged_for_care(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _ws(make_ledger_workspace)
    _fill(ws)
    ws.ledger.ingest(
        Batch(
            engagements=[Engagement("b1", "bob@x.com", "incident", NOW - DAY, None, "paris")],
            touches=[Touch("b2", "cy@x.com", "email", "paris", "marketing", NOW - DAY)],
        ),
        account="paris-hub",
        client="maison",
    )
    # dan is flagged but only the outlet's account holds him
    ws.ledger.ingest(
        Batch(engagements=[Engagement("d1", "dan@x.com", "complaint", NOW - DAY, "email", "outlet")]),
        account="outlet-brevo",
        client="maison",
    )
    lists = compute_lists(ws.ledger, ws.policy, ws.config.accounts, NOW)
    ann = ws.ledger.contact("ann@x.com", "maison").id
    assert lists[ListKey("paris-hub", "care")] == {ann}
    # the outlet's suppression list is still computed as before (dan complained; ann too)
    dan = ws.ledger.contact("dan@x.com", "maison").id
    assert lists[ListKey("outlet-brevo", "mk")] >= {ann, dan}
    m = membership(ws, "ann@x.com", "care")
    assert m.on_list and m.care and m.reasons[0].rule_id == "care" and "care threshold 40" in m.reasons[0].message
    bob = membership(ws, "bob@x.com", "care")  # one incident: 70, not below 40
    assert not bob.on_list and "not flagged for care" in bob.text()


def test_a_higher_care_threshold_lists_more(make_ledger_workspace: Callable[..., Any]) -> None:
    ws = _ws(make_ledger_workspace, value={"care_threshold": 80})
    ws.ledger.ingest(
        Batch(engagements=[Engagement("b1", "bob@x.com", "incident", NOW - DAY, None, "paris")]),
        account="paris-hub",
        client="maison",
    )
    lists = compute_lists(ws.ledger, ws.policy, ws.config.accounts, NOW)
    assert lists[ListKey("paris-hub", "care")] == {ws.ledger.contact("bob@x.com", "maison").id}
    assert membership(ws, "bob@x.com", "care").on_list
    assert ws.contact("bob@x.com", client="maison").care


# -- value in arbitration ---------------------------------------------------------------------


def test_arbitration_by_value_lets_the_brand_where_the_contact_is_worth_most_go_first(
    make_ledger_workspace: Callable[..., Any],
) -> None:
    brands = {"a": {"priority": 1}, "b": {"priority": 1}}
    rules = [{"id": "one", "kind": "cap", "families": ["marketing"], "max": 1, "window": "7d", "scope": "all"}]

    def plan(arbitration: bool) -> list[bool]:
        ws = make_ledger_workspace(brands=brands, rules=rules, value={"arbitration": arbitration})
        ws.ledger.ingest(
            Batch(
                engagements=[
                    Engagement("p1", "ann@x.com", "purchase", NOW - 30 * DAY, None, "b", None, 300.0, "EUR"),
                    Engagement("r1", "ann@x.com", "referral", NOW - 3 * DAY, None, "b"),
                    Engagement("p2", "bob@x.com", "purchase", NOW - 30 * DAY, None, "a", None, 300.0, "EUR"),
                ]
            ),
            account="shop",
        )
        cands = [
            Candidate("ann@x.com", "email", "a", "marketing", NOW + DAY, None, "ann-a"),
            Candidate("ann@x.com", "email", "b", "marketing", NOW + DAY, None, "ann-b"),
            Candidate("bob@x.com", "email", "a", "marketing", NOW + DAY, None, "bob-a"),
            Candidate("bob@x.com", "email", "b", "marketing", NOW + DAY, None, "bob-b"),
        ]
        decisions = ws.plan(cands)
        # decisions carry the candidates as given, whatever value arbitration used
        assert [d.candidate for d in decisions] == cands
        # and decide() of one candidate is the same either way: value only orders competitors
        assert ws.decide("ann@x.com", "email", "a", "marketing", NOW + DAY).allowed
        return [d.allowed for d in decisions]

    # without value, equal priorities and times fall back to the candidate id: brand a first
    assert plan(False) == [True, False, True, False]
    # with it, ann is worth more at b (her purchase and referral), bob at a
    assert plan(True) == [False, True, True, False]


# -- CLI --------------------------------------------------------------------------------------


def test_cli_contact_text_json_and_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "pressure.toml"
    cfg.write_text(
        '[workspace]\nledger = "ledger.db"\nnow = "2026-09-21T14:13:20Z"\n'
        "[brands.acme]\n[value]\nrelationship = { review = 3, unboxing = 4 }\n"
        '[[rules]]\nid = "weekly"\nkind = "cap"\nmax = 1\nwindow = "7d"\n'
    )
    from pressure_sdk.workspace import Workspace

    with Workspace.open(cfg) as ws:
        ws.ledger.ingest(
            Batch(
                touches=[Touch("t1", "ann@x.com", "email", "acme", "marketing", NOW - DAY)],
                engagements=[Engagement("u1", "ann@x.com", "unboxing", NOW - DAY, None, "acme")],
            ),
            account="shop",
        )
    runner = CliRunner()
    out = runner.invoke(cli, ["contact", "ann@x.com", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    assert "ann@x.com (client default)" in out.output
    assert "relationship 4 points (unboxing 1)" in out.output
    assert "BLOCKED: cap:weekly 1/1 in 7d" in out.output
    out = runner.invoke(cli, ["contact", "ann@x.com", "--config", str(cfg), "--json"])
    assert out.exit_code == 0
    (data,) = json.loads(out.output)
    assert data["value"]["relationship"] == 4 and data["touches"][0]["account"] == "shop"
    bad = runner.invoke(cli, ["contact", "not-an-email", "--config", str(cfg)])
    assert bad.exit_code == 2 and "not a valid email" in bad.output
    bad = runner.invoke(cli, ["contact", "ann@x.com", "--client", "nope", "--config", str(cfg)])
    assert bad.exit_code == 2 and "unknown client" in bad.output
