"""The pressure ledger: every touch, engagement and consent change, per contact."""

from .store import ContactRow, IngestResult, Ledger

__all__ = ["ContactRow", "IngestResult", "Ledger"]
