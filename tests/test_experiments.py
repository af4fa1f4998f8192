"""Holdout tests of policies: config, assignment, per-arm rules, stops, estimators, report."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressure_sdk.arms import Arms, bucket
from pressure_sdk.cli import cli
from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError
from pressure_sdk.experiments import (
    check_stops,
    estimate,
    mde_rate,
    mixture_halfwidth,
    plan,
    report,
    required_per_arm,
    srm_pvalue,
)
from pressure_sdk.ledger import ArmStop, Ledger
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.policy import Policy
from pressure_sdk.segments import ListKey, compute_lists, list_candidate
from pressure_sdk.state import contact_state
from pressure_sdk.timeutil import to_iso
from pressure_sdk.workspace import Workspace

from .test_segments import NOW, build, contacts, engagements, lists, rules, touches

DAY = 86400
START = "2026-09-01"  # before NOW (2026-09-21)


def base_config(**experiment: Any) -> dict[str, Any]:
    """Two clients; maison runs cap 3 a week against cap 2."""
    exp = {
        "id": "cap2-test",
        "client": "maison",
        "start": START,
        "salt": "s1",
        "arms": [
            {"name": "control", "share": 0.5},
            {"name": "cap2", "share": 0.5, "rules": {"email-weekly": {"max": 2}}},
        ],
        **experiment,
    }
    return {
        "workspace": {"timezone": "UTC"},
        "clients": {"maison": {}, "velo": {}},
        "brands": {"paris": {"client": "maison"}, "velo": {"client": "velo"}},
        "rules": [{"id": "email-weekly", "kind": "cap", "max": 3, "window": "7d", "channels": ["email"]}],
        "experiments": [exp],
    }


# -- config -------------------------------------------------------------------------------


def bad(change: Callable[[dict[str, Any]], None]) -> str:
    data = base_config()
    change(data)
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="pressure.toml")
    return str(exc.value)


def test_config_errors_name_the_key_and_what_was_expected() -> None:
    assert parse_config(base_config()).experiments[0].control_arm == "control"
    msg = bad(lambda d: d["experiments"][0]["arms"][1].update(share=0.6))
    assert "pressure.toml" in msg and "experiments[0]: arms: shares must sum to 1, got 1.1 (0.5 + 0.6)" in msg
    msg = bad(lambda d: d["experiments"][0]["arms"][1]["rules"].update({"nope": {"max": 1}}))
    assert "experiments[0] (cap2-test).arms[1] (cap2).rules: unknown rule id 'nope'; known: ['email-weekly']" in msg
    msg = bad(lambda d: d["experiments"][0]["arms"][1]["rules"]["email-weekly"].update(max="lots"))
    assert "experiments[0] (cap2-test).arms[1] (cap2).rules.email-weekly: max:" in msg
    msg = bad(lambda d: d["experiments"][0]["arms"][1]["rules"]["email-weekly"].update(kind="gap"))
    assert "['kind'] cannot change in an arm" in msg
    msg = bad(lambda d: d["experiments"][0].update(client="nobody"))
    assert "experiments[0] (cap2-test).client: unknown client 'nobody'" in msg
    msg = bad(lambda d: d["experiments"][0].update(metric="opens"))
    assert "experiments[0].metric:" in msg and "'clicks'" in msg
    msg = bad(lambda d: d["experiments"][0].update(control="treated"))
    assert "control: unknown arm 'treated'" in msg
    msg = bad(lambda d: d["experiments"][0].update(end="2026-08-01"))
    assert "end: '2026-08-01' is not after start" in msg


def test_overlapping_experiments_on_the_same_rules_and_client_are_refused() -> None:
    def overlap(d: dict[str, Any]) -> None:
        d["experiments"].append({**copy.deepcopy(d["experiments"][0]), "id": "again", "start": "2026-10-01"})

    msg = bad(overlap)
    assert "experiments[1] (again): overlaps experiment 'cap2-test' on client 'maison'" in msg
    assert "['email-weekly']" in msg
    # one after the other, or on another client, is fine
    data = base_config(end="2026-10-01")
    data["experiments"].append({**copy.deepcopy(data["experiments"][0]), "id": "next", "start": "2026-10-01"})
    data["experiments"][1].pop("end")
    assert len(parse_config(data).experiments) == 2


def test_an_arm_cannot_override_another_clients_rule() -> None:
    def other(d: dict[str, Any]) -> None:
        d["rules"][0]["client"] = "velo"

    assert "the rule belongs to client 'velo', not to the experiment's 'maison'" in bad(other)


# -- assignment ---------------------------------------------------------------------------


def test_assignment_is_a_stable_hash_of_id_salt_and_email() -> None:
    cfg = parse_config(base_config())
    exp = Arms.of(Policy(cfg)).experiments[0]
    emails = [f"c{i}@x.com" for i in range(20_000)]
    arms = [exp.arm_of(e) for e in emails]
    # the same inputs give the same arm in every process and backend (sha256, not hash())
    assert bucket("cap2-test", "s1", "c0@x.com") == bucket("cap2-test", "s1", "c0@x.com")
    digest = hashlib.sha256(b"cap2-test\x1fs1\x1fc0@x.com").digest()
    assert (
        bucket("cap2-test", "s1", "c0@x.com") == int.from_bytes(digest[:8], "big") / 2**64 == pytest.approx(0.1802432)
    )
    share = arms.count("cap2") / len(arms)
    assert 0.49 < share < 0.51
    assert srm_pvalue([arms.count("control"), arms.count("cap2")], [0.5, 0.5]) > 0.01
    # another salt reshuffles about half of the contacts
    other = parse_config(base_config(salt="s2"))
    again = [Arms.of(Policy(other)).experiments[0].arm_of(e) for e in emails]
    moved = sum(a != b for a, b in zip(arms, again, strict=True))
    assert 0.45 < moved / len(emails) < 0.55


def arm_emails(ws: Workspace, n: int = 40) -> dict[str, list[str]]:
    exp = ws.arms.experiments[0]
    out: dict[str, list[str]] = {"control": [], "cap2": []}
    for i in range(n):
        email = f"p{i}@x.com"
        out[exp.arm_of(email)].append(email)
    return out


def test_decide_reserve_and_plan_follow_each_contacts_arm(ledger_factory: Callable[[], Any]) -> None:
    ws = Workspace(parse_config(base_config()), ledger_factory())
    by_arm = arm_emails(ws)
    t = NOW
    for emails in by_arm.values():
        for e in emails:
            ws.record([Touch(f"{e}-{k}", e, "email", "paris", "marketing", t - (k + 1) * 3600) for k in range(2)])
    # a velo contact with the same address and history is untouched by maison's experiment
    e0 = by_arm["cap2"][0]
    ws.record([Touch(f"v-{k}", e0, "email", "velo", "marketing", t - (k + 1) * 3600) for k in range(2)])
    assert ws.decide(e0, "email", "velo", "marketing", t).allowed
    for e in by_arm["control"]:
        assert ws.decide(e, "email", "paris", "marketing", t).allowed
    for e in by_arm["cap2"]:
        d = ws.decide(e, "email", "paris", "marketing", t)
        assert not d.allowed and "cap:email-weekly 2/2 in 7d" in d.reasons[0].message
    # before the start date everyone has the workspace's rules
    before = t - 30 * DAY
    for e in by_arm["cap2"][:3]:
        ws.record([Touch(f"{e}-old{k}", e, "email", "paris", "marketing", before - (k + 1) * 3600) for k in range(2)])
        assert ws.decide(e, "email", "paris", "marketing", before).allowed
    # plan: one more candidate each; control accepts, cap2 rejects
    from pressure_sdk.models import Candidate

    cands = [Candidate(e, "email", "paris", "marketing", t) for arm in ("control", "cap2") for e in by_arm[arm][:3]]
    got = [d.allowed for d in ws.plan(cands)]
    assert got == [True] * 3 + [False] * 3
    # reserve: control takes its third slot, cap2 does not
    assert ws.reserve(by_arm["control"][0], "email", "paris", "marketing", t).allowed
    assert not ws.reserve(by_arm["cap2"][1], "email", "paris", "marketing", t).allowed
    # a stopped arm's contacts go back to the workspace's rules from the stop on
    assert ws.ledger.stop_arm(ArmStop("cap2-test", "cap2", t - 60, "complaints"))
    assert not ws.ledger.stop_arm(ArmStop("cap2-test", "cap2", t, "again"))
    assert ws.decide(by_arm["cap2"][2], "email", "paris", "marketing", t).allowed
    assert not ws.decide(by_arm["cap2"][2], "email", "paris", "marketing", t - 120).allowed
    ws.close()


# -- lists per arm: the property test of test_segments, with an experiment ----------------


def _override(rule: dict[str, Any], k: int) -> dict[str, Any]:
    kind = rule["kind"]
    if kind == "cap":
        return {"max": k}
    if kind == "gap":
        return {"min_gap": "2d" if rule["min_gap"] == "12h" else "12h"}
    if kind == "quiet":
        return {"for": "10d" if rule["for"] == "2d" else "2d"}
    return {}


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rules, st.lists(lists, min_size=1, max_size=3), touches, engagements, contacts, st.data())
def test_each_arms_lists_equal_policy_evaluate_with_the_arms_rules(  # type: ignore[no-untyped-def]
    ledger_factory, rule_list, account_lists, ts, es, cs, data
) -> None:
    from pressure_sdk.models import ContactUpdate

    base = build(rule_list, account_lists)
    target = data.draw(st.integers(0, len(rule_list) - 1))
    change = _override(rule_list[target], data.draw(st.integers(0, 4)))
    share = data.draw(st.sampled_from([0.3, 0.5, 0.7]))
    arms = [{"name": "control", "share": round(1 - share, 1)}, {"name": "t", "share": share}]
    if change:
        arms[1]["rules"] = {f"r{target}": change}
    raw = base.model_dump(by_alias=True, exclude_unset=True, exclude={"base_dir", "source"})
    raw["experiments"] = [{"id": "e", "client": "default", "start": "2026-09-01", "salt": "x", "arms": arms}]
    cfg = parse_config(raw)
    led = ledger_factory()
    stopped = data.draw(st.booleans())
    if stopped:
        led.stop_arm(ArmStop("e", "t", NOW - DAY, "test"))
    accounts = [a.name for a in cfg.accounts]
    for i, (who, ch, br, fam, dt, w) in enumerate(ts):
        acc = data.draw(st.sampled_from(accounts))
        led.ingest(Batch(touches=[Touch(f"t{i}", f"c{who}@x.com", ch, br, fam, NOW + dt, w)]), account=acc)
    for i, (who, typ, ch, br, dt, product) in enumerate(es):
        led.ingest(
            Batch(engagements=[Engagement(f"e{i}", f"c{who}@x.com", typ, NOW + dt, ch, br, product)]),
            account=accounts[0],
        )
    for who, tz, mpw, paused, _tier, _capital in cs:
        attrs = {} if mpw is None else {"max_per_week": mpw}
        led.ingest(Batch(contacts=[ContactUpdate(f"c{who}@x.com", tz, paused, attrs)]), account=accounts[-1])
    policy = Policy(cfg)
    arms_of = Arms.of(policy)
    stops = led.experiment_stops()
    want: dict[ListKey, set[int]] = {}
    for acc in cfg.accounts:
        for lst in acc.lists:
            cand = list_candidate(acc, lst, NOW)
            blocked = set()
            for c in led.iter_contacts(acc.name):
                p = arms_of.policy_for("default", c.email, NOW, stops)
                if stopped or arms_of.experiments[0].arm_of(c.email) == "control":
                    assert p is policy
                state = contact_state(
                    c, p.default_tz, led.consent_of(c.id), led.engagements_of(c.id, NOW - 400 * DAY, NOW)
                )
                history = p.counted(led.touches_of(c.id, NOW - 400 * DAY, NOW))
                if p.evaluate(cand, state, history, skip_hours=True):
                    blocked.add(c.id)
            want[ListKey(acc.name, lst.name)] = blocked
    assert compute_lists(led, policy, cfg.accounts, NOW) == want


def test_lists_differ_by_arm_and_do_not_leak() -> None:
    data = base_config()
    data["accounts"] = [
        {"name": "paris", "connector": "files", "brand": "paris", "lists": [{"name": "mkt"}]},
        {"name": "velo", "connector": "files", "brand": "velo", "lists": [{"name": "mkt"}]},
    ]
    cfg = parse_config(data)
    led = Ledger(":memory:")
    ws = Workspace(cfg, led)
    by_arm = arm_emails(ws, 60)
    for emails in by_arm.values():
        for e in emails:
            for brand in ("paris", "velo"):
                led.ingest(
                    Batch(
                        touches=[
                            Touch(f"{brand}{e}{k}", e, "email", brand, "marketing", NOW - k * 3600 - 60)
                            for k in range(2)
                        ]
                    ),
                    account=brand,
                    client="maison" if brand == "paris" else "velo",
                )
    got = compute_lists(led, Policy(cfg), cfg.accounts, NOW)
    ids = {e: led.contact(e, "maison").id for arm in by_arm for e in by_arm[arm]}  # type: ignore[union-attr]
    assert got[ListKey("paris", "mkt")] == {ids[e] for e in by_arm["cap2"]}
    assert got[ListKey("velo", "mkt")] == set()  # velo runs no experiment: 2 of 3, nobody blocked
    # `why` explains each contact with its arm's rules, as the lists computed them
    from pressure_sdk.explain import membership

    for arm, emails in by_arm.items():
        for e in emails[:5]:
            m = membership(ws, e, "mkt", account="paris", at=NOW)
            assert m.on_list == (arm == "cap2")
    ws.close()


# -- estimators ---------------------------------------------------------------------------


def test_sample_sizes_match_the_issues_scale_figures() -> None:
    # a 10 % relative change of a 2 % click rate: about 81,000 contacts per arm at 80 % power
    assert required_per_arm(0.02, 0.10) == pytest.approx(81_000, rel=0.02)
    # of a 1 % monthly unsubscribe rate: about 163,000
    assert required_per_arm(0.01, 0.10) == pytest.approx(163_000, rel=0.02)
    # and the minimum detectable effect inverts it
    assert mde_rate(0.02, 81_000) == pytest.approx(0.10, rel=0.02)
    assert mde_rate(0.02, 4 * 81_000) == pytest.approx(0.05, rel=0.05)


def simulate(rng: np.random.Generator, n: int, effect: float) -> tuple[np.ndarray, ...]:
    """Per-contact clicks with a planted additive effect and a correlated pre-period."""
    lam = rng.gamma(2.0, 0.5, size=2 * n)
    x = rng.poisson(lam * 2)
    y = rng.poisson(lam) + rng.normal(0, 0.3, size=2 * n)
    y[:n] += effect
    return y[:n], y[n:], x[:n], x[n:]


def test_95_percent_intervals_cover_the_planted_effect_93_to_97_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261130)
    runs, effect = 400, 0.05
    plain = cuped = always = 0
    reductions = []
    for _ in range(runs):
        y1, y0, x1, x0 = simulate(rng, 1500, effect)
        e = estimate("clicks", y1, y0, x1, x0)
        plain += e.diff.low <= effect <= e.diff.high
        cuped += e.cuped.low <= effect <= e.cuped.high
        always += e.sequential.low <= effect <= e.sequential.high
        reductions.append(e.variance_reduction)
        assert e.cuped.high - e.cuped.low < e.diff.high - e.diff.low
    assert 0.93 <= plain / runs <= 0.97
    assert 0.93 <= cuped / runs <= 0.97
    assert always / runs >= 0.97  # valid at every look, so wider than a single look needs
    # CUPED removes corr(y, x)^2 of the variance: cov 2 Var(lam) = 1, Var y = 1 + 0.5 + 0.09, Var x = 2 + 4 * 0.5
    assert float(np.mean(reductions)) == pytest.approx(1 / (1.59 * 4), abs=0.01)


def test_always_valid_interval_holds_over_daily_looks() -> None:
    """Looking every day at a null effect, a fixed interval excludes 0 at some look far more than 5 %."""
    rng = np.random.default_rng(7)
    runs, days, per_day = 200, 20, 100
    fixed_fp = seq_fp = 0
    for _ in range(runs):
        y1 = rng.poisson(1.0, size=days * per_day).astype(float)
        y0 = rng.poisson(1.0, size=days * per_day).astype(float)
        fixed_hit = seq_hit = False
        for d in range(1, days + 1):
            # the mixture is fixed before the data: the variance expected at the last look
            e = estimate("clicks", y1[: d * per_day], y0[: d * per_day], tau2=2 / (days * per_day))
            fixed_hit |= e.diff.excludes_zero()
            seq_hit |= e.significant
        fixed_fp += fixed_hit
        seq_fp += seq_hit
    assert fixed_fp / runs > 0.10
    assert seq_fp / runs <= 0.05


def test_mixture_halfwidth_shrinks_with_the_variance() -> None:
    assert mixture_halfwidth(0.0, 1.0) == 0.0
    widths = [mixture_halfwidth(v, 0.01) for v in (1e-2, 1e-3, 1e-4)]
    assert widths[0] > widths[1] > widths[2] > 1.96 * 1e-2  # always wider than the fixed 95 % half-width


def test_sample_ratio_alarm_fires_on_a_skewed_split_only() -> None:
    assert srm_pvalue([5000, 5000], [0.5, 0.5]) > 0.5
    assert srm_pvalue([5060, 4940], [0.5, 0.5]) > 0.001
    assert srm_pvalue([5300, 4700], [0.5, 0.5]) < 0.001
    assert srm_pvalue([3000, 7000], [0.3, 0.7]) > 0.5


# -- a four-week simulated ledger ----------------------------------------------------------

START_T = NOW - 28 * DAY


def four_weeks(led: Any, cfg: Any, n: int, seed: int) -> dict[str, float]:
    """Contacts of maison over a pre-period and four weeks; returns the planted effects per contact.

    Control gets 3 emails a week, cap2 gets 2 with a 30 % higher click chance per email;
    unsubscribes are the same in the first two weeks and fall from 2 % to 1 % in the last
    two (fatigue shows late); a click leads to a purchase of 40 one time in five.
    """
    rng = np.random.default_rng(seed)
    exp = Arms.of(Policy(cfg)).experiments[0]
    q_mean, touches, events = 0.05, [], []
    for i in range(n):
        email = f"m{i}@x.com"
        treated = exp.arm_of(email) == "cap2"
        q = min(1.0, q_mean * rng.gamma(2.0, 0.5))
        for k in range(int(rng.poisson(q * 12))):  # pre-period clicks: 4 weeks at 3 a week
            events.append(
                Engagement(f"{email}pre{k}", email, "click", int(START_T - rng.uniform(1, 27 * DAY)), "email", "paris")
            )
        per_week = 2 if treated else 3
        p_click = min(1.0, q * (1.3 if treated else 1.0))
        for w in range(4):
            for s in range(per_week):
                at = START_T + w * 7 * DAY + s * 2 * DAY + 3600
                touches.append(Touch(f"{email}t{w}{s}", email, "email", "paris", "marketing", at))
                if rng.random() < p_click:
                    events.append(Engagement(f"{email}c{w}{s}", email, "click", at + 600, "email", "paris"))
                    if rng.random() < 0.2:
                        events.append(
                            Engagement(f"{email}p{w}{s}", email, "purchase", at + 900, "email", "paris", amount=40.0)
                        )
        early, late = 0.003, 0.01 if treated else 0.02
        if rng.random() < early:
            events.append(Engagement(f"{email}u1", email, "unsubscribe", START_T + 9 * DAY, "email", "paris"))
        elif rng.random() < late:
            events.append(Engagement(f"{email}u2", email, "unsubscribe", START_T + 20 * DAY, "email", "paris"))
    led.ingest(Batch(touches=touches, engagements=events), account="paris", client="maison")
    clicks = 8 * 1.3 * q_mean - 12 * q_mean  # ignoring the (negligible) clipping at 1
    return {"clicks": clicks, "unsubscribes": -0.01 * (1 - 0.003), "revenue": clicks * 0.2 * 40}


def test_four_weeks_recover_the_planted_effect_with_lagged_unsubscribes(ledger_factory: Callable[[], Any]) -> None:
    cfg = parse_config(base_config(start=to_iso(START_T), pre_period="28d"))
    led = ledger_factory()
    truth = four_weeks(led, cfg, 6000, seed=11)
    r = report(led, cfg, None, NOW)
    assert r.days == pytest.approx(28) and not r.srm_alarm
    cap2 = r.arm("cap2")
    assert r.arm("control").messages_per_contact == 12 and cap2.messages_per_contact == 8
    for metric, value in truth.items():
        e = cap2.effects[metric]
        assert e.cuped.low <= value <= e.cuped.high, (metric, value, e)
        assert e.sequential.low <= value <= e.sequential.high, (metric, value, e)
    assert cap2.effects["clicks"].variance_reduction > 0.05
    assert cap2.effects["clicks"].diff.high < 0  # fewer clicks in total with fewer sends
    # two weeks in, the unsubscribes have not diverged yet: the lag shows in the report
    early = report(led, cfg, None, START_T + 14 * DAY).arm("cap2").effects["unsubscribes"]
    late = cap2.effects["unsubscribes"]
    assert early.diff.low <= 0 <= early.diff.high
    assert late.diff.estimate < early.diff.estimate
    assert r.to_dict()["arms"][1]["effects"]["clicks"]["per_1000"]["estimate"] == pytest.approx(
        1000 * cap2.effects["clicks"].cuped.estimate
    )


def test_outcomes_are_read_set_wise_per_contact(ledger_factory: Callable[[], Any]) -> None:
    led = ledger_factory()
    t0 = NOW - 10 * DAY
    led.ingest(
        Batch(
            touches=[
                Touch("a1", "a@x.com", "email", "paris", "marketing", t0),
                Touch("a0", "a@x.com", "email", "paris", "marketing", t0 - 1),
            ],
            engagements=[
                Engagement("c1", "a@x.com", "click", t0 + 5),
                Engagement("c2", "a@x.com", "click", t0 - 5),  # pre-period
                Engagement("c3", "a@x.com", "click", t0 - 40 * DAY),  # before the pre-period
                Engagement("o1", "a@x.com", "open", t0 + 5),  # opens never count
                Engagement("p1", "a@x.com", "purchase", t0 + 6, amount=12.5),
                Engagement("p2", "a@x.com", "purchase", t0 - 6, amount=7.0),
                Engagement("u1", "a@x.com", "unsubscribe", t0 + 7),
                Engagement("u0", "a@x.com", "unsubscribe", t0 - 3),  # pre-period
                Engagement("k0", "b@x.com", "complaint", t0 - 4),  # pre-period
                Engagement("k1", "a@x.com", "complaint", NOW),  # at the end: outside [since, until)
                Engagement("z1", "b@x.com", "open", t0 + 1),
            ],
        ),
        account="paris",
        client="maison",
    )
    led.ingest(Batch(engagements=[Engagement("v1", "a@x.com", "click", t0 + 5)]), account="velo", client="velo")
    rows = list(led.experiment_outcomes("maison", since=t0, until=NOW, pre_since=t0 - 28 * DAY))
    assert [
        (
            o.email,
            o.messages,
            o.clicks,
            o.purchases,
            o.revenue,
            o.unsubscribes,
            o.complaints,
            o.pre_clicks,
            o.pre_revenue,
        )
        for o in rows
    ] == [
        ("a@x.com", 1, 1, 1, 12.5, 1, 0, 1, 7.0),
        ("b@x.com", 0, 0, 0, 0.0, 0, 0, 0, 0.0),
    ]
    assert [(o.pre_unsubscribes, o.pre_complaints) for o in rows] == [(1, 0), (0, 1)]
    assert [o.clicks for o in led.experiment_outcomes("velo", since=t0, until=NOW, pre_since=t0)] == [1]


def test_an_arm_past_its_complaint_threshold_stops_and_the_report_says_so(ledger_factory: Callable[[], Any]) -> None:
    cfg = parse_config(base_config(complaint_stop=0.02))
    led = ledger_factory()
    exp = Arms.of(Policy(cfg)).experiments[0]
    emails = [f"k{i}@x.com" for i in range(400)]
    events = []
    for i, e in enumerate(emails):
        arm = exp.arm_of(e)
        # cap2: 5 % complain; control: 5 % too, but the control is never stopped
        if i % 20 == 0:
            events.append(Engagement(f"k{i}", e, "complaint", NOW - DAY, "email", "paris"))
        events.append(Engagement(f"o{i}", e, "click", NOW - 2 * DAY, "email", "paris"))
        assert arm in ("control", "cap2")
    led.ingest(Batch(engagements=events), account="paris", client="maison")
    assert check_stops(led, parse_config(base_config(complaint_stop=0.1)), NOW) == []
    stops = check_stops(led, cfg, NOW)
    assert [(s.experiment, s.arm, s.at) for s in stops] == [("cap2-test", "cap2", NOW)]
    assert "complaint rate" in stops[0].reason and "above 2.000%" in stops[0].reason
    assert check_stops(led, cfg, NOW + DAY) == []  # recorded once, durably
    assert led.experiment_stops() == stops
    r = report(led, cfg, None, NOW + DAY)
    assert r.arm("cap2").stop == stops[0] and r.arm("control").stop is None


def test_plan_reads_the_baseline_from_the_ledger() -> None:
    cfg = parse_config(base_config())
    led = Ledger(":memory:")
    evs = [Engagement(f"c{i}", f"m{i}@x.com", "click" if i % 50 == 0 else "open", NOW - DAY) for i in range(10_000)]
    led.ingest(Batch(engagements=evs), account="paris", client="maison")
    p = plan(led, cfg, None, NOW, horizon=28 * DAY)
    assert p.contacts == 10_000 and p.baseline == pytest.approx(0.02)
    assert p.arms[0].mde_relative == pytest.approx(mde_rate(0.02, 5000), rel=1e-6)
    with pytest.raises(ConfigError, match="unknown experiment 'x'"):
        plan(led, cfg, "x", NOW)


# -- CLI -------------------------------------------------------------------------------------


def test_experiment_commands(tmp_path: Path) -> None:
    toml = f"""
