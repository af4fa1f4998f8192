"""Build the policy's view of one contact from ledger rows."""

from __future__ import annotations

from collections.abc import Sequence

from .ledger import ContactRow
from .policy import ContactState


def contact_state(
    row: ContactRow | None,
    default_tz: str,
    consent: Sequence[tuple[int, str, str, str]] = (),
    engagements: Sequence[tuple[int, str, str | None, str | None, str | None]] = (),
    oppositions: Sequence[int] = (),
) -> ContactState:
    """The policy's view of a contact; scores are derived at each candidate's time.

    A contact the ledger does not know gets the workspace zone and no history.
    """
    if row is None:
        return ContactState(timezone=default_tz, consent=consent, engagements=engagements, derive_scores=True)
    return ContactState(
        timezone=row.timezone or default_tz,
        attributes=row.attributes,
        paused_until=row.paused_until,
        consent=consent,
        engagements=engagements,
        first_seen=row.first_seen,
        derive_scores=True,
        contact_timezone=row.timezone,
        oppositions=oppositions,
    )
