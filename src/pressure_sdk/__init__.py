"""pressure-sdk: one ledger of marketing pressure across platforms, channels and brands."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pressure-sdk")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
