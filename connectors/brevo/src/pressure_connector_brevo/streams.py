"""What the Brevo connector pulls, declared as streams; every path and parameter is in ``swagger_definition_v3.yml``.

* :class:`TransactionalEvents`: ``GET /smtp/statistics/events`` in whole-day windows of at most
  90 days, ``sort=asc`` (creation order), so a page's position is stable: a killed run resumes
  at the page, and the watermark moves only when a window is read whole.
* :class:`CampaignStats`, a child of :class:`Contacts`: ``GET /contacts/{id}/campaignStats``
  for each contact ``GET /contacts`` lists, over the same kind of window. Before a pass reads
  any contact, :meth:`Contacts.recipients` asks ``GET /emailCampaigns`` which campaigns were
  sent within the horizon and whose statistics moved since the last pass: only contacts of
  their recipient lists are read, and none at all when no campaign moved.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pressure_sdk.connectors import HttpStream, Window, stable_id
from pressure_sdk.connectors.streams import DAY
from pressure_sdk.errors import InvalidValueError, PayloadError
from pressure_sdk.http import OffsetPaginator
from pressure_sdk.models import Engagement, Touch, normalize_email
from pressure_sdk.validate import check_email

from .mapping import CAMPAIGN_ENGAGEMENTS, TX_ENGAGEMENTS, parse_time

log = logging.getLogger("pressure_connector_brevo")

#: the address Brevo gives a contact created with an SMS number only (spec getContacts example
#: ``33058407248@mailin-sms.com``): a placeholder, not a mailbox
SMS_PLACEHOLDER_DOMAIN = "@mailin-sms.com"
#: spec getEmailCampaigns: ``limit`` maximum 100
CAMPAIGNS_PAGE = 100
#: which lists a new campaign pass reads for a window: ids, None (every contact) or [] (none)
Gate = Callable[[Window | None], list[int] | None]


def event_id(kind: str, *parts: Any) -> str:
    """A stable id from the fields that identify an event on Brevo (no per-event id exists for campaigns)."""
    return stable_id(kind, *parts, prefix="brevo-")


def email_of(contact: Any) -> str | None:
    """A contact's normalized email; None for a contact without one (SMS only, or Brevo's SMS placeholder).

    An address the ledger would refuse is left out too, with a warning: one odd contact must
    not fail every pull of the account.
    """
    if not isinstance(contact, Mapping):
        return None
    raw = contact.get("email")
    if not isinstance(raw, str) or not raw.strip() or normalize_email(raw).endswith(SMS_PLACEHOLDER_DOMAIN):
        return None
    try:
        return check_email(raw)
    except InvalidValueError:
        log.warning("brevo: contact %s has an email the ledger cannot take; left out", contact.get("id"))
        return None


def days(window: Window | None) -> dict[str, str]:
    """``startDate``/``endDate`` of a window: whole UTC days, both inclusive."""
    assert window is not None
    return {"startDate": window.first_day.isoformat(), "endDate": window.last_day.isoformat()}


class TransactionalEvents(HttpStream):
    """``GET /smtp/statistics/events``: ``requests`` → a transactional touch; the rest engagements."""

    path = "/smtp/statistics/events"
    records_path = ("events",)
    resumable = True  # sort=asc is creation order: new events land after the saved offset

    def paginator(self) -> OffsetPaginator:
        return OffsetPaginator(self.settings.events_page_size)

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**days(window), "sort": "asc"}

    def parse(self, raw: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Touch | Engagement | None:
        kind = raw.get("event")
        if kind != "requests" and kind not in TX_ENGAGEMENTS:
            return None
        email, message_id, stamp, link = raw.get("email"), raw.get("messageId"), raw.get("date"), raw.get("link")
        if not isinstance(email, str) or not email or not message_id:
            msg = f"GET {self.path}: an event lacks email or messageId, which the spec says are always there"
            raise PayloadError(msg, connector="brevo")
        at = parse_time(stamp, f"GET {self.path} date")
        eid = event_id("tx", message_id, kind, stamp, link)  # the same event on two pages is one row
        if kind == "requests":
            template = raw.get("templateId")
            campaign = f"template-{template}" if template else (raw.get("tag") or None)
            return Touch(eid, normalize_email(email), "email", "", "transactional", at, campaign=campaign)
        return Engagement(eid, normalize_email(email), TX_ENGAGEMENTS[kind], at, "email")


class Contacts(HttpStream):
    """``GET /contacts`` in creation order (``sort=asc``): contacts created meanwhile land after the offset."""

    path = "/contacts"
    records_path = ("contacts",)
    resumable = True

    def __init__(
        self, connector: Any, list_ids: list[int] | None = None, gate: Gate | None = None, **fixed: Any
    ) -> None:
        super().__init__(connector)
        self.list_ids = list_ids
        self.gate = gate
        self.fixed = fixed

    def pages(
        self,
        window: Window | None = None,
        parent: Mapping[str, Any] | None = None,
        resume: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[list[Mapping[str, Any]], dict[str, Any] | None]]:
        """With a ``gate``, a new pass first asks it which lists to read (none: no page at all).

        A resumed pass keeps the lists it started with: they are in its saved parameters.
        """
        if resume is None and self.gate is not None:
            lists = self.gate(window)
            if lists == []:
                return
            self.list_ids = lists
        yield from super().pages(window, parent, resume)

    def paginator(self) -> OffsetPaginator:
        return OffsetPaginator(self.settings.contacts_page_size, total_path=("count",))

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        lists = {"listIds": self.list_ids} if self.list_ids else {}
        return {**self.fixed, **lists, "sort": "asc"}

    def select(self, record: Mapping[str, Any]) -> bool:
        # a contact without email (SMS only) has no email campaign stats
        return record.get("id") is not None and email_of(record) is not None


class CampaignStats(HttpStream):
    """``GET /contacts/{identifier}/campaignStats`` per contact; the id avoids URL-encoding the email."""

    path = "/contacts/{id}/campaignStats"
    parent = Contacts
    gone_statuses = (404,)  # deleted since the page was read

    def __init__(self, connector: Any, gate: Gate | None = None) -> None:
        super().__init__(connector)
        self.gate = gate

    def parent_stream(self) -> Contacts:
        return Contacts(self.connector, list(self.settings.campaign_list_ids) or None, self.gate)

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        return days(window)

    def parse(self, stats: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Iterator[Touch | Engagement]:
        email = email_of(parent)
        assert email is not None  # selected
        where = "GET /contacts/{identifier}/campaignStats"
        for item in stats.get("messagesSent") or []:
            cid, stamp = item.get("campaignId"), item.get("eventTime")
            at = parse_time(stamp, f"{where} messagesSent.eventTime")
            eid = event_id("mk", email, cid, "sent", stamp)
            yield Touch(eid, email, "email", "", "marketing", at, campaign=str(cid))
        for key, kind in CAMPAIGN_ENGAGEMENTS.items():
            for item in stats.get(key) or []:
                cid, stamp = item.get("campaignId"), item.get("eventTime")
                at = parse_time(stamp, f"{where} {key}.eventTime")
                yield Engagement(event_id("mk", email, cid, key, stamp), email, kind, at, "email")
        for item in stats.get("clicked") or []:
            cid = item.get("campaignId")
            for link in item.get("links") or []:
                stamp, url = link.get("eventTime"), link.get("url")
                at = parse_time(stamp, f"{where} clicked.links.eventTime")
                yield Engagement(event_id("mk", email, cid, "clicked", stamp, url), email, "click", at, "email")
        unsubs = stats.get("unsubscriptions") or {}
        # an admin unsubscription carries no campaign but still means "do not mail": kept as unsubscribe
        for key in ("userUnsubscription", "adminUnsubscription"):
            for item in unsubs.get(key) or []:
                cid, stamp = item.get("campaignId"), item.get("eventTime")
                at = parse_time(stamp, f"{where} unsubscriptions.{key}.eventTime")
                yield Engagement(event_id("mk", email, cid, key, stamp), email, "unsubscribe", at, "email")


class SentCampaigns(HttpStream):
    """``GET /emailCampaigns?status=sent`` within a time range, with their global statistics only."""

    path = "/emailCampaigns"
    records_path = ("campaigns",)

    def paginator(self) -> OffsetPaginator:
        return OffsetPaginator(CAMPAIGNS_PAGE, total_path=("count",))

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {
            "status": "sent",
            # spec: "UTC date-time (YYYY-MM-DDTHH:mm:ss.SSSZ) to filter the sent email campaigns"
            "startDate": window.iso(window.start, millis=True),
            "endDate": window.iso(window.end, millis=True),
            "statistics": "globalStats",
            "excludeHtmlContent": "true",
            "sort": "asc",
        }


def stats_digest(campaign: Mapping[str, Any]) -> str:
    """A short digest of a campaign's global statistics: it changes whenever one of its counters moves."""
    stats = campaign.get("statistics")
    found = stats.get("globalStats") if isinstance(stats, Mapping) else None
    text = json.dumps(found, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def moved_campaigns(
    connector: Any, window: Window, snapshot: Mapping[str, str]
) -> tuple[dict[str, str], list[Mapping[str, Any]]]:
    """Digests of the campaigns sent from ``horizon`` before ``window`` to its end, and those that moved.

    A campaign moved when it is new or its statistics digest differs from ``snapshot`` (taken
    at the start of the last pass): only its recipients can have events that pass did not read.
    """
    horizon = connector.settings.campaign_horizon_days * DAY
    reach = Window(window.start - horizon, window.end)
    digests: dict[str, str] = {}
    moved: list[Mapping[str, Any]] = []
    for records, _ in SentCampaigns(connector).pages(reach):
        for campaign in records:
            cid = str(campaign.get("id"))
            digests[cid] = stats_digest(campaign)
            if snapshot.get(cid) != digests[cid]:
                moved.append(campaign)
    return digests, moved


def recipient_lists(moved: list[Mapping[str, Any]], narrowed: list[int]) -> list[int] | None:
    """Lists whose contacts a pass reads: the moved campaigns' recipient lists (within ``narrowed``).

    None means every contact (a moved campaign names no list: sent to a segment, say), or
    ``narrowed`` when set; an empty list means no contact at all.
    """
    lists: set[int] = set()
    for campaign in moved:
        recipients = campaign.get("recipients")
        found = recipients.get("lists") if isinstance(recipients, Mapping) else None
        if not isinstance(found, list) or not found:
            return list(narrowed) or None
        lists.update(int(x) for x in found if isinstance(x, int) and not isinstance(x, bool))
    if narrowed:
        lists &= set(narrowed)
    return sorted(lists)
