"""Suppression lists are computed set-wise in SQL; they must equal Policy.evaluate per member."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch
from pressure_sdk.policy import Policy
from pressure_sdk.segments import ListKey, compute_lists, list_candidate
from pressure_sdk.state import contact_state

NOW = 1_790_000_000  # 2026-09-21T12:53:20Z
DAY = 86400
BRANDS = {"a1": {"group": "g", "priority": 2}, "a2": {"group": "g", "priority": 1}, "solo": {}}
CHANNELS = ["email", "sms"]
FAMILIES = ["marketing", "trigger", "transactional"]
ZONES = [None, "Europe/Paris", "America/New_York", "Asia/Tokyo"]
TYPES = ["open", "click", "purchase", "complaint", "unsubscribe", "resubscribe", "incident"]

sub = lambda xs: st.none() | st.lists(st.sampled_from(xs), min_size=1, max_size=len(xs), unique=True)  # noqa: E731
flt = st.fixed_dictionaries({"channels": sub(CHANNELS), "families": sub(FAMILIES), "brands": sub(list(BRANDS))})
maxes = (
    st.integers(0, 4)
    | st.fixed_dictionaries({"engaged": st.integers(0, 4), "default": st.integers(0, 4)})
    | st.fixed_dictionaries({"attribute": st.just("max_per_week"), "fallback": st.integers(0, 4)})
)
cap = st.fixed_dictionaries(
    {
        "kind": st.just("cap"),
        "max": maxes,
        "scope": st.sampled_from(["brand", "group", "all"]),
        "families": sub(FAMILIES),
        "channels": sub(CHANNELS),
    },
    optional={
        "window": st.sampled_from(["1d", "3d", "7d"]),
        "calendar": st.sampled_from(["day", "week", "month"]),
        "counts": flt,
    },
).filter(lambda r: "window" in r or "calendar" in r)
gap = st.fixed_dictionaries(
    {
        "kind": st.just("gap"),
        "min_gap": st.sampled_from(["12h", "2d"]),
        "scope": st.sampled_from(["brand", "group", "all"]),
        "families": sub(FAMILIES),
    },
    optional={"counts": flt},
)
quiet = st.fixed_dictionaries(
    {
        "kind": st.just("quiet"),
        "after": st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
        "for": st.sampled_from(["2d", "10d"]),
        "scope": st.sampled_from(["brand", "group", "all"]),
    },
    optional={"match": st.just("product"), "counts": flt, "families": sub(FAMILIES)},
)
# window and gap boundaries fall on the half-day grid the events use
hours = st.just({"kind": "hours", "allowed": [{"days": ["mon"], "start": "10:00", "end": "11:00"}]})
rules = st.lists(cap | gap | quiet | hours, min_size=1, max_size=4)

touches = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.sampled_from(CHANNELS),
        st.sampled_from(list(BRANDS)),
        st.sampled_from(FAMILIES),
        st.integers(-80, 2).map(lambda k: k * DAY // 2),
        st.none() | st.sampled_from([0.5, 2.0]),
    ),
    max_size=60,
)
engagements = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.sampled_from(TYPES),
        st.sampled_from([None, *CHANNELS]),
        st.sampled_from([None, *BRANDS]),
        st.integers(-200, 2).map(lambda k: k * DAY // 2),
        st.sampled_from([None, "p1", "p2"]),
    ),
    max_size=20,
)
contacts = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.sampled_from(ZONES),
        st.sampled_from([None, 0, 1, 2, "x"]),
        st.sampled_from([None, NOW + DAY, NOW - DAY]),
        st.sampled_from([None, "engaged", "dormant"]),
        st.sampled_from([None, 10.0, 90.0]),
    ),
    max_size=8,
)
lists = st.lists(
    st.fixed_dictionaries(
        {"channel": st.sampled_from(CHANNELS), "family": st.sampled_from(FAMILIES)},
        optional={"product": st.sampled_from(["p1", "p2"]), "brand": st.sampled_from(list(BRANDS))},
    ),
    min_size=1,
    max_size=3,
)


def build(rule_list: list[dict[str, Any]], account_lists: list[list[dict[str, Any]]]) -> Any:
    return parse_config(
        {
            "workspace": {"timezone": "Europe/Paris"},
            "brands": BRANDS,
            "families": {
                "transactional": {"priority": 9, "exempt": True},
                "trigger": {"priority": 5, "weight": 1.5},
                "marketing": {"priority": 1},
            },
            "rules": [{**r, "id": f"r{i}"} for i, r in enumerate(rule_list)],
            "accounts": [
                {
                    "name": f"acc{i}",
                    "connector": "files",
                    "brand": list(BRANDS)[i],
                    "lists": [{**lst, "name": f"l{j}"} for j, lst in enumerate(ls)],
                }
                for i, ls in enumerate(account_lists)
            ],
        }
    )


def oracle(led: Ledger, policy: Policy, cfg: Any) -> dict[ListKey, set[int]]:
    out: dict[ListKey, set[int]] = {}
    for acc in cfg.accounts:
        for lst in acc.lists:
            cand = list_candidate(acc, lst, NOW)
            blocked = set()
            for c in led.iter_contacts(acc.name):
                state = contact_state(
                    c, policy.default_tz, led.consent_of(c.id), led.engagements_of(c.id, NOW - 400 * DAY, NOW)
                )
                history = policy.counted(led.touches_of(c.id, NOW - 400 * DAY, NOW))
                if policy.evaluate(cand, state, history, skip_hours=True):
                    blocked.add(c.id)
            out[ListKey(acc.name, lst.name)] = blocked
    return out


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rules, st.lists(lists, min_size=1, max_size=3), touches, engagements, contacts, st.data())
def test_lists_equal_policy_evaluate_for_every_member(  # type: ignore[no-untyped-def]
    ledger_factory, rule_list, account_lists, ts, es, cs, data
) -> None:
    # ledger_factory gives each example a new, empty ledger of the backend under test
    cfg = build(rule_list, account_lists)
    led = ledger_factory()
    accounts = [a.name for a in cfg.accounts]
    for i, (who, ch, br, fam, dt, w) in enumerate(ts):
        acc = data.draw(st.sampled_from(accounts))
        led.ingest(Batch(touches=[Touch(f"t{i}", f"c{who}@x.com", ch, br, fam, NOW + dt, w)]), account=acc)
    for i, (who, typ, ch, br, dt, product) in enumerate(es):
        led.ingest(
            Batch(engagements=[Engagement(f"e{i}", f"c{who}@x.com", typ, NOW + dt, ch, br, product)]),
            account=accounts[0],
        )
    # tiers and capital are derived from the engagements at NOW, by both sides
    for who, tz, mpw, paused, _tier, _capital in cs:
        attrs = {} if mpw is None else {"max_per_week": mpw}
        led.ingest(Batch(contacts=[ContactUpdate(f"c{who}@x.com", tz, paused, attrs)]), account=accounts[-1])
    policy = Policy(cfg)
    assert compute_lists(led, policy, cfg.accounts, NOW) == oracle(led, policy, cfg)


def test_list_of_an_exempt_family_is_always_empty(ledger_factory: Callable[[], Ledger]) -> None:
    cfg = build([{"kind": "cap", "max": 0, "window": "1d"}], [[{"channel": "email", "family": "transactional"}]])
    led = ledger_factory()
    led.ingest(Batch(touches=[Touch("t", "a@x.com", "email", "a1", "marketing", NOW)]), account="acc0")
    assert compute_lists(led, Policy(cfg), cfg.accounts, NOW) == {ListKey("acc0", "l0"): set()}


def test_max_zero_puts_every_member_on_the_list(ledger_factory: Callable[[], Ledger]) -> None:
    cfg = build(
        [{"kind": "cap", "max": 0, "window": "1d", "families": ["marketing"]}],
        [[{"channel": "email", "family": "marketing"}]],
    )
    led = ledger_factory()
    led.ingest(
        Batch(touches=[Touch(f"t{i}", f"c{i}@x.com", "email", "a1", "trigger", NOW - 90 * DAY) for i in range(3)]),
        account="acc0",
    )
    led.ingest(Batch(touches=[Touch("x", "other@x.com", "email", "a1", "trigger", NOW)]), account="elsewhere")
    got = compute_lists(led, Policy(cfg), cfg.accounts, NOW)[ListKey("acc0", "l0")]
    assert len(got) == 3 and led.contact("other@x.com").id not in got  # type: ignore[union-attr]


def test_window_boundary_matches_decide(ledger_factory: Callable[[], Ledger]) -> None:
    """A touch exactly one window ago no longer counts; one a second later does."""
    cfg = build(
        [{"kind": "cap", "max": 1, "window": "7d", "scope": "all"}], [[{"channel": "email", "family": "marketing"}]]
    )
    led = ledger_factory()
    led.ingest(Batch(touches=[Touch("t1", "out@x.com", "email", "a1", "marketing", NOW - 7 * DAY)]), account="acc0")
    led.ingest(Batch(touches=[Touch("t2", "in@x.com", "email", "a1", "marketing", NOW - 7 * DAY + 1)]), account="acc0")
    got = compute_lists(led, Policy(cfg), cfg.accounts, NOW)[ListKey("acc0", "l0")]
    assert got == {led.contact("in@x.com").id}  # type: ignore[union-attr]
    assert got == oracle(led, Policy(cfg), cfg)[ListKey("acc0", "l0")]


def test_calendar_period_starts_at_the_contacts_local_midnight(ledger_factory: Callable[[], Ledger]) -> None:
    # NOW is Monday 2026-09-21 12:53Z; the week began at local midnight, earlier in Tokyo than in Paris
    cfg = build(
        [{"kind": "cap", "max": 1, "calendar": "week", "scope": "all"}], [[{"channel": "email", "family": "marketing"}]]
    )
    led = ledger_factory()
    tokyo_monday = 1_790_000_000 - (12 * 3600 + 53 * 60 + 20) - 9 * 3600  # 2026-09-21T00:00+09:00
    paris_monday = tokyo_monday + 7 * 3600  # 2026-09-21T00:00+02:00
    for email, tz in (("tokyo@x.com", "Asia/Tokyo"), ("paris@x.com", None)):
        led.ingest(Batch(contacts=[ContactUpdate(email, tz)]), account="acc0")
        led.ingest(
            Batch(touches=[Touch(f"t-{email}", email, "email", "a1", "marketing", tokyo_monday + 3600)]), account="acc0"
        )
    got = compute_lists(led, Policy(cfg), cfg.accounts, NOW)[ListKey("acc0", "l0")]
    # 01:00 Monday in Tokyo is this week there, but Sunday 18:00 last week in Paris
    assert got == {led.contact("tokyo@x.com").id}  # type: ignore[union-attr]
    assert paris_monday > tokyo_monday + 3600
    assert got == oracle(led, Policy(cfg), cfg)[ListKey("acc0", "l0")]


def test_a_sum_that_only_blocks_the_heavier_list_still_blocks_it(ledger_factory: Callable[[], Ledger]) -> None:
    # trigger weighs 1.5, marketing 1: 2 + 1 fits a max of 3, 2 + 1.5 does not
    rule = {"kind": "cap", "max": {"engaged": 0, "default": 3}, "window": "1d", "scope": "all"}
    cfg = build([rule], [[{"channel": "email", "family": "marketing"}, {"channel": "email", "family": "trigger"}]])
    led = ledger_factory()
    led.ingest(Batch(touches=[Touch("t", "a@x.com", "email", "solo", "marketing", NOW, 2.0)]), account="acc0")
    got = compute_lists(led, Policy(cfg), cfg.accounts, NOW)
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    assert got == {ListKey("acc0", "l0"): set(), ListKey("acc0", "l1"): {cid}}
    assert got == oracle(led, Policy(cfg), cfg)
