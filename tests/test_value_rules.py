"""Rules that target value segments: lists computed set-wise equal Policy.evaluate per member.

Extends the property of ``test_segments.py`` (suppression lists equal the policy's own
verdict for every member of every list) to rules with ``value_segments``: purchases
with amounts spread the contacts over RFM segments, and the oracle gives each contact
the segment the workspace computes (as decide, plan and why do).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressure_sdk.config import VALUE_SEGMENTS
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch
from pressure_sdk.policy import Policy
from pressure_sdk.segments import ListKey, compute_lists, list_candidate
from pressure_sdk.state import contact_state
from pressure_sdk.timeutil import to_iso
from pressure_sdk.value import compute_values
from pressure_sdk.workspace import Workspace

from .test_segments import DAY, NOW, build, contacts, engagements, lists, rules, touches

segments = st.lists(st.sampled_from(VALUE_SEGMENTS), min_size=1, max_size=3, unique=True)
purchases = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.integers(-300, 0).map(lambda k: k * DAY // 2),
        st.sampled_from([5.0, 40.0, 300.0, -20.0]),
        st.sampled_from(["a1", "a2", "solo"]),
    ),
    max_size=25,
)


def oracle(led: Ledger, policy: Policy, cfg: Any) -> dict[ListKey, set[int]]:
    tables = {c: compute_values(led, cfg, c, NOW) for c in cfg.client_names}
    out: dict[ListKey, set[int]] = {}
    for acc in cfg.accounts:
        table = tables[cfg.client_of_account(acc)]
        for lst in acc.lists:
            cand = list_candidate(acc, lst, NOW)
            blocked = set()
            for c in led.iter_contacts(acc.name):
                state = contact_state(
                    c, policy.default_tz, led.consent_of(c.id), led.engagements_of(c.id, NOW - 400 * DAY, NOW)
                )
                state.value_segment = table.segment_of(c.id)
                history = policy.counted(led.touches_of(c.id, NOW - 400 * DAY, NOW))
                if policy.evaluate(cand, state, history, skip_hours=True):
                    blocked.add(c.id)
            out[ListKey(acc.name, lst.name)] = blocked
    return out


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rules, st.lists(lists, min_size=1, max_size=3), touches, engagements, purchases, contacts, st.data())
def test_lists_with_value_segment_rules_equal_policy_evaluate(  # type: ignore[no-untyped-def]
    ledger_factory, rule_list, account_lists, ts, es, ps, cs, data
) -> None:
    # some rules target value segments; the others judge everyone
    rule_list = [{**r, "value_segments": data.draw(segments)} if data.draw(st.booleans()) else r for r in rule_list]
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
    for i, (who, dt, amount, br) in enumerate(ps):
        e = Engagement(f"p{i}", f"c{who}@x.com", "purchase", NOW + dt, None, br, None, amount, "EUR")
        led.ingest(Batch(engagements=[e]), account=accounts[-1])
    for who, tz, mpw, paused, _tier, _capital in cs:
        attrs = {} if mpw is None else {"max_per_week": mpw}
        led.ingest(Batch(contacts=[ContactUpdate(f"c{who}@x.com", tz, paused, attrs)]), account=accounts[-1])
    policy = Policy(cfg)
    got = compute_lists(led, policy, cfg.accounts, NOW)
    assert got == oracle(led, policy, cfg)
    # and decide() at NOW (the workspace's value as of its now) agrees with the lists
    ws = Workspace(cfg.model_copy(update={"workspace": cfg.workspace.model_copy(update={"now": to_iso(NOW)})}), led)
    acc = cfg.accounts[0]
    lst = acc.lists[0]
    cand = list_candidate(acc, lst, NOW)
    for c in led.iter_contacts(acc.name):
        reasons = [
            r
            for r in ws.decide(c.email, cand.channel, cand.brand, cand.family, NOW, product=cand.product).reasons
            if r.kind != "hours"
        ]
        assert bool(reasons) == (c.id in got[ListKey(acc.name, lst.name)])
