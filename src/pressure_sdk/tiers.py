"""Scores of every contact at one evaluation time, into the ledger connection's score table."""

from __future__ import annotations

from .config import ScoringConfig, TierConfig, ToleranceConfig
from .ledger import LedgerAPI, group_by_contact
from .scoring import Score, assign, score_lookback

_CHUNK = 10_000


def score_all(
    ledger: LedgerAPI,
    now: int,
    tiers: list[TierConfig],
    scoring: ScoringConfig,
    tolerance: ToleranceConfig,
) -> int:
    """Compute tier, score and capital of every contact as of ``now``; returns how many contacts.

    Scores are a function of the ledger and ``now`` (DESIGN §6.8): nothing is cached
    across runs, so a killed run or a dry run in the future leaves nothing stale. A
    contact with no engagement in the lookback and not new has the default score (the
    last tier, the full capital): only the others are computed and stored, in one
    streaming pass over the engagement window, so memory stays bounded.
    """
    base = assign(None, [], now, tiers, scoring, tolerance)
    ledger.start_scores(now, (base.tier, base.capital))
    newest = max((t.new_within for t in tiers if t.new_within is not None), default=None)
    fresh = ledger.first_seen_since(now - newest) if newest is not None else {}
    since = now - score_lookback(tiers, tolerance)

    rows: list[tuple[str, float, float, int, int]] = []

    def keep(cid: int, s: Score) -> None:
        if (s.tier, s.capital) != (base.tier, base.capital):
            rows.append((s.tier, s.score, s.capital, int(s.care), cid))
            if len(rows) >= _CHUNK:
                ledger.set_scores(rows)
                rows.clear()

    pending: list[tuple[int, list[tuple[int, str]]]] = []

    def flush_pending() -> None:
        seen = ledger.first_seen_of([cid for cid, _ in pending])
        for cid, events in pending:
            keep(cid, assign(seen.get(cid), events, now, tiers, scoring, tolerance))
        pending.clear()

    for cid, group in group_by_contact(ledger.scan_engagements(since, now)):
        pending.append((cid, [(r[0], r[1]) for r in group]))
        fresh.pop(cid, None)
        if len(pending) >= _CHUNK:
            flush_pending()
    flush_pending()
    for cid, first_seen in fresh.items():  # new contacts without engagements
        keep(cid, assign(first_seen, [], now, tiers, scoring, tolerance))
    ledger.set_scores(rows)
    return ledger.count("contacts")


__all__ = ["Score", "assign", "score_all"]
