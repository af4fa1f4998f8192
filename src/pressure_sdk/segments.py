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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .config import AccountConfig, AttributeMax, CapRule, GapRule, ListConfig, QuietRule
from .ledger import Ledger, group_by_contact
from .ledger.schema import BUCKET_SHIFT
from .models import CLIENT_WIDE, Candidate
from .policy import ContactState, Match, Policy
from .tiers import score_all
from .timeutil import calendar_period

_CHUNK = 500


@dataclass(slots=True, frozen=True)
class ListKey:
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
    ledger: Ledger, policy: Policy, accounts: Sequence[AccountConfig], now: int
) -> dict[ListKey, set[int]]:
    """The desired members of every list of ``accounts``, as contact ids.

    Scores (tiers, capital) are computed as of ``now`` first, unless the ledger's score
    table already holds them for ``now``.
    """
    if ledger.scores_at != now:
        score_all(ledger, now, policy.tiers, policy.scoring, policy.tolerance)
    targets = [
        _Target(ListKey(a.name, lst.name), cand, policy.weight(cand.family, None))
        for a in accounts
        for lst in a.lists
        for cand in [list_candidate(a, lst, now)]
    ]
    blocked: dict[ListKey, set[int]] = {t.key: set() for t in targets}
    everyone: set[ListKey] = set()  # lists whose every member is blocked
    live = [t for t in targets if not policy.is_exempt(t.cand.family)]
    if live:
        _consent(ledger, policy, live, now, blocked, everyone)
        for c in policy.rules:
            mine = [t for t in live if c.applies(t.cand.channel, t.cand.brand, t.cand.family)]
            if not mine:
                continue
            r = c.rule
            if isinstance(r, CapRule):
                _cap(ledger, policy, r, c.counts, mine, now, blocked, everyone)
            elif isinstance(r, GapRule):
                _gap(ledger, policy, r, c.counts, mine, now, blocked)
            elif isinstance(r, QuietRule):
                _quiet(ledger, policy, r, mine, now, blocked)
    out: dict[ListKey, set[int]] = {}
    for t in targets:
        if t.key in everyone:
            out[t.key] = _members(ledger, t.key.account, None)
        else:
            out[t.key] = _members(ledger, t.key.account, blocked[t.key])
    return out


# -- built-in rules -------------------------------------------------------------------


