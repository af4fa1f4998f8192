"""One rooted exception hierarchy, grouped by what the caller should do."""

from __future__ import annotations


class PressureError(Exception):
    """Base of every error pressure-sdk raises on purpose."""

    #: process exit code the CLI uses for this kind of error
    exit_code: int = 1


class ConfigError(PressureError):
    """The workspace configuration or the command line is wrong: the user must fix it."""

    exit_code = 2


class InputError(PressureError):
    """A data file or a payload is malformed; the message names where."""


class LedgerError(PressureError):
    """The ledger cannot be opened, migrated or written."""


class LockedError(PressureError):
    """Another run holds the workspace lock."""


class ConnectorError(PressureError):
    """A connector failed to reach or use its platform."""

    def __init__(self, message: str, *, connector: str | None = None) -> None:
        super().__init__(message)
        self.connector = connector


class UnknownConnectorError(ConfigError):
    """An account names a connector that is not installed."""


class GuardError(PressureError):
    """A safety guard stopped a push (for example a mass removal)."""


__all__ = [
    "ConfigError",
    "ConnectorError",
    "GuardError",
    "InputError",
    "LedgerError",
    "LockedError",
    "PressureError",
    "UnknownConnectorError",
]
