"""The pressure ledger: every touch, engagement and consent change, per contact."""

from .store import ContactRow, IngestResult, Ledger, Member, event_uid, group_by_contact

__all__ = ["ContactRow", "IngestResult", "Ledger", "Member", "event_uid", "group_by_contact"]
