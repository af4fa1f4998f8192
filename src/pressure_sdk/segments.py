"""Suppression lists: who a standard candidate of each list's kind would be blocked for now.

The answer is the one :meth:`Policy.evaluate` gives for each member of the account (the
tests hold the two to the same result), computed set-wise so it scales with the
ledger: one aggregate query per rule over that rule's own window, grouped by contact and
scope, then a comparison with each contact's limit in Python. Nothing loads a whole
table: only contacts that have counted touches in a window come back from a query.

Sending-hours rules are left out: a list is used for sends at times the platform
chooses, and hours would empty or fill it with the clock.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .arms import ArmKey, Arms
from .config import AccountConfig, AttributeMax, CapRule, GapRule, ListConfig, QuietRule
from .ledger import ArmStop, LedgerAPI, group_by_contact
from .ledger.lists import SumFloor, TouchFilter, scope_key
from .models import CLIENT_WIDE, Candidate
from .policy import ContactState, Match, Policy
from .tiers import score_all
from .timeutil import calendar_period
from .value import ValueTable, compute_values


@dataclass(slots=True, frozen=True)
class ListKey:
    """One suppression list: the account that keeps it and its name."""

    account: str
    list: str


@dataclass(slots=True, frozen=True)
class _Target:
    """One list to fill: its key, its standard candidate and the candidate's weight."""

    key: ListKey
    cand: Candidate
    weight: float


def list_candidate(account: AccountConfig, lst: ListConfig, now: int) -> Candidate:
    """The standard candidate a list stands for."""
    brand = lst.brand or account.brand or ""
    return Candidate("", lst.channel, brand, lst.family, now, None, f"list:{lst.name}", 0.0, lst.product)


def compute_lists(
    ledger: LedgerAPI, policy: Policy, accounts: Sequence[AccountConfig], now: int
) -> dict[ListKey, set[int]]:
    """The desired members of every list of ``accounts``, as contact ids.

    Scores (tiers, capital) are computed as of ``now`` first, unless the ledger's score
    table already holds them for ``now``. When an experiment runs on an account's
    client, each contact's membership follows its arm's rules (:mod:`pressure_sdk.arms`):
    the lists are computed once per arm policy, and each contact is kept from the one
    of its own arm, so arms never leak into each other's lists.
    """
    out = _compute(ledger, policy, accounts, now)
    arms = Arms.of(policy)
    if not arms.experiments:
        return out
    cfg = policy.cfg
    stops: list[ArmStop] | None = None
    for client in sorted({cfg.client_of_account(a) for a in accounts}):
        running = [e for e in arms.running(client, now) if any(a.overrides for a in e.arms)]
        if not running:
            continue
        if stops is None:
            stops = ledger.experiment_stops()
        stopped = {(s.experiment, s.arm) for s in stops if s.at <= now}
        choices = [
            [(), *[((e.id, a.name),) for a in e.arms if a.overrides and (e.id, a.name) not in stopped]] for e in running
        ]
        mine = [a for a in accounts if cfg.client_of_account(a) == client]
        keys = [ListKey(a.name, lst.name) for a in mine for lst in a.lists]
        results: dict[ArmKey, dict[ListKey, set[int]]] = {(): out}
        for combo in itertools.product(*choices):
            key: ArmKey = tuple(k for part in combo for k in part)
            if key:
                results[key] = _compute(ledger, arms.policy(key), mine, now)
        # each contact's arm, once, for every contact some arm's policy puts on a list
        rows = ledger.contacts_by_id(set().union(*(r[lk] for r in results.values() for lk in keys)))
        arm_of = {cid: arms.key(client, row.email, now, stops) for cid, row in rows.items()}
        for lk in keys:
            ids = set().union(*(r[lk] for r in results.values()))
            out[lk] = {cid for cid in ids if cid in arm_of and cid in results[arm_of[cid]][lk]}
    return out


