"""Tiers (families of recipients by reactivity) and tolerance capital, from engagement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import ScoringConfig, TierConfig, ToleranceConfig
from .ledger import Ledger, group_by_contact

_CHUNK = 10_000
_FEW = 2_000


@dataclass(slots=True, frozen=True)
class Score:
    tier: str
    score: float
    capital: float
    care: bool


def assign(
    first_seen: int | None,
    events: Iterable[tuple[int, str]],
    now: int,
    tiers: list[TierConfig],
    scoring: ScoringConfig,
    tolerance: ToleranceConfig,
) -> Score:
    """Score one contact from its ``(at, type)`` engagements; the first tier that holds wins."""
    events = list(events)
    weights = scoring.weights

    def score_since(lookback: int) -> float:
        return sum(weights.get(typ, 0.0) for at, typ in events if now - lookback < at <= now)

    tier_name = tiers[-1].name
    headline = score_since(max((t.lookback for t in tiers), default=0))
    for t in tiers:
        if t.new_within is not None and (first_seen is None or first_seen < now - t.new_within):
            continue
        if t.min_score is not None and score_since(t.lookback) < t.min_score:
            continue
        tier_name = t.name
        break
    capital = tolerance.start
    for at, typ in events:
        if now - tolerance.lookback < at <= now:
            capital += tolerance.gains.get(typ, 0.0) - tolerance.costs.get(typ, 0.0)
            capital = min(max(capital, 0.0), tolerance.start)
    return Score(tier_name, headline, capital, tolerance.enabled and capital < tolerance.threshold)


def rescore(
    ledger: Ledger,
    contact_ids: Iterable[int] | None,
    now: int,
    tiers: list[TierConfig],
    scoring: ScoringConfig,
    tolerance: ToleranceConfig,
) -> int:
    """Recompute and store tier, score and capital for the given contacts (all if None).

    A few contacts are read one by one; many are scored in one streaming pass over the
    engagement window, merged in contact order, so memory stays bounded.
    """
    lookback = max([t.lookback for t in tiers] + [tolerance.lookback])
    since = now - lookback
    wanted = None if contact_ids is None else set(contact_ids)
    rows: list[tuple[str, float, float, int, int, int]] = []
    n = 0

    def flush() -> None:
        nonlocal rows, n
        if rows:
            ledger.set_scores(rows)
            n += len(rows)
            rows = []

    if wanted is not None and len(wanted) <= _FEW:
        for c in ledger.contacts_by_id(wanted).values():
            events = [(at, typ) for at, typ, *_ in ledger.engagements_of(c.id, since, now)]
            s = assign(c.first_seen, events, now, tiers, scoring, tolerance)
            rows.append((s.tier, s.score, s.capital, int(s.care), now, c.id))
        flush()
        return n
    stream = group_by_contact(ledger.scan_engagements(since, now))
    current = next(stream, None)
    for c in ledger.iter_contacts():
        while current is not None and current[0] < c.id:
            current = next(stream, None)
        mine: list[tuple[int, str]] = []
        if current is not None and current[0] == c.id:
            mine = [(r[0], r[1]) for r in current[1]]
        if wanted is not None and c.id not in wanted:
            continue
        s = assign(c.first_seen, mine, now, tiers, scoring, tolerance)
        rows.append((s.tier, s.score, s.capital, int(s.care), now, c.id))
        if len(rows) >= _CHUNK:
            flush()
    flush()
    return n
