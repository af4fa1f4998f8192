"""HubSpot email events and subscription changes → touches and engagements. No I/O here.

Ids are built from HubSpot's EventId ``(created, id)`` so a re-read changes nothing:

* a touch is one message: its id is the EventId of the message's ``SENT`` event. A
  ``PROCESSED`` event names that same EventId in ``sentBy``, so whichever of the two is
  seen (or both, in any order, in any run) the ledger keeps a single touch;
* an engagement's id is ``"{created}:{id}:{type}"`` of the email event it comes from. A
  subscription change caused by an email event (``causedByEvent``) gets the id and time of
  that event, so an unsubscribe seen both as a ``STATUSCHANGE`` event and in the timeline
  is stored once, while a spam report that also unsubscribed keeps both facts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from pressure_sdk.errors import PayloadError
from pressure_sdk.models import Engagement, Touch

#: email event type → engagement type (SENT/PROCESSED make touches; the rest is ignored)
ENGAGEMENT_OF_EVENT = {
    "DELIVERED": "delivered",
    "OPEN": "open",
    "CLICK": "click",
    "BOUNCE": "bounce",
    "SPAMREPORT": "complaint",
}
#: why other types are ignored: DROPPED/SUPPRESSED/DEFERRED are not engagements (the message
#: was not delivered, or not yet); PRINT/FORWARD are rare and not tracked; UNBOUNCE has no recipient
TOUCH_EVENTS = ("SENT", "PROCESSED")
CHANNEL = "email"


def _event_id(ref: Any, what: str) -> tuple[int, str]:
    if not isinstance(ref, Mapping):
        raise PayloadError(f"HubSpot {what} has no EventId object")
    created, eid = ref.get("created"), ref.get("id")
    if not isinstance(created, int) or isinstance(created, bool) or not eid:
        raise PayloadError(f"HubSpot {what} has an EventId without integer 'created' and 'id': {dict(ref)!r}")
    return created, str(eid)


def event_key(event: Mapping[str, Any]) -> tuple[int, str]:
    """HubSpot's EventId ``(created, id)``; PayloadError if absent."""
    return _event_id(event, "email event")


def is_unsubscribe(event: Mapping[str, Any]) -> bool:
    """A ``STATUSCHANGE`` that unsubscribed the recipient from the portal or from a subscription type."""
    if event.get("portalSubscriptionStatus") == "UNSUBSCRIBED":
        return True
    subs = event.get("subscriptions")
    if isinstance(subs, list):
        return any(isinstance(s, Mapping) and s.get("status") == "UNSUBSCRIBED" for s in subs)
    return False


def map_event(event: Mapping[str, Any], *, family: str, brand: str = "") -> Touch | Engagement | None:
    """One email event as a touch, an engagement, or None when it is not kept."""
    kind = event.get("type")
    recipient = event.get("recipient")
    if not isinstance(kind, str) or not isinstance(recipient, str) or not recipient.strip():
        return None  # UNBOUNCE and other recipient-less events
    created, eid = event_key(event)
    if kind in TOUCH_EVENTS:
        sent_by = event.get("sentBy")
        if kind == "PROCESSED" and isinstance(sent_by, Mapping) and sent_by.get("id"):
            created, eid = _event_id(sent_by, "PROCESSED event's sentBy")
        campaign = event.get("emailCampaignId")
        return Touch(
            event_id=f"{created}:{eid}",
            email=recipient,
            channel=CHANNEL,
            brand=brand,  # empty: the ledger applies the account's brand
            family=family,
            at=created // 1000,
            campaign=str(campaign) if campaign is not None else None,
        )
    etype = ENGAGEMENT_OF_EVENT.get(kind)
    if etype is None and kind == "STATUSCHANGE" and is_unsubscribe(event):
        etype = "unsubscribe"
    if etype is None:
        return None
    return Engagement(
        event_id=f"{created}:{eid}:{etype}", email=recipient, type=etype, at=created // 1000, channel=CHANNEL
    )


def change_type(change: Mapping[str, Any]) -> str | None:
    """The engagement a subscription change means, or None (bounces come from the events feed)."""
    if change.get("changeType") == "PORTAL_SPAM_REPORT":
        return "complaint"
    if change.get("changeType") in ("SUBSCRIPTION_STATUS", "PORTAL_STATUS"):
        return {"UNSUBSCRIBED": "unsubscribe", "SUBSCRIBED": "resubscribe"}.get(str(change.get("change")))
    return None


def map_timeline_item(item: Mapping[str, Any]) -> Iterator[Engagement]:
    """The engagements of one timeline item (one per distinct cause and type)."""
    recipient = item.get("recipient")
    changes = item.get("changes")
    if not isinstance(recipient, str) or not recipient.strip() or not isinstance(changes, list):
        return
    seen: set[str] = set()
    for change in changes:
        if not isinstance(change, Mapping):
            continue
        etype = change_type(change)
        if etype is None:
            continue
        cause = change.get("causedByEvent")
        if isinstance(cause, Mapping) and cause.get("id"):
            created, eid = _event_id(cause, "subscription change's causedByEvent")
            event_id = f"{created}:{eid}:{etype}"
        else:
            created = change.get("timestamp", item.get("timestamp"))
            if not isinstance(created, int):
                raise PayloadError("HubSpot subscription change has neither causedByEvent nor an integer timestamp")
            # no EventId: the recipient (hashed, so no email sits in an id) and the time make it unique
            who = hashlib.blake2b(recipient.strip().lower().encode(), digest_size=8).hexdigest()
            event_id = f"tl:{created}:{who}:{etype}"
        if event_id in seen:
            continue
        seen.add(event_id)
        yield Engagement(event_id=event_id, email=recipient, type=etype, at=created // 1000, channel=CHANNEL)
