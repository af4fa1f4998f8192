"""Plain data carried between the ledger, the policy and connectors.

Dataclasses with slots, not pydantic: these sit in hot loops. Validation happens at the
edges (config, connector parsing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .timeutil import to_iso

ENGAGEMENT_TYPES = frozenset(
    {
        "delivered",
        "open",
        "click",
        "reply",
        "purchase",
        "bounce",
        "unsubscribe",
        "resubscribe",
        "complaint",
        "incident",
        "do_not_contact",
        "do_not_contact_lifted",
        "call_refused",
    }
)
#: engagement types that change a contact's consent state on a channel: the first three
#: bind the consent scope of the event's brand, the last two the whole client
CONSENT_TYPES = frozenset({"unsubscribe", "resubscribe", "complaint", "do_not_contact", "do_not_contact_lifted"})
#: the consent log's brand for a client-wide opt-out
CLIENT_WIDE = "*"


def consent_row(type_: str, brand: str | None) -> tuple[str, str]:
    """(brand, status) a consent event writes to the consent log."""
    if type_ in ("do_not_contact", "do_not_contact_lifted"):
        return CLIENT_WIDE, "unsubscribed" if type_ == "do_not_contact" else "subscribed"
    status = {"unsubscribe": "unsubscribed", "complaint": "complained"}.get(type_, "subscribed")
    return brand or CLIENT_WIDE, status


def normalize_email(email: str) -> str:
    """The contact key: trimmed, lower-cased email."""
    return email.strip().lower()


@dataclass(slots=True, frozen=True)
class Touch:
    """One solicitation sent to one contact."""

    event_id: str
    email: str
    channel: str
    brand: str
    family: str
    at: int
    weight: float | None = None
    campaign: str | None = None
    product: str | None = None
    #: the number called or texted, E.164; with an empty ``email`` the touch counts against
    #: the contact holding that number (or a phone-only contact)
    phone: str | None = None


@dataclass(slots=True, frozen=True)
class Engagement:
    """What a contact did: open, click, purchase, unsubscribe, complaint, …"""

    event_id: str
    email: str
    type: str
    at: int
    channel: str | None = None
    brand: str | None = None
    product: str | None = None
    #: what a purchase (or refund, negative) was worth, in ``currency`` (ISO 4217 code)
    amount: float | None = None
    currency: str | None = None
    #: E.164 number, as for :attr:`Touch.phone`
    phone: str | None = None


@dataclass(slots=True, frozen=True)
class Opposition:
    """A number on an opposition list (France: Bloctel) as of the answer file's date.

    Recorded per number and client-wide: it blocks prospecting calls to whichever contact
    holds the number, from ``at`` on (see the README's fr-telemarketing section).
    """

    phone: str
    at: int
    source: str = ""


#: subscription statuses an audience pull may report for a contact on its account's channel
AUDIENCE_STATUSES = frozenset({"subscribed", "unsubscribed", "complained"})


@dataclass(slots=True, frozen=True)
class ContactUpdate:
    """Attributes of a contact as a source knows them.

    An audience pull (:meth:`~pressure_sdk.connectors.base.Connector.pull_audience`) fills
    ``external_id`` (the platform's id) and ``status`` (``subscribed``, ``unsubscribed`` or
    ``complained`` on ``channel``), with ``status_at`` the time the platform says the status
    was set (its last-modified date when it has nothing better). An ``unsubscribed`` or
    ``complained`` status is recorded as an opt-out of the account's brand at ``status_at``;
    ``subscribed`` never lifts an opt-out (only a resubscribe event does): another platform
    of the same brand may not know of it.
    """

    email: str
    timezone: str | None = None
    paused_until: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    status: str | None = None
    status_at: int | None = None
    channel: str = "email"
    #: E.164 numbers of the contact (an empty ``email`` with one phone: a phone-only contact)
    phones: tuple[str, ...] = ()


@dataclass(slots=True)
class Batch:
    """One page of pulled data and the watermark that covers it.

    The sync commits the rows and ``state`` in one transaction, so a watermark never
    moves past data that is not committed.
    """

    touches: list[Touch] = field(default_factory=list)
    engagements: list[Engagement] = field(default_factory=list)
    contacts: list[ContactUpdate] = field(default_factory=list)
    state: dict[str, Any] | None = None
    #: numbers an opposition list returned (kept client-wide, per number)
    oppositions: list[Opposition] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class Candidate:
    """A message that may be sent: the question asked of the policy."""

    email: str
    channel: str
    brand: str
    family: str
    at: int
    weight: float | None = None
    candidate_id: str = ""
    value: float = 0.0
    product: str | None = None
    #: the number to call or text (E.164), when the candidate names the contact by phone
    phone: str | None = None


@dataclass(slots=True, frozen=True)
class CountedTouch:
    """A touch as the policy sees it (history or an accepted planned send)."""

    at: int
    channel: str
    brand: str
    family: str
    weight: float
    planned: bool = False


@dataclass(slots=True, frozen=True)
class Reason:
    """Why a rule blocked a candidate, in figures and in words."""

    rule_id: str
    kind: str
    message: str
    counted: float | None = None
    limit: float | None = None
    until: int | None = None
    touches: tuple[CountedTouch, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The reason as JSON-ready data, every time as ISO 8601 in UTC.

        Keys: ``rule`` (the rule id), ``kind``, ``message``, ``counted``, ``limit``,
        ``until`` and ``touches`` (each ``at``, ``channel``, ``brand``, ``family``,
        ``weight``, ``planned``).
        """
        return {
            "rule": self.rule_id,
            "kind": self.kind,
            "message": self.message,
            "counted": self.counted,
            "limit": self.limit,
            "until": to_iso(self.until),
            "touches": [
                {
                    "at": to_iso(t.at),
                    "channel": t.channel,
                    "brand": t.brand,
                    "family": t.family,
                    "weight": t.weight,
                    "planned": t.planned,
                }
                for t in self.touches
            ],
        }


@dataclass(slots=True, frozen=True)
class Decision:
    """Allowed or blocked, with the reasons and when the contact is next allowed."""

    candidate: Candidate
    allowed: bool
    reasons: tuple[Reason, ...] = ()
    next_allowed_at: int | None = None
    exempt: bool = False

    @property
    def blocking_rules(self) -> list[str]:
        """The ids of the rules that blocked it, in reason order."""
        return [r.rule_id for r in self.reasons]

    def as_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready data (``decide --json``), every time as ISO 8601 in UTC."""
        return {
            "allowed": self.allowed,
            "exempt": self.exempt,
            "at": to_iso(self.candidate.at),
            "reasons": [r.as_dict() for r in self.reasons],
            "next_allowed_at": to_iso(self.next_allowed_at),
        }
