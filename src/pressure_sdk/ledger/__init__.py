"""The pressure ledger: every touch, engagement and consent change, per contact."""

from pathlib import Path

from .outcomes import ArmStop, ContactOutcome
from .protocol import LedgerAPI
from .store import (
    ContactHistory,
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
    "ArmStop",
    "ContactOutcome",
    "ContactHistory",
    "ContactRow",
    "IngestResult",
    "Ledger",
    "LedgerAPI",
    "LedgerPathError",
    "Member",
    "RunRecord",
    "event_uid",
    "describe",
    "group_by_contact",
    "is_url",
    "open_ledger",
    "path_problem",
]


def is_url(target: str | Path) -> bool:
    """Whether a ledger target is a PostgreSQL URL (``postgresql://…``) rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def describe(target: str | Path) -> str:
    """A ledger target for messages: the file's path, or the URL without its password."""
    if is_url(target):
        from .postgres import redact_url

        return redact_url(str(target))
    return str(target)


def open_ledger(target: str | Path) -> LedgerAPI:
    """Open the ledger a workspace names: a ``postgresql://`` URL opens a
    :class:`~pressure_sdk.ledger.postgres.PostgresLedger` (same methods and semantics),
    anything else is a SQLite file path (or ``:memory:``)."""
    if is_url(target):
        from .postgres import PostgresLedger

        return PostgresLedger(str(target))
    return Ledger(target)