def _compute(ledger: LedgerAPI, policy: Policy, accounts: Sequence[AccountConfig], now: int) -> dict[ListKey, set[int]]:
    """The lists of ``accounts`` under one policy for every contact."""
    if ledger.scores_at != now:
        score_all(ledger, now, policy.tiers, policy.scoring, policy.tolerance)
    targets = [
        _Target(ListKey(a.name, lst.name), cand, policy.weight(cand.family, None))
        for a in accounts
        for lst in a.lists
        if lst.kind == "suppression"
        for cand in [list_candidate(a, lst, now)]
    ]
    blocked: dict[ListKey, set[int]] = {t.key: set() for t in targets}
    everyone: set[ListKey] = set()  # lists whose every member is blocked
    live = [t for t in targets if not policy.is_exempt(t.cand.family)]
    client_of = {a.name: policy.cfg.client_of_account(a) for a in accounts}
    tables: dict[str, ValueTable] = {}
    if live:
        _consent(ledger, policy, live, now, blocked, everyone)
        for c in policy.rules:
            mine = [t for t in live if c.applies(t.cand.channel, t.cand.brand, t.cand.family)]
            if not mine:
                continue
            if c.segments is None:
                _rule(ledger, policy, c, mine, now, blocked, everyone)
                continue
            # a rule of some value segments blocks only their contacts: compute it apart, keep those
            mine_blocked: dict[ListKey, set[int]] = {t.key: set() for t in mine}
            mine_everyone: set[ListKey] = set()
            _rule(ledger, policy, c, mine, now, mine_blocked, mine_everyone)
            for t in mine:
                client = client_of[t.key.account]
                table = tables.get(client)
                if table is None:
                    table = tables[client] = compute_values(ledger, policy.cfg, client, now, clv=False)
                ids = ledger.account_contacts(t.key.account) if t.key in mine_everyone else mine_blocked[t.key]
                blocked[t.key].update(cid for cid in ids if table.segment_of(cid) in c.segments)
    out: dict[ListKey, set[int]] = {}
    for a in accounts:
        for lst in a.lists:
            if lst.kind == "care":
                out[ListKey(a.name, lst.name)] = care_members(ledger, policy, a.name)
    for t in targets:
        if t.key in everyone:
            out[t.key] = ledger.account_contacts(t.key.account)
        else:
            out[t.key] = ledger.account_contacts(t.key.account, blocked[t.key])
    return out


def care_threshold(policy: Policy) -> float:
    """Tolerance capital below which a contact is listed for care."""
    th = policy.cfg.value.care_threshold
    return policy.tolerance.threshold if th is None else th


def care_members(ledger: LedgerAPI, policy: Policy, account: str) -> set[int]:
    """The account's contacts flagged for care: tolerance capital below the care threshold.

    Reads the score table, which :func:`compute_lists` fills for its ``now`` first.
    """
    if not policy.tolerance.enabled:
        return set()
    th = care_threshold(policy)
    if ledger.default_score[1] < th:  # a start below the threshold: everyone
        return ledger.account_contacts(account)
    return ledger.account_contacts(account, ledger.low_capital_contacts(th))


def _rule(
    ledger: LedgerAPI,
    policy: Policy,
    c: Any,
    mine: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
    everyone: set[ListKey],
) -> None:
    r = c.rule
    # a rule lifted for some contacts fills its own sets first, then loses those contacts
    sink, every = (blocked, everyone) if r.lifted_by is None else ({t.key: set() for t in mine}, set())
    if isinstance(r, CapRule):
        _cap(ledger, policy, r, c.counts, mine, now, sink, every)
    elif isinstance(r, GapRule):
        _gap(ledger, policy, r, c.counts, mine, now, sink)
    elif isinstance(r, QuietRule):
        _quiet(ledger, policy, r, mine, now, sink)
    if r.lifted_by is not None:
        for t in mine:
            got = ledger.account_contacts(t.key.account) if t.key in every else sink[t.key]
            blocked[t.key].update(got - _lifted(ledger, policy, r.lifted_by, r.lifted_evidence, t, now))


# -- built-in rules -------------------------------------------------------------------


