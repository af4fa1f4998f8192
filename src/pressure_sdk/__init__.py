"""pressure-sdk: one ledger of marketing pressure across platforms, channels and brands."""

from importlib.metadata import PackageNotFoundError, version

from .config import WorkspaceConfig, load_config, parse_config
from .errors import (
    APIError,
    AuthError,
    ConfigError,
    ConnectorError,
    GuardError,
    InputError,
    LedgerError,
    LockedError,
    PayloadError,
    PermanentAPIError,
    PressureError,
    RateLimitError,
    TransientAPIError,
    UnknownConnectorError,
)
from .ledger import Ledger
from .models import Batch, Candidate, ContactUpdate, Decision, Engagement, Reason, Touch
from .policy import Policy
from .workspace import Workspace

try:
    __version__ = version("pressure-sdk")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "APIError",
    "AuthError",
    "Batch",
    "Candidate",
    "ConfigError",
    "ConnectorError",
    "ContactUpdate",
    "Decision",
    "Engagement",
    "GuardError",
    "InputError",
    "Ledger",
    "LedgerError",
    "LockedError",
    "PayloadError",
    "PermanentAPIError",
    "Policy",
    "PressureError",
    "RateLimitError",
    "Reason",
    "Touch",
    "TransientAPIError",
    "UnknownConnectorError",
    "Workspace",
    "WorkspaceConfig",
    "__version__",
    "load_config",
    "parse_config",
]
