"""The fr-telemarketing preset (décret n° 2022-1313): hours and holidays, attempts, refusal,
express consent, the opposition list, on SQLite and PostgreSQL; lists agree with decide()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError, InvalidValueError
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Opposition, Touch
from pressure_sdk.segments import ListKey, compute_lists
from pressure_sdk.workspace import Workspace

PARIS = ZoneInfo("Europe/Paris")
ANA = "ana@example.fr"
P1 = "+33612345678"


def paris(text: str) -> int:
    """Epoch seconds of a wall-clock time in Paris: '2026-11-10 11:00'."""
    return int(datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp())


def config(**brands: dict[str, Any]) -> dict[str, Any]:
    return {
        "workspace": {"timezone": "UTC", "phone_region": "FR"},
        "brands": brands or {"calls": {"presets": ["fr-telemarketing"]}},
        "accounts": [
            {"name": "dialer", "connector": "files", "brand": next(iter(brands or {"calls": 0})),
             "lists": [{"name": "no-call", "channel": "call"}]},
        ],
    }  # fmt: skip


@pytest.fixture
def ws(make_ledger_workspace: Callable[..., Workspace]) -> Workspace:
    w = make_ledger_workspace(**config())
    contact(w, ANA)
    return w


def contact(ws: Workspace, email: str, *, phones: tuple[str, ...] = (P1,), **attrs: Any) -> None:
    ws.ledger.ingest(Batch(contacts=[ContactUpdate(email, attributes=attrs, phones=phones)]), account="dialer")


def calls(ws: Workspace, *times: str, brand: str = "calls", email: str = "", phone: str | None = P1) -> None:
    ws.ledger.ingest(
        Batch(touches=[Touch(f"{brand}-{t}", email, "call", brand, "marketing", paris(t), phone=phone) for t in times]),
        account="dialer",
    )


def decide(ws: Workspace, when: str, brand: str = "calls", who: str = ANA) -> Any:
    return ws.decide(who, "call", brand, "marketing", paris(when))


# -- the rules it expands to --------------------------------------------------------


def test_the_preset_expands_to_three_named_rules_for_its_brands_only() -> None:
    cfg = parse_config(config(calls={"presets": ["fr-telemarketing"]}, shop={}))
    ids = [(r.id, r.kind, r.label) for r in cfg.all_rules]
    assert ids == [
        ("fr-telemarketing:hours", "hours", "fr-telemarketing:hours"),
        ("fr-telemarketing:attempts", "cap", "fr-telemarketing:attempts"),
        ("fr-telemarketing:refusal", "quiet", "fr-telemarketing:refusal"),
    ]
    assert all(r.apply_filter().brands == ["calls"] for r in cfg.all_rules)
    assert cfg.rules == []  # the file's own rules are untouched


def test_a_client_switches_it_on_for_all_its_brands() -> None:
    cfg = parse_config(
        {"clients": {"acme": {"presets": ["fr-telemarketing"]}, "other": {}},
         "brands": {"a": {"client": "acme"}, "b": {"client": "acme"}, "c": {"client": "other"}}}
    )  # fmt: skip
    hours = cfg.all_rules[0]
    assert hours.client == "acme" and hours.apply_filter().brands == ["a", "b"]


def test_bad_preset_configs_are_refused_with_their_key() -> None:
    with pytest.raises(ConfigError, match=r"brands\.calls\.presets.*'call' is not in workspace\.channels"):
        parse_config({"workspace": {"channels": ["email"]}, "brands": {"calls": {"presets": ["fr-telemarketing"]}}})
    with pytest.raises(ConfigError, match=r"brands\.calls\.presets"):
        parse_config({"brands": {"calls": {"presets": ["fr-telemarkting"]}}})
    with pytest.raises(ConfigError, match=r"rules\[0\] \(fr-telemarketing:mine\)\.id"):
        parse_config({"brands": {"a": {}}, "rules": [{"id": "fr-telemarketing:mine", "kind": "gap", "min_gap": "1d"}]})


# -- hours and holidays ---------------------------------------------------------------


def test_hours_windows_in_paris_for_contacts_without_a_zone(ws: Workspace) -> None:
    assert decide(ws, "2026-11-10 10:00").allowed  # Tuesday
    assert decide(ws, "2026-11-10 12:59").allowed
    assert decide(ws, "2026-11-10 19:59").allowed
    lunch = decide(ws, "2026-11-10 13:30")
    assert not lunch.allowed
    msg = lunch.reasons[0].message
    assert msg.startswith("fr-telemarketing:hours Tue 2026-11-10 13:30 (Europe/Paris) is outside the allowed hours")
    assert "décret n° 2022-1313" in msg
    assert lunch.next_allowed_at == paris("2026-11-10 14:00")
    assert not decide(ws, "2026-11-10 20:00").allowed
    assert not decide(ws, "2026-11-10 09:59").allowed
    sat = decide(ws, "2026-11-14 11:00")
    assert not sat.allowed and sat.next_allowed_at == paris("2026-11-16 10:00")


def test_a_holiday_on_a_weekday_is_closed_all_day(ws: Workspace) -> None:
    armistice = decide(ws, "2026-11-11 11:00")  # a Wednesday
    assert not armistice.allowed
    assert "Wed 2026-11-11 11:00 (Europe/Paris) is a public holiday (Armistice Day)" in armistice.reasons[0].message
    assert armistice.next_allowed_at == paris("2026-11-12 10:00")
    text = ws.explain(armistice)
    assert "fr-telemarketing:hours" in text and "décret n° 2022-1313" in text


def test_across_the_year_boundary_new_years_day_and_the_weekend_are_skipped(ws: Workspace) -> None:
    assert decide(ws, "2026-12-31 11:00").allowed  # Thursday
    late = decide(ws, "2026-12-31 20:30")
    # Friday 1 January 2027 is a holiday, then a weekend: Monday 4 January 10:00
    assert late.next_allowed_at == paris("2027-01-04 10:00")
    assert not decide(ws, "2027-01-01 11:00").allowed
    assert decide(ws, "2027-01-04 10:00").allowed


def test_regional_holidays_follow_the_contacts_region(ws: Workspace) -> None:
    contact(ws, "bea@example.fr", phones=("+33611111111",), region="Alsace-Moselle")
    good_friday = "2026-04-03 11:00"
    assert decide(ws, good_friday).allowed  # not a holiday in the rest of France
    blocked = decide(ws, good_friday, who="bea@example.fr")
    assert not blocked.allowed and "Good Friday" in blocked.reasons[0].message
    st_stephen = decide(ws, "2026-12-26 11:00", who="bea@example.fr")  # a Saturday anyway
    assert not st_stephen.allowed


def test_a_contacts_own_zone_wins(ws: Workspace) -> None:
    ws.ledger.ingest(Batch(contacts=[ContactUpdate("reunion@example.fr", timezone="Indian/Reunion")]), account="dialer")
    # La Réunion is UTC+4 (three hours ahead of Paris in November)
    assert not decide(ws, "2026-11-10 09:30").allowed
    assert decide(ws, "2026-11-10 09:30", who="reunion@example.fr").allowed  # 12:30 there
    assert not decide(ws, "2026-11-10 17:30", who="reunion@example.fr").allowed  # 20:30 there


# -- attempts ---------------------------------------------------------------------------


def test_a_fifth_attempt_in_30_days_is_refused_answered_or_not(ws: Workspace) -> None:
    calls(ws, "2026-11-02 10:00", "2026-11-05 10:00", "2026-11-09 10:00", "2026-11-12 10:00")
    d = decide(ws, "2026-11-20 11:00")
    assert not d.allowed
    assert d.reasons[0].message == "fr-telemarketing:attempts 4/4 in 30d (brand calls; décret n° 2022-1313)"
    assert d.reasons[0].rule_id == "fr-telemarketing:attempts"
    # 30 days after the first attempt, a Wednesday
    assert d.next_allowed_at == paris("2026-12-02 10:00")
    assert decide(ws, "2026-12-02 10:00").allowed


def test_attempts_count_across_the_year_boundary(ws: Workspace) -> None:
    calls(ws, "2026-12-15 10:00", "2026-12-18 10:00", "2026-12-22 10:00", "2026-12-29 10:00")
    assert not decide(ws, "2027-01-08 11:00").allowed
    assert not decide(ws, "2027-01-14 09:59").allowed
    assert decide(ws, "2027-01-14 10:00").allowed


def test_a_legal_entity_shares_its_attempts_between_brands(make_ledger_workspace: Callable[..., Workspace]) -> None:
    ws = make_ledger_workspace(
        **config(
            a={"presets": ["fr-telemarketing"], "legal_entity": "acme-sas"},
            b={"presets": ["fr-telemarketing"], "legal_entity": "acme-sas"},
            c={"presets": ["fr-telemarketing"]},
        )
    )
    contact(ws, ANA)
    calls(ws, "2026-11-02 10:00", "2026-11-03 10:00", brand="a")
    calls(ws, "2026-11-04 10:00", "2026-11-05 10:00", brand="b")
    d = decide(ws, "2026-11-06 11:00", brand="a")
    assert not d.allowed
    assert (
        d.reasons[0].message
        == "fr-telemarketing:attempts 4/4 in 30d (professional acme-sas: a, b; décret n° 2022-1313)"
    )
    assert decide(ws, "2026-11-06 11:00", brand="c").allowed  # another professional


def test_a_phone_only_call_counts_against_the_contact_holding_the_number(ws: Workspace) -> None:
    calls(ws, "2026-11-02 10:00", "2026-11-03 10:00", "2026-11-04 10:00")
    # a number without its country prefix is read in workspace.phone_region
    ws.record(Touch("sdk-1", "", "call", "calls", "marketing", paris("2026-11-05 10:00"), phone="06 12 34 56 78"))
    assert ws.ledger.count("contacts") == 1
    assert not decide(ws, "2026-11-06 11:00").allowed
    # a number names the contact too: the same verdict
    by_phone = ws.decide("", "call", "calls", "marketing", paris("2026-11-06 11:00"), phone="+33 6 12 34 56 78")
    assert not by_phone.allowed and by_phone.candidate.email == ANA and by_phone.candidate.phone == P1
    with pytest.raises(InvalidValueError, match=r"phone: expected a phone number such as \+33612345678, got .\+33 1."):
        ws.decide("", "call", "calls", "marketing", paris("2026-11-06 11:00"), phone="+33 1")


# -- refusal ------------------------------------------------------------------------------


def refuse(ws: Workspace, when: str, brand: str = "calls") -> None:
    ws.ledger.ingest(
        Batch(engagements=[Engagement(f"r-{when}", "", "call_refused", paris(when), "call", brand, phone=P1)]),
        account="dialer",
    )


def test_no_call_for_60_full_days_after_a_refusal(ws: Workspace) -> None:
    refuse(ws, "2026-11-02 11:00")
    d = decide(ws, "2026-12-30 11:00")
    assert not d.allowed
    assert d.reasons[0].message == (
        "fr-telemarketing:refusal call_refused on 2026-11-02 (brand calls): no new call before 2027-01-02 "
        "(60 full days; décret n° 2022-1313)"
    )
    assert decide(ws, "2027-01-04 11:00").allowed


def test_express_consent_lifts_hours_and_attempts_but_never_a_refusal(ws: Workspace) -> None:
    calls(ws, "2026-11-02 10:00", "2026-11-03 10:00", "2026-11-04 10:00", "2026-11-05 10:00")
    contact(ws, ANA, call_consent_at="2026-11-05", call_consent_source="web form #812, 2026-11-05")
    assert decide(ws, "2026-11-07 21:00").allowed  # a Saturday evening, fifth call
    assert not decide(ws, "2026-11-04 21:00").allowed  # before the consent: the limits held
    refuse(ws, "2026-11-09 11:00")
    d = decide(ws, "2026-11-10 11:00")
    assert not d.allowed and [r.rule_id for r in d.reasons] == ["fr-telemarketing:refusal"]


def test_a_consent_without_its_source_lifts_nothing(ws: Workspace) -> None:
    contact(ws, ANA, call_consent_at="2026-11-01")
    assert not decide(ws, "2026-11-07 21:00").allowed


# -- the opposition list ----------------------------------------------------------------


def oppose(ws: Workspace, when: str, number: str = P1) -> None:
    ws.ledger.ingest(Batch(oppositions=[Opposition(number, paris(when), "bloctel-2026-11.csv")]), account="dialer")


def test_from_opposition_to_express_consent(ws: Workspace) -> None:
    oppose(ws, "2026-11-02 12:00")
    assert decide(ws, "2026-10-30 11:00").allowed  # before the answer file's date
    d = decide(ws, "2026-11-10 11:00")
    assert not d.allowed and d.next_allowed_at is None
    assert d.reasons[0].rule_id == "opposition" and d.reasons[0].kind == "consent"
    assert "opposition list (Bloctel) since 2026-11-02" in d.reasons[0].message
    # other channels and exempt families are not prospecting calls
    assert ws.decide(ANA, "sms", "calls", "marketing", paris("2026-11-10 11:00")).allowed
    assert ws.decide(ANA, "call", "calls", "service", paris("2026-11-10 11:00")).allowed
    # the contact then consents to be called: from that day on, callable without the limits
    calls(ws, "2026-11-16 10:00", "2026-11-16 10:10", "2026-11-16 10:20", "2026-11-16 10:30")
    contact(ws, ANA, call_consent_at="2026-11-16T09:00:00", call_consent_source="signed form, shop 12")
    assert not decide(ws, "2026-11-13 11:00").allowed  # still opposed before the consent
    assert decide(ws, "2026-11-16 21:00").allowed  # fifth call, after hours: consent lifts both


def test_a_consent_older_than_the_listing_does_not_lift_it(ws: Workspace) -> None:
    contact(ws, ANA, call_consent_at="2026-10-01", call_consent_source="web form")
    oppose(ws, "2026-11-02 12:00")
    assert not decide(ws, "2026-11-10 11:00").allowed


def test_an_ongoing_contract_keeps_the_contact_callable_under_the_limits(ws: Workspace) -> None:
    oppose(ws, "2026-11-02 12:00")
    contact(ws, ANA, ongoing_contract="yes")
    assert decide(ws, "2026-11-10 11:00").allowed
    assert not decide(ws, "2026-11-10 13:30").allowed  # hours still hold
    calls(ws, "2026-11-02 10:00", "2026-11-03 10:00", "2026-11-04 10:00", "2026-11-05 10:00")
    assert not decide(ws, "2026-11-10 11:00").allowed


def test_the_opposition_binds_a_number_before_anyone_holds_it(ws: Workspace) -> None:
    oppose(ws, "2026-11-02 12:00", "+33699999999")
    contact(ws, "new@example.fr", phones=("+33699999999",))
    assert not decide(ws, "2026-11-10 11:00", who="new@example.fr").allowed
    assert not ws.decide("+33699999999", "call", "calls", "marketing", paris("2026-11-10 11:00")).allowed


# -- the lists agree with decide() --------------------------------------------------------


def test_the_call_list_is_what_decide_says_sending_hours_aside(ws: Workspace) -> None:
    people = {f"p{i}@example.fr": f"+3361234{i:04d}" for i in range(8)}
    for email, number in people.items():
        contact(ws, email, phones=(number,))
    e = list(people.items())
    calls(ws, *(f"2026-11-0{d} 10:00" for d in range(2, 6)), phone=e[0][1])  # saturated
    calls(ws, "2026-11-02 10:00", "2026-11-03 10:00", phone=e[1][1])  # room left
    calls(ws, *(f"2026-11-0{d} 10:00" for d in range(2, 6)), phone=e[2][1])
    contact(ws, e[2][0], phones=(), call_consent_at="2026-11-01", call_consent_source="form")  # lifted
    refuse(ws, "2026-11-03 10:00")  # P1: ana
    oppose(ws, "2026-11-01 12:00", e[3][1])
    oppose(ws, "2026-11-01 12:00", e[4][1])
    contact(ws, e[4][0], phones=(), ongoing_contract=1)
    oppose(ws, "2026-11-01 12:00", e[5][1])
    contact(ws, e[5][0], phones=(), call_consent_at="2026-11-04", call_consent_source="call recording 55")
    now = paris("2026-11-10 11:00")
    acc = ws.config.account("dialer")
    lists = compute_lists(ws.ledger, ws.policy, [acc], now)
    members = lists[ListKey("dialer", "no-call")]
    rows = ws.ledger.contacts_by_id(members)
    on_list = {r.email for r in rows.values()}
    expected = {c for c in [ANA, *people] if not ws.decide(c, "call", "calls", "marketing", now).allowed}
    assert on_list == expected == {ANA, e[0][0], e[3][0]}
