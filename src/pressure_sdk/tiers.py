"""Scores of every contact at one evaluation time, into the ledger connection's score table."""

from __future__ import annotations

from .config import ScoringConfig, TierConfig, ToleranceConfig
from .ledger import Ledger, group_by_contact
from .scoring import Score, assign, score_lookback

_CHUNK = 10_000


def score_all(
    ledger: Ledger,
    now: int,
    tiers: list[TierConfig],
    scoring: ScoringConfig,
    tolerance: ToleranceConfig,
) -> int:
    """Compute tier, score and capital of every contact as of ``now``; returns how many.

    Scores are a function of the ledger and ``now`` (DESIGN §6.8): nothing is cached
    across runs, so a killed run or a dry run in the future leaves nothing stale. One
    streaming pass over the engagement window, merged in contact order, keeps memory
    bounded.
    """
    since = now - score_lookback(tiers, tolerance)
    ledger.start_scores(now)
    rows: list[tuple[str, float, float, int, int]] = []
    n = 0
    stream = group_by_contact(ledger.scan_engagements(since, now))
    current = next(stream, None)
    for c in ledger.iter_contacts():
        while current is not None and current[0] < c.id:
            current = next(stream, None)
        mine: list[tuple[int, str]] = []
        if current is not None and current[0] == c.id:
            mine = [(r[0], r[1]) for r in current[1]]
        s = assign(c.first_seen, mine, now, tiers, scoring, tolerance)
        rows.append((s.tier, s.score, s.capital, int(s.care), c.id))
        if len(rows) >= _CHUNK:
            ledger.set_scores(rows)
            n += len(rows)
            rows = []
    ledger.set_scores(rows)
    return n + len(rows)


__all__ = ["Score", "assign", "score_all"]