def _consent(
    ledger: LedgerAPI,
    policy: Policy,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
    everyone: set[ListKey],
) -> None:
    by_channel: dict[str, list[_Target]] = defaultdict(list)
    for t in targets:
        by_channel[t.cand.channel].append(t)
    scope_of = policy.consent_scope
    for channel, mine in by_channel.items():
        scopes = {t.key: scope_of.get(t.cand.brand, t.cand.brand) for t in mine}
        for cid, rows in group_by_contact(ledger.consent_log(channel, now)):
            # rows are oldest first, an opt-out after a resubscription at the same instant:
            # the last row of a scope is its state now, as Policy._consent reads it
            latest: dict[str, str] = {}
            for brand, _at, status in rows:
                latest[brand if brand == CLIENT_WIDE else "b:" + scope_of.get(brand, brand)] = status
            wide = latest.get(CLIENT_WIDE, "subscribed") != "subscribed"
            for t in mine:
                if wide or latest.get("b:" + scopes[t.key], "subscribed") != "subscribed":
                    blocked[t.key].add(cid)
    calls = [t for t in targets if t.cand.channel == "call"]
    if calls:
        # the opposition list binds prospecting calls of every brand of the client (Policy.opposition)
        listed = dict(ledger.opposed_contacts(now))
        holders = ledger.contacts_by_id(listed)
        opposed = {
            cid
            for cid, row in holders.items()
            if policy.opposition(
                ContactState(timezone=row.timezone or policy.default_tz, attributes=row.attributes,
                             oppositions=(listed[cid],)),
                now,
            )
        }  # fmt: skip
        for t in calls:
            blocked[t.key].update(opposed)
    paused = ledger.paused_contacts(now)
    for t in targets:
        blocked[t.key].update(paused)
    tol = policy.tolerance
    spent = [t for t in targets if tol.enabled and t.cand.family in tol.blocks]
    if spent:
        if ledger.default_score[1] < tol.threshold:  # a start below the threshold: everyone
            everyone.update(t.key for t in spent)
        low = ledger.low_capital_contacts(tol.threshold)
        for t in spent:
            blocked[t.key].update(low)


def _lifted(
    ledger: LedgerAPI, policy: Policy, attribute: str, evidence: str | None, target: _Target, now: int
) -> set[int]:
    """Contacts of the target's account a rule is lifted for at ``now`` (Policy.lifted)."""
    dated = [cid for cid, _tier, v in ledger.account_limits(target.key.account, attribute) if v is not None]
    rows = ledger.contacts_by_id(dated)
    return {
        cid
        for cid, row in rows.items()
        if policy.lifted(
            attribute,
            evidence,
            ContactState(timezone=row.timezone or policy.default_tz, attributes=row.attributes),
            now,
        )
    }


# -- rule queries ---------------------------------------------------------------------


def _touch_filter(m: Match) -> TouchFilter:
    return TouchFilter(m.channels, m.families, m.brands)


class _Limits:
    """Each contact's limit under one cap, as Policy._limit computes it."""

    def __init__(self, policy: Policy, rule: CapRule) -> None:
        self.policy = policy
        self.rule = rule
        self._memo: dict[object, float] = {}

    @property
    def per_contact(self) -> bool:
        return not isinstance(self.rule.max, int | float)

    @property
    def attribute(self) -> str | None:
        return self.rule.max.attribute if isinstance(self.rule.max, AttributeMax) else None

    def of(self, tier: str | None, attr: object) -> float:
        key = (tier, attr) if isinstance(attr, str | int | float | type(None)) else (tier, repr(attr))
        lim = self._memo.get(key)
        if lim is None:
            attrs = (
                {} if not isinstance(self.rule.max, AttributeMax) or attr is None else {self.rule.max.attribute: attr}
            )
            lim = self.policy.limit(self.rule, ContactState(timezone="UTC", tier=tier, attributes=attrs))[0]
            self._memo[key] = lim
        return lim