def _consent(
    ledger: Ledger,
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
    paused = [cid for (cid,) in ledger.conn.execute("SELECT id FROM contacts WHERE paused_until > ?", (now,))]
    for t in targets:
        blocked[t.key].update(paused)
    tol = policy.tolerance
    spent = [t for t in targets if tol.enabled and t.cand.family in tol.blocks]
    if spent:
        if ledger.default_score[1] < tol.threshold:  # a start below the threshold: everyone
            everyone.update(t.key for t in spent)
        low = [
            cid
            for (cid,) in ledger.conn.execute("SELECT contact_id FROM temp.scores WHERE capital < ?", (tol.threshold,))
        ]
        for t in spent:
            blocked[t.key].update(low)


# -- rule queries ---------------------------------------------------------------------


def _filters(m: Match, alias: str = "") -> tuple[str, list[Any]]:
    sql, params = "", []
    for col, values in (("channel", m.channels), ("family", m.families), ("brand", m.brands)):
        if values is not None:
            vs = sorted(values)
            sql += f" AND {alias}{col} IN ({','.join('?' * len(vs))})"
            params += vs
    return sql, params


def _scope_key(policy: Policy, scope: str, alias: str = "") -> tuple[str, list[Any]]:
    """SQL for the scope a touch falls in, matching :func:`_scope_of` for candidates."""
    if scope == "all":
        return "''", []
    if scope == "group":
        grouped = {b: g for b, g in policy.brand_group.items() if g}
        if grouped:
            whens = " ".join("WHEN ? THEN ?" for _ in grouped)
            params: list[Any] = [x for b, g in sorted(grouped.items()) for x in (b, f"g:{g}")]
            return f"CASE {alias}brand {whens} ELSE 'b:' || {alias}brand END", params
    return f"'b:' || {alias}brand", []


def _scope_of(policy: Policy, scope: str, brand: str) -> str:
    if scope == "all":
        return ""
    if scope == "group" and policy.brand_group.get(brand):
        return f"g:{policy.brand_group[brand]}"
    return f"b:{brand}"


def _weight_sql(policy: Policy, alias: str = "") -> tuple[str, list[Any]]:
    fams = sorted(policy.families.items())
    if not fams:
        return f"COALESCE({alias}weight, 1.0)", []
    whens = " ".join("WHEN ? THEN ?" for _ in fams)
    return f"COALESCE({alias}weight, CASE {alias}family {whens} ELSE 1.0 END)", [
        x for name, f in fams for x in (name, f.weight)
    ]


def _bucket_range(since: int, until: int) -> list[int]:
    return [since >> BUCKET_SHIFT, until >> BUCKET_SHIFT]


class _Limits:
    """Each contact's limit under one cap, as Policy._limit computes it."""

    def __init__(self, policy: Policy, rule: CapRule, default_tier: str) -> None:
        self.policy = policy
        self.rule = rule
        self.default_tier = default_tier
        self._memo: dict[object, float] = {}

    @property
    def per_contact(self) -> bool:
        return not isinstance(self.rule.max, int | float)

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

    def columns(self) -> tuple[str, list[Any]]:
        """Extra SELECT columns (tier, attribute) read from the joined contact ``c``."""
        if isinstance(self.rule.max, AttributeMax):
            return ", COALESCE(s.tier, ?), json_extract(c.attributes, ?)", [
                self.default_tier,
                f'$."{self.rule.max.attribute}"',
            ]
        return ", COALESCE(s.tier, ?), NULL", [self.default_tier]


def _cap(
    ledger: Ledger,
    policy: Policy,
    r: CapRule,
    counts: Match,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
    everyone: set[ListKey],
) -> None:
    limits = _Limits(policy, r, ledger.default_score[0])
    _zero_history(ledger, limits, targets, blocked, everyone)
    key_sql, key_params = _scope_key(policy, r.scope, "t.")
    weight_sql, weight_params = _weight_sql(policy, "t.")
    filt_sql, filt_params = _filters(counts, "t.")
    extra_sql, extra_params = limits.columns() if limits.per_contact else ("", [])
    # (lower bound on t.at, its parameters, first instant scanned, needs the contact row)
    periods: list[tuple[str, list[Any], int, bool]] = []
    if r.window is not None:
        periods.append(("t.at > ?", [now - r.window], now - r.window, limits.per_contact))
    if r.calendar is not None:
        # the period starts at the contact's local midnight: one CASE branch per zone in use
        zones = {z or policy.default_tz for (z,) in ledger.conn.execute("SELECT DISTINCT timezone FROM contacts")}
        starts = {z: calendar_period(now, r.calendar, z, policy.week_start)[0] for z in zones | {policy.default_tz}}
        whens = " ".join("WHEN ? THEN ?" for _ in starts)
        params = [policy.default_tz, *(x for z, s in sorted(starts.items()) for x in (z, s))]
        periods.append((f"t.at >= CASE COALESCE(c.timezone, ?) {whens} END", params, min(starts.values()), True))
    fixed = None if limits.per_contact else limits.of(None, None)
    if all(t.key in everyone for t in targets):
        return
    # Only sums that could block the heaviest candidate come back to Python: a contact
    # whose limit is 0 or below the weight is already blocked by _zero_history.
    heaviest = max(t.weight for t in targets)
    if fixed is not None:
        having, having_params = " HAVING SUM(" + weight_sql + ") + ? > ?", [*weight_params, heaviest, fixed]
    elif isinstance(r.max, dict):
        table = {k: v for k, v in r.max.items() if k != "default"}
        whens = " ".join("WHEN ? THEN ?" for _ in table)
        having = f" HAVING SUM({weight_sql}) + ? > CASE COALESCE(s.tier, ?) {whens} ELSE ? END"
        having_params = [
            *weight_params,
            heaviest,
            ledger.default_score[0],
            *(x for kv in sorted(table.items()) for x in kv),
            r.max["default"],
        ]
    else:
        having, having_params = "", []
    for cond, cond_params, first, join in periods:
        source = (
            "touches t JOIN contacts c ON c.id = t.contact_id LEFT JOIN temp.scores s ON s.contact_id = t.contact_id"
            if join
            else "touches t"
        )
        sql = (
            f"SELECT t.contact_id, {key_sql}, SUM({weight_sql}){extra_sql} FROM {source} "
            f"WHERE t.bucket BETWEEN ? AND ? AND {cond} AND t.at <= ?{filt_sql} "
            f"GROUP BY t.contact_id, 2{having}"
        )
        params = [
            *key_params,
            *weight_params,
            *extra_params,
            *_bucket_range(first, now),
            *cond_params,
            now,
            *filt_params,
            *having_params,
        ]
        by_scope: dict[str, list[_Target]] = defaultdict(list)
        for t in targets:
            by_scope[_scope_of(policy, r.scope, t.cand.brand)].append(t)
        for row in ledger.conn.execute(sql, params):
            mine = by_scope.get(row[1])
            if not mine:
                continue
            limit = fixed if fixed is not None else limits.of(row[3], row[4])
            for t in mine:
                if limit <= 0 or row[2] + t.weight > limit:
                    blocked[t.key].add(row[0])


def _zero_history(
    ledger: Ledger,
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
    extra_sql, extra_params = limits.columns()
    for t in heavy:
        for cid, tier, attr in ledger.conn.execute(
            f"SELECT c.id{extra_sql} FROM identities i JOIN contacts c ON c.id = i.contact_id "
            "LEFT JOIN temp.scores s ON s.contact_id = c.id WHERE i.account = ?",
            [*extra_params, t.key.account],
        ):
            lim = limits.of(tier, attr)
            if lim <= 0 or t.weight > lim:
                blocked[t.key].add(cid)


def _gap(
    ledger: Ledger,
    policy: Policy,
    r: GapRule,
    counts: Match,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
) -> None:
    key_sql, key_params = _scope_key(policy, r.scope)
    filt_sql, filt_params = _filters(counts)
    since = now - r.min_gap
    sql = (
        f"SELECT DISTINCT contact_id, {key_sql} FROM touches "
        f"WHERE bucket BETWEEN ? AND ? AND at > ? AND at <= ?{filt_sql}"
    )
    by_scope: dict[str, list[_Target]] = defaultdict(list)
    for t in targets:
        by_scope[_scope_of(policy, r.scope, t.cand.brand)].append(t)
    for cid, key in ledger.conn.execute(sql, [*key_params, *_bucket_range(since, now), since, now, *filt_params]):
        for t in by_scope.get(key, ()):
            blocked[t.key].add(cid)


def _quiet(
    ledger: Ledger,
    policy: Policy,
    r: QuietRule,
    targets: Sequence[_Target],
    now: int,
    blocked: dict[ListKey, set[int]],
) -> None:
    since = now - r.for_
    types = sorted(r.after)
    only = r.counts
    rows = ledger.conn.execute(
        "SELECT contact_id, channel, brand, product FROM engagements "
        f"WHERE bucket BETWEEN ? AND ? AND at > ? AND at <= ? AND type IN ({','.join('?' * len(types))})",
        [*_bucket_range(since, now), since, now, *types],
    )
    for cid, ch, br, product in rows:
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


# -- membership -----------------------------------------------------------------------


def _members(ledger: Ledger, account: str, among: Iterable[int] | None) -> set[int]:
    """The account's contacts (all of them, or those of ``among``)."""
    if among is None:
        return {
            cid for (cid,) in ledger.conn.execute("SELECT contact_id FROM identities WHERE account = ?", (account,))
        }
    ids = sorted(among)
    out: set[int] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        out.update(
            cid
            for (cid,) in ledger.conn.execute(
                f"SELECT contact_id FROM identities WHERE account = ? AND contact_id IN ({','.join('?' * len(chunk))})",
                [account, *chunk],
            )
        )
    return out


__all__ = ["ListKey", "compute_lists", "list_candidate"]
