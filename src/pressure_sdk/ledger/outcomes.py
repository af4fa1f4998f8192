"""Record types of the experiment reads and writes of the ledger (both implementations)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class ContactOutcome:
    """One contact's outcomes in an experiment's period ``[since, until)`` and its pre-period.

    ``unsubscribes`` and ``complaints`` count events (a contact may have several);
    ``revenue`` sums the amounts of purchases (one currency per client is assumed).
    ``pre_*`` cover ``[pre_since, since)``: the covariates of the variance reduction
    (CUPED) and the scale the always-valid interval is tuned for.
    """

    contact_id: int
    email: str
    messages: int
    clicks: int
    purchases: int
    revenue: float
    unsubscribes: int
    complaints: int
    pre_clicks: int
    pre_revenue: float
    pre_unsubscribes: int = 0
    pre_complaints: int = 0


@dataclass(slots=True, frozen=True)
class ArmStop:
    """An arm stopped automatically: from ``at`` its contacts go back to the workspace's rules."""

    experiment: str
    arm: str
    at: int
    reason: str