def _cap(
    ledger: LedgerAPI,
    policy: Policy,
    r: CapRule,
    counts: Match,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
    everyone: set[ListKey],
) -> None:
    limits = _Limits(policy, r)
    _zero_history(ledger, limits, targets, blocked, everyone)
    fixed = None if limits.per_contact else limits.of(None, None)
    if all(t.key in everyone for t in targets):
        return
    # Only sums that could block the heaviest candidate come back from the ledger: a
    # contact whose limit is 0 or below the weight is already blocked by _zero_history.
    heaviest = max(t.weight for t in targets)
    if fixed is not None:
        floor: SumFloor | None = SumFloor(heaviest, fixed=fixed)
    elif isinstance(r.max, dict):
        floor = SumFloor(heaviest, tiers={k: v for k, v in r.max.items() if k != "default"}, default=r.max["default"])
    else:
        floor = None
    periods: list[dict[str, object]] = []
    if r.window is not None:
        periods.append({"since": now - r.window})
    if r.calendar is not None:
        # the period starts at the contact's local midnight: one start per zone in use
        zones = {z or policy.default_tz for z in ledger.contact_timezones()} | {policy.default_tz}
        starts = {z: calendar_period(now, r.calendar, z, policy.week_start)[0] for z in zones}
        periods.append({"period_starts": starts, "default_tz": policy.default_tz})
    by_scope: dict[str, list[_Target]] = defaultdict(list)
    for t in targets:
        by_scope[scope_key(r.scope, policy.brand_group, t.cand.brand)].append(t)
    weights = {name: f.weight for name, f in policy.families.items()}
    for period in periods:
        rows = ledger.cap_sums(
            until=now,
            counts=_touch_filter(counts),
            scope=r.scope,
            groups=policy.brand_group,
            weights=weights,
            per_contact=limits.per_contact,
            attribute=limits.attribute,
            floor=floor,
            **period,  # type: ignore[arg-type]
        )
        for cid, key, total, tier, attr in rows:
            mine = by_scope.get(key)
            if not mine:
                continue
            limit = fixed if fixed is not None else limits.of(tier, attr)
            for t in mine:
                if limit <= 0 or total + t.weight > limit:
                    blocked[t.key].add(cid)


def _zero_history(
    ledger: LedgerAPI,
    limits: _Limits,
    targets: Sequence[_Target],
    blocked: dict[ListKey, set[int]],
    everyone: set[ListKey],
) -> None:
    """Contacts blocked with nothing counted: their limit is below the candidate's weight."""
    if not limits.per_contact:
        lim = limits.of(None, None)
        for t in targets:
            if lim <= 0 or t.weight > lim:
                everyone.add(t.key)
        return
    r = limits.rule
    floor = min(
        [r.max.fallback] if isinstance(r.max, AttributeMax) else list(r.max.values())  # type: ignore[union-attr]
    )
    # a contact's attribute may be lower than any fallback: then every member is read
    heavy = targets if isinstance(r.max, AttributeMax) else [t for t in targets if floor <= 0 or t.weight > floor]
    for t in heavy:
        for cid, tier, attr in ledger.account_limits(t.key.account, limits.attribute):
            lim = limits.of(tier, attr)
            if lim <= 0 or t.weight > lim:
                blocked[t.key].add(cid)


def _gap(
    ledger: LedgerAPI,
    policy: Policy,
    r: GapRule,
    counts: Match,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
) -> None:
    by_scope: dict[str, list[_Target]] = defaultdict(list)
    for t in targets:
        by_scope[scope_key(r.scope, policy.brand_group, t.cand.brand)].append(t)
    hits = ledger.gap_hits(
        since=now - r.min_gap, until=now, counts=_touch_filter(counts), scope=r.scope, groups=policy.brand_group
    )
    for cid, key in hits:
        for t in by_scope.get(key, ()):
            blocked[t.key].add(cid)


def _quiet(
    ledger: LedgerAPI,
    policy: Policy,
    r: QuietRule,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
) -> None:
    only = r.counts
    for cid, ch, br, product in ledger.events_between(now - r.for_, now, r.after):
        if only is not None and (
            (ch is not None and only.channels is not None and ch not in only.channels)
            or (br is not None and only.brands is not None and br not in only.brands)
        ):
            continue
        for t in targets:
            if br is not None and not policy.same_scope(r.scope, t.cand.brand, br):
                continue
            if r.match == "product" and (t.cand.product is None or product != t.cand.product):
                continue
            blocked[t.key].add(cid)


__all__ = ["ListKey", "care_members", "care_threshold", "compute_lists", "list_candidate"]
