"""pressure-sdk: one ledger of marketing pressure across platforms, channels and brands."""

from importlib.metadata import PackageNotFoundError, version

from .config import WorkspaceConfig, load_config, parse_config
from .errors import (
    ConfigError,
    ConnectorError,
    GuardError,
    InputError,
    LedgerError,
    LockedError,
    PressureError,
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
    "Policy",
    "PressureError",
    "Reason",
    "Touch",
    "UnknownConnectorError",
    "Workspace",
    "WorkspaceConfig",
    "__version__",
    "load_config",
    "parse_config",
]
