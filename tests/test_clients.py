"""Clients, consent per sender and checked inputs (DESIGN §3, §5, §7.6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError, InvalidValueError
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Candidate, Engagement, Touch
from pressure_sdk.policy import Policy
from pressure_sdk.segments import ListKey, compute_lists
from pressure_sdk.workspace import Workspace

NOW = 1_790_000_000
DAY = 86400
A = "ann@example.com"

BRANDS = {
    "maison-paris": {"client": "maison", "group": "maison"},
    "maison-outlet": {"client": "maison", "group": "maison"},
    "velo": {"client": "velo"},
}
CAP = {"id": "weekly", "kind": "cap", "max": 2, "window": "7d", "scope": "all", "families": ["marketing"]}


def config(brands: dict[str, Any] | None = None, rules: list[dict[str, Any]] | None = None) -> Any:
    return parse_config(
        {
            "clients": {"maison": {}, "velo": {}},
            "brands": brands or BRANDS,
            "rules": rules if rules is not None else [CAP],
            "accounts": [
                {"name": "paris", "connector": "files", "brand": "maison-paris", "lists": [{"name": "p-mkt"}]},
                {"name": "outlet", "connector": "files", "brand": "maison-outlet", "lists": [{"name": "o-mkt"}]},
                {"name": "velo", "connector": "files", "brand": "velo", "lists": [{"name": "v-mkt"}]},
            ],
        }
    )


#: how this module's tests open a new, empty ledger: on each backend in turn (see below)
_new_ledger: Callable[[], Any] = Ledger


@pytest.fixture(autouse=True)
def _on_each_backend(ledger_factory: Callable[[], Any]) -> Iterator[None]:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    global _new_ledger
    _new_ledger = ledger_factory
    yield
    _new_ledger = Ledger


def workspace(cfg: Any) -> Workspace:
    return Workspace(cfg, _new_ledger())


def ingest(ws: Workspace, account: str, *events: Touch | Engagement) -> None:
    acc = ws.config.account(account)
    ws.ledger.ingest(
        Batch(
            touches=[e for e in events if isinstance(e, Touch)],
            engagements=[e for e in events if isinstance(e, Engagement)],
        ),
        account=account,
        client=ws.config.client_of_account(acc),
        default_brand=acc.brand,
    )


def lists_as_emails(ws: Workspace, at: int = NOW) -> dict[str, set[str]]:
    got = compute_lists(ws.ledger, ws.policy, ws.config.accounts, at)
    out = {}
    for key, ids in got.items():
        out[f"{key.account}/{key.list}"] = {c.email for c in ws.ledger.contacts_by_id(ids).values()}
    return out


# -- consent binds its sender -----------------------------------------------------------


def test_an_unsubscribe_from_one_brand_binds_that_brand_only() -> None:
    ws = workspace(config())
    for acc in ("paris", "outlet", "velo"):
        ingest(ws, acc, Touch(f"t-{acc}", A, "email", ws.config.account(acc).brand or "", "marketing", NOW - 9 * DAY))
    ingest(ws, "outlet", Engagement("u1", A, "unsubscribe", NOW - DAY, "email"))
    assert not ws.decide(A, "email", "maison-outlet", "marketing", NOW).allowed
    assert ws.decide(A, "email", "maison-paris", "marketing", NOW).allowed
    assert ws.decide(A, "email", "velo", "marketing", NOW).allowed
    # judged at the candidate's time: before the opt-out the outlet could still send
    assert ws.decide(A, "email", "maison-outlet", "marketing", NOW - 2 * DAY).allowed
    lists = lists_as_emails(ws)
    assert lists == {"paris/p-mkt": set(), "outlet/o-mkt": {A}, "velo/v-mkt": set()}


def test_brands_sharing_a_consent_scope_share_opt_outs_and_a_client_wide_one_binds_all() -> None:
    shared = {k: ({**v, "consent_scope": "maison"} if k.startswith("maison") else v) for k, v in BRANDS.items()}
    ws = workspace(config(shared))
    for acc in ("paris", "outlet", "velo"):
        ingest(ws, acc, Touch(f"t-{acc}", A, "email", ws.config.account(acc).brand or "", "marketing", NOW - 9 * DAY))
    ingest(ws, "outlet", Engagement("c1", A, "complaint", NOW - DAY, "email"))
    d = ws.decide(A, "email", "maison-paris", "marketing", NOW)
    assert d.reasons[0].message.startswith("consent: complained about email from maison-outlet (consent scope maison)")
    assert ws.decide(A, "email", "velo", "marketing", NOW).allowed
    assert lists_as_emails(ws) == {"paris/p-mkt": {A}, "outlet/o-mkt": {A}, "velo/v-mkt": set()}
    # a client-wide "do not contact" on sms: every maison brand, never velo
    ingest(ws, "paris", Engagement("dnc", A, "do_not_contact", NOW - DAY, "sms"))
    assert not ws.decide(A, "sms", "maison-outlet", "marketing", NOW).allowed
    assert not ws.decide(A, "sms", "maison-paris", "trigger", NOW).allowed
    assert ws.decide(A, "sms", "maison-paris", "service", NOW).allowed  # exempt
    assert ws.decide(A, "sms", "velo", "marketing", NOW).allowed
    ingest(ws, "paris", Engagement("dnc-lift", A, "do_not_contact_lifted", NOW - 1, "sms"))
    assert ws.decide(A, "sms", "maison-outlet", "marketing", NOW).allowed


def test_scope_all_means_every_brand_of_the_client_only() -> None:
    ws = workspace(config())
    ingest(ws, "velo", *(Touch(f"v{i}", A, "email", "velo", "marketing", NOW - i * DAY - 1) for i in range(3)))
    assert not ws.decide(A, "email", "velo", "marketing", NOW).allowed
    assert ws.decide(A, "email", "maison-paris", "marketing", NOW).allowed
    ingest(ws, "paris", Touch("p1", A, "email", "maison-paris", "marketing", NOW - DAY))
    ingest(ws, "outlet", Touch("o1", A, "email", "maison-outlet", "marketing", NOW - DAY))
    assert not ws.decide(A, "email", "maison-paris", "marketing", NOW).allowed


def test_a_rule_of_one_client_judges_that_client_only() -> None:
    rule = {"id": "velo-only", "kind": "cap", "max": 0, "window": "1d", "client": "velo"}
    ws = workspace(config(rules=[rule]))
    assert ws.decide(A, "email", "maison-paris", "marketing", NOW).allowed
    assert ws.decide(A, "email", "velo", "marketing", NOW).blocking_rules == ["velo-only"]
    with pytest.raises(ConfigError, match=r"rules\[0\] \(x\)\.client: unknown client 'nope'"):
        config(rules=[{**rule, "id": "x", "client": "nope"}])


def test_config_errors_for_clients_name_the_key() -> None:
    with pytest.raises(ConfigError, match="brands.velo.client: the workspace has several clients"):
        config({**BRANDS, "velo": {}})
    with pytest.raises(ConfigError, match="group 'maison' spans clients"):
        config({**BRANDS, "velo": {"client": "velo", "group": "maison"}})


# -- isolation between clients ------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.sampled_from(["email", "sms"]),
        st.sampled_from(["touch", "unsubscribe", "complaint", "click", "incident", "do_not_contact"]),
        st.integers(-20, 0).map(lambda k: k * DAY // 2),
    ),
    max_size=25,
)


def load(ws: Workspace, account: str, brand: str, evs: list[tuple[int, str, str, int]], tag: str) -> None:
    for i, (who, ch, kind, dt) in enumerate(evs):
        email = f"c{who}@x.com"
        if kind == "touch":
            ingest(ws, account, Touch(f"{tag}{i}", email, ch, brand, "marketing", NOW + dt))
        else:
            ingest(ws, account, Engagement(f"{tag}{i}", email, kind, NOW + dt, ch))


def client_view(ws: Workspace) -> tuple[object, ...]:
    """Everything of client maison a person or a machine could read."""
    led = ws.ledger
    decisions = [
        (d.allowed, tuple(r.message for r in d.reasons))
        for who in range(5)
        for ch in ("email", "sms")
        for d in [ws.decide(f"c{who}@x.com", ch, "maison-paris", "marketing", NOW)]
    ]
    plan = [
        (d.allowed, tuple(r.message for r in d.reasons))
        for d in ws.plan(
            [
                Candidate(f"c{who}@x.com", "email", "maison-outlet", "marketing", NOW + h * 3600, None, f"p{who}-{h}")
                for who in range(5)
                for h in (1, 30)
            ]
        )
    ]
    lists = lists_as_emails(ws)
    weights = {k: f.weight for k, f in ws.config.families.items()}
    status = (
        led.count("contacts", "maison"),
        led.count("touches", "maison"),
        led.count("engagements", "maison"),
        led.touch_counts("brand", "maison"),
        led.weekly_pressure(NOW, weights, "maison"),
    )
    return decisions, plan, lists["paris/p-mkt"], lists["outlet/o-mkt"], status


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, events, events)
def test_no_line_of_one_client_changes_with_the_other_clients_data(mine, theirs, other) -> None:  # type: ignore[no-untyped-def]
    views = []
    for velo_events in (theirs, other):
        ws = workspace(config())
        load(ws, "velo", "velo", velo_events, "v")  # same addresses, the other client first
        load(ws, "paris", "maison-paris", mine, "m")
        load(ws, "velo", "velo", velo_events[::-1], "w")
        views.append(client_view(ws))
    assert views[0] == views[1]


# -- nothing unknown is silently allowed ------------------------------------------------------


def test_decide_reserve_record_and_plan_reject_unknown_values_and_write_nothing() -> None:
    ws = workspace(config())
    with pytest.raises(InvalidValueError, match=r"channel: unknown channel 'e-mail'; known: .*email"):
        ws.decide(A, "e-mail", "velo", "marketing", NOW)
    with pytest.raises(InvalidValueError, match="unknown brand 'vello'; known: maison-outlet, maison-paris, velo"):
        ws.reserve(A, "email", "vello", "marketing", NOW)
    with pytest.raises(InvalidValueError, match="unknown family 'promo'"):
        ws.reserve(A, "email", "velo", "promo", NOW)
    with pytest.raises(InvalidValueError, match="'not an email' is not a valid email address"):
        ws.reserve("not an email", "email", "velo", "marketing", NOW)
    with pytest.raises(InvalidValueError, match="weight: expected a positive number, got -1"):
        ws.reserve(A, "email", "velo", "marketing", NOW, weight=-1)
    with pytest.raises(InvalidValueError, match="brand 'velo' belongs to client 'velo', not 'maison'"):
        ws.decide(A, "email", "velo", "marketing", NOW, client="maison")
    good = Touch("ok", A, "email", "velo", "marketing", NOW)
    with pytest.raises(InvalidValueError, match=r"touch 1 \(bad\): brand: unknown brand 'vello'"):
        ws.record([good, Touch("bad", A, "email", "vello", "marketing", NOW)])
    with pytest.raises(InvalidValueError, match=r"candidate 0 \(c0\): family: unknown family 'promo'"):
        ws.plan([Candidate(A, "email", "velo", "promo", NOW, None, "c0")])
    assert ws.ledger.count("touches") == 0 and ws.ledger.count("contacts") == 0


def test_time_arguments_take_epoch_seconds_or_aware_datetimes() -> None:
    ws = workspace(config(rules=[{**CAP, "max": 1}]))
    at = datetime.fromtimestamp(NOW, UTC)
    assert ws.reserve(A, "email", "velo", "marketing", at).candidate.at == NOW
    assert not ws.decide(A, "email", "velo", "marketing", NOW + 60).allowed
    assert ws.record(Touch("dt", "b@x.com", "email", "velo", "marketing", at)) == 1  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="has no time zone"):
        ws.decide(A, "email", "velo", "marketing", datetime(2026, 11, 16, 12))


def test_decide_sees_a_new_incident_at_once() -> None:
    ws = workspace(config(rules=[]))
    assert ws.decide(A, "email", "velo", "marketing", NOW).allowed
    ingest(ws, "velo", *(Engagement(f"i{i}", A, "incident", NOW - 60 + i, None) for i in range(3)))
    d = ws.decide(A, "email", "velo", "marketing", NOW)
    assert d.blocking_rules == ["tolerance"] and d.reasons[0].message.startswith("tolerance: capital 10 below 40")
    assert ws.decide(A, "email", "velo", "marketing", NOW - 120).allowed  # before the incidents


def test_lists_are_computed_per_client_for_the_same_address() -> None:
    ws = workspace(config(rules=[{**CAP, "max": 1}]))
    ingest(ws, "velo", Touch("v1", A, "email", "velo", "marketing", NOW - DAY))
    ingest(ws, "paris", Engagement("seen", A, "open", NOW - 10 * DAY, "email"))
    got = compute_lists(ws.ledger, ws.policy, ws.config.accounts, NOW)
    velo_id = ws.ledger.contact(A, "velo").id  # type: ignore[union-attr]
    maison_id = ws.ledger.contact(A, "maison").id  # type: ignore[union-attr]
    assert got[ListKey("velo", "v-mkt")] == {velo_id}
    assert got[ListKey("paris", "p-mkt")] == set() and maison_id != velo_id
    assert Policy(ws.config).client_of["velo"] == "velo"
