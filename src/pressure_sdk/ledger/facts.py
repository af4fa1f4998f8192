"""Per-contact facts behind value scores and the contact audit, as the ledger returns them.

The value computations (:mod:`pressure_sdk.value`) and the audit (:mod:`pressure_sdk.audit`)
speak to the ledger through these types; the SQL that fills them lives in each backend.
"""

from __future__ import annotations

from dataclasses import dataclass

#: seconds in a day: purchases are counted per distinct day (UTC), as CLV models expect
DAY = 86400


@dataclass(slots=True, frozen=True)
class ValueFact:
    """One contact's events of one type, at one brand, in one currency, up to a time.

    ``count`` is the number of events; ``days`` the number of distinct days (UTC) with
    one; ``refunds`` the events with a negative amount (refunds), which ``count`` and
    ``days`` leave out; ``amount`` the sum of their amounts, refunds included (0 when none
    carries one); ``amounts`` how many carry one. ``first_seen`` is the contact's.
    """

    contact_id: int
    first_seen: int | None
    type: str
    brand: str | None
    currency: str | None
    count: int
    days: int
    refunds: int
    first_at: int
    last_at: int
    amount: float
    amounts: int


@dataclass(slots=True, frozen=True)
class HistoryTouch:
    """One touch in a contact's full history: which account (platform) recorded it."""

    at: int
    channel: str
    brand: str
    family: str
    weight: float | None
    account: str
    campaign: str | None
    product: str | None


@dataclass(slots=True, frozen=True)
class HistoryEngagement:
    """One engagement in a contact's full history, with its amount when it has one."""

    at: int
    type: str
    channel: str | None
    brand: str | None
    product: str | None
    account: str
    amount: float | None
    currency: str | None


@dataclass(slots=True, frozen=True)
class ContactTimeline:
    """Everything a contact received and did, oldest first, and the accounts that know it."""

    touches: tuple[HistoryTouch, ...]
    engagements: tuple[HistoryEngagement, ...]
    #: (account, the platform's id of the contact if known), by account
    identities: tuple[tuple[str, str | None], ...]


__all__ = ["DAY", "ContactTimeline", "HistoryEngagement", "HistoryTouch", "ValueFact"]