[workspace]
timezone = "UTC"
ledger = "{tmp_path / "ledger.db"}"
now = "2026-09-21T12:53:20Z"
[clients.maison]
[brands.paris]
client = "maison"
[[rules]]
id = "email-weekly"
kind = "cap"
max = 3
window = "7d"
[[experiments]]
id = "cap2-test"
client = "maison"
start = 2026-09-01
complaint_stop = 0.5
arms = [
  {{ name = "control", share = 0.5 }},
  {{ name = "cap2", share = 0.5, rules = {{ "email-weekly" = {{ max = 2 }} }} }},
]
"""
    (tmp_path / "pressure.toml").write_text(toml)
    led = Ledger(tmp_path / "ledger.db")
    led.ingest(
        Batch(engagements=[Engagement(f"c{i}", f"m{i}@x.com", "click", NOW - (i % 9) * DAY) for i in range(300)]),
        account="paris",
        client="maison",
    )
    led.close()
    cfg = str(tmp_path / "pressure.toml")
    res = CliRunner().invoke(cli, ["experiment", "plan", "--config", cfg, "--horizon", "14d"])
    assert res.exit_code == 0, res.output
    assert "experiment cap2-test (client maison), metric clicks, horizon 14 days" in res.output
    assert "cap2: " in res.output and "minimum detectable change" in res.output
    res = CliRunner().invoke(cli, ["experiment", "report", "--config", cfg, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["contacts"] == 300 and [a["name"] for a in out["arms"]] == ["control", "cap2"]
    assert out["arms"][1]["overrides"] == {"email-weekly": {"max": 2}}
    assert set(out["arms"][1]["effects"]) == {"clicks", "unsubscribes", "complaints", "revenue", "purchases"}
    res = CliRunner().invoke(cli, ["experiment", "report", "--config", cfg])
    assert res.exit_code == 0 and "sample ratio: chi-square p =" in res.output and "CUPED" in res.output
    res = CliRunner().invoke(cli, ["experiment", "report", "--config", cfg, "--id", "nope"])
    assert res.exit_code == 2 and "unknown experiment 'nope'" in res.output
    res = CliRunner().invoke(cli, ["experiment", "plan", "--config", cfg, "--metric", "opens"])
    assert res.exit_code == 2


@pytest.mark.parametrize("command", ["experiment plan", "experiment report"])
def test_experiment_commands_have_help_and_are_in_the_readme(command: str) -> None:
    res = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert res.exit_code == 0 and "--config" in res.output
    assert f"pressure-sync {command}" in (Path(__file__).parents[1] / "README.md").read_text()


def test_a_run_stops_an_arm_on_complaints_and_its_list_goes_back_to_the_base_rules(tmp_path: Path) -> None:
    cfg = parse_config(base_config())
    exp = Arms.of(Policy(cfg)).experiments[0]
    emails = [f"r{i}@x.com" for i in range(40)]
    cap2 = [e for e in emails if exp.arm_of(e) == "cap2"]
    touches = ["event_id,email,channel,brand,family,sent_at"]
    for e in emails:  # two emails each this week: cap2's cap of 2 is full, the base cap of 3 is not
        touches += [f"{e}-{k},{e},email,paris,marketing,2026-09-{18 + k}T10:00:00Z" for k in range(2)]
    (tmp_path / "touches.csv").write_text("\n".join(touches) + "\n")
    (tmp_path / "engagements.csv").write_text("event_id,email,type,occurred_at,channel\n")
    toml = f"""
