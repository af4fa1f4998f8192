"""Build the policy's view of one contact from ledger rows."""

from __future__ import annotations

from collections.abc import Sequence

from .ledger import ContactRow
from .policy import ContactState


def contact_state(
    row: ContactRow | None,
    default_tz: str,
    consent: dict[str, tuple[str, int]] | None = None,
    engagements: Sequence[tuple[int, str, str | None, str | None, str | None]] = (),
) -> ContactState:
    """A contact the ledger does not know gets the workspace zone and no history."""
    if row is None:
        return ContactState(timezone=default_tz, consent=consent or {}, engagements=engagements)
    return ContactState(
        timezone=row.timezone or default_tz,
        tier=row.tier,
        attributes=row.attributes,
        paused_until=row.paused_until,
        consent=consent or {},
        engagements=engagements,
        capital=row.capital,
    )
