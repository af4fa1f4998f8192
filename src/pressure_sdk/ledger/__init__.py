"""The pressure ledger: every touch, engagement and consent change, per contact."""

from .store import (
    ContactRow,
    IngestResult,
    Ledger,
    LedgerPathError,
    Member,
    RunRecord,
    event_uid,
    group_by_contact,
    path_problem,
)

__all__ = [
    "ContactRow",
    "IngestResult",
    "Ledger",
    "LedgerPathError",
    "Member",
    "RunRecord",
    "event_uid",
    "group_by_contact",
    "path_problem",
]