[workspace]
timezone = "UTC"
ledger = "{tmp_path / "ledger.db"}"
now = "2026-09-21T12:00:00Z"
[clients.maison]
[brands.paris]
client = "maison"
[[accounts]]
name = "paris"
connector = "files"
brand = "paris"
settings = {{ touches = ["touches.csv"], engagements = ["engagements.csv"], out_dir = "out" }}
lists = [{{ name = "mkt" }}]
[[rules]]
id = "email-weekly"
kind = "cap"
max = 3
window = "7d"
channels = ["email"]
[[experiments]]
id = "cap2-test"
client = "maison"
start = 2026-09-01
salt = "s1"
complaint_stop = 0.1
arms = [
  {{ name = "control", share = 0.5 }},
  {{ name = "cap2", share = 0.5, rules = {{ "email-weekly" = {{ max = 2 }} }} }},
]
"""
    (tmp_path / "pressure.toml").write_text(toml)
    config = str(tmp_path / "pressure.toml")

    def listed() -> set[str]:
        text = (tmp_path / "out" / "mkt.csv").read_text().splitlines()
        return {line.split(",")[0] for line in text[1:]}

    res = CliRunner().invoke(cli, ["run", "--config", config])
    assert res.exit_code == 0, res.output
    assert listed() == set(cap2) and cap2
    # a fifth of cap2 complains: past the 10 % threshold at the next run
    rows = [f"k{i},{e},complaint,2026-09-20T10:00:00Z,sms" for i, e in enumerate(cap2[: len(cap2) // 5 + 1])]
    (tmp_path / "engagements.csv").write_text("event_id,email,type,occurred_at,channel\n" + "\n".join(rows) + "\n")
    res = CliRunner().invoke(cli, ["run", "--config", config])
    assert res.exit_code == 0, res.output
    with Ledger(tmp_path / "ledger.db") as led:
        assert [(s.experiment, s.arm) for s in led.experiment_stops()] == [("cap2-test", "cap2")]
    assert listed() == set()  # back to the base cap of 3: 2 emails block nobody
    res = CliRunner().invoke(cli, ["experiment", "report", "--config", config])
    assert "STOPPED on 2026-09-21: complaint rate" in res.output
