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


class InvalidValueError(InputError):
    """A call or an import names an unknown channel, brand, family or client, an invalid email,
    a non-positive weight or a time without a zone; the message names the value and the known ones."""

    exit_code = 2


class LedgerError(PressureError):
    """The ledger cannot be opened, migrated or written."""


class LockedError(PressureError):
    """Another run holds the workspace lock."""


class ConnectorError(PressureError):
    """A connector failed to reach or use its platform."""

    def __init__(self, message: str, *, connector: str | None = None) -> None:
        super().__init__(message)
        self.connector = connector


class APIError(ConnectorError):
    """A platform answered with an error, or not at all.

    ``message`` is for people; ``status``, ``body`` (the platform's error body, secrets
    redacted, truncated) and ``request_id`` are for the log and the bug report.
    """

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        status: int | None = None,
        body: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, connector=connector)
        self.status = status
        self.body = body
        self.request_id = request_id


class AuthError(APIError):
    """The platform refused the credential (401, or 403 on the token): never retried; fix the credential."""


class PermanentAPIError(APIError):
    """A request the platform will keep refusing (4xx other than 429): not retried."""


class PayloadError(PermanentAPIError):
    """The platform's answer is not what its API description says (malformed JSON, missing fields)."""


class TransientAPIError(APIError):
    """A failure that may pass (5xx, timeout, connection): retried, then raised; the next run resumes."""


class RateLimitError(TransientAPIError):
    """The platform kept answering 429 after every retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UnknownConnectorError(ConfigError):
    """An account names a connector that is not installed."""


class GuardError(PressureError):
    """A safety guard stopped a push (for example a mass removal)."""


__all__ = [
    "APIError",
    "AuthError",
    "ConfigError",
    "ConnectorError",
    "GuardError",
    "InputError",
    "InvalidValueError",
    "LedgerError",
    "LockedError",
    "PayloadError",
    "PermanentAPIError",
    "PressureError",
    "RateLimitError",
    "TransientAPIError",
    "UnknownConnectorError",
]
