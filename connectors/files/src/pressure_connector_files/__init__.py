"""pressure-sdk connector for export files: CSV/JSONL in, suppression lists out as CSV."""

from .connector import FilesConnector
from .settings import FilesSettings

__all__ = ["FilesConnector", "FilesSettings"]
