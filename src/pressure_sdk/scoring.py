"""Tiers and tolerance capital of one contact at one time, from its engagements (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import ScoringConfig, TierConfig, ToleranceConfig


@dataclass(slots=True, frozen=True)
class Score:
    """A contact's scores at one time: tier, engagement score, tolerance capital, flagged for care."""

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


def score_lookback(tiers: list[TierConfig], tolerance: ToleranceConfig) -> int:
    """How far back engagements matter to a score."""
    return max([t.lookback for t in tiers] + [tolerance.lookback])


@dataclass(slots=True, frozen=True)
class CapitalStep:
    """One engagement that moved a contact's tolerance capital: by how much, and to what."""

    at: int
    type: str
    delta: float
    capital: float


def capital_trail(events: Iterable[tuple[int, str]], now: int, tolerance: ToleranceConfig) -> list[CapitalStep]:
    """The engagements that spent or rebuilt the capital :func:`assign` computes, in order.

    The last step's capital is the contact's capital at ``now`` (the start without steps);
    a gain at the full capital or a cost at zero changes nothing and is left out.
    """
    capital = tolerance.start
    out: list[CapitalStep] = []
    for at, typ in events:
        if now - tolerance.lookback < at <= now:
            delta = tolerance.gains.get(typ, 0.0) - tolerance.costs.get(typ, 0.0)
            new = min(max(capital + delta, 0.0), tolerance.start)
            if new != capital:
                out.append(CapitalStep(at, typ, new - capital, new))
            capital = new
    return out
