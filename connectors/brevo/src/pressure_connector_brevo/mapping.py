"""Brevo's event names, dates and rate-limit buckets. No I/O here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pressure_sdk.errors import PayloadError

#: ``GET /smtp/statistics/events`` event → ledger type; ``requests`` (a send) becomes a Touch.
#: Ignored: bounces (the sum of hard and soft, which are both read), invalid, deferred (retried
#: by Brevo, not a failure yet), blocked and error (never sent), loadedByProxy (not a person).
TX_ENGAGEMENTS = {
    "delivered": "delivered",
    "opened": "open",
    "clicks": "click",
    "hardBounces": "bounce",
    "softBounces": "bounce",
    "spam": "complaint",
    "unsubscribed": "unsubscribe",
}
#: ``getContactCampaignStats`` arrays of ``{campaignId, eventTime}`` → ledger type
CAMPAIGN_ENGAGEMENTS = {
    "delivered": "delivered",
    "hardBounces": "bounce",
    "softBounces": "bounce",
    "complaints": "complaint",
    "opened": "open",
}


def bucket_of(path: str) -> str:
    """Brevo's rate-limit bucket of a path (vendor-apis §2.4): each has its own budget and headers.

    ``POST /smtp/email`` and ``GET /smtp/blockedContacts`` share the fast bucket; ``GET /smtp/emails``
    has its own (2 per second); every other ``/smtp/*`` path 300 per hour; ``/contacts/*`` 10 per
    second; everything else (``/emailCampaigns``, ``/processes``) 100 per hour.
    """
    path = path.split("?", 1)[0].rstrip("/")
    if path in ("/smtp/email", "/smtp/blockedContacts"):
        return "smtp-send"
    if path == "/smtp/emails":
        return "smtp-emails"
    if path.startswith("/smtp/"):
        return "smtp"
    if path == "/contacts" or path.startswith("/contacts/"):
        return "contacts"
    return "other"


def parse_time(value: Any, where: str) -> int:
    """Epoch seconds of a Brevo date-time (``2017-03-12T12:30:00Z``, offsets and milliseconds allowed)."""
    if not isinstance(value, str) or not value:
        msg = f"{where}: expected a date-time, got {value!r}"
        raise PayloadError(msg, connector="brevo")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{where}: {value!r} is not an ISO date-time"
        raise PayloadError(msg, connector="brevo") from None
    if dt.tzinfo is None:  # the spec says UTC
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def brevo_time(epoch: float) -> str:
    """A ``modifiedSince`` value in the spec's format, ``YYYY-MM-DDTHH:mm:ss.SSSZ`` (UTC)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso(epoch: float) -> str:
    """A watermark: the UTC date-time of ``epoch``, to the second."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
