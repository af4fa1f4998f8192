"""The endpoints the connector reads, declared as kit streams.

A campaign's reports are child streams of a campaign record ``{id, send_time, since}``:
``since`` is the ``email-activity`` time filter of this run (None reads every event).
Shapes: ``vendor-apis-mailchimp-sfmc.md`` §1.2–1.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from pressure_sdk.connectors import HttpStream, Window, stable_id
from pressure_sdk.errors import InvalidValueError, PayloadError
from pressure_sdk.http import OffsetPaginator
from pressure_sdk.models import ContactUpdate, Engagement, Touch
from pressure_sdk.validate import check_email

if TYPE_CHECKING:
    from .connector import MailchimpConnector

#: ``email-activity`` actions → ledger engagement types ("One of … 'open', 'click', or 'bounce'")
ACTIONS = {"open": "open", "click": "click", "bounce": "bounce"}
#: member ``status`` → audience status; cleaned (bounced), pending, transactional and archived
#: members are neither subscribed to nor opted out of marketing
AUDIENCE_STATUS = {"subscribed": "subscribed", "unsubscribed": "unsubscribed"}
#: before this, a time filter means "everything" (a first audience pull sends none)
MAILCHIMP_EPOCH = datetime(2001, 1, 1, tzinfo=UTC).timestamp()


def parse_time(value: Any, where: str) -> int:
    """Epoch seconds of a Mailchimp date-time (ISO 8601, ``2015-10-21T15:41:36+00:00``)."""
    if not isinstance(value, str) or not value:
        msg = f"{where}: expected a date-time, got {value!r}"
        raise PayloadError(msg, connector="mailchimp")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{where}: {value!r} is not an ISO 8601 date-time"
        raise PayloadError(msg, connector="mailchimp") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def mc_time(epoch: float) -> str:
    """A time filter in the API's format: ISO 8601 with an offset (``2015-10-21T15:41:36+00:00``)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def email_of(raw: Any) -> str | None:
    """A normalized email; None for one the ledger would refuse (one odd row must not fail a pull)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return check_email(raw)
    except InvalidValueError:
        return None


def event_id(kind: str, *parts: Any) -> str:
    """A stable id from the fields that identify an event (Mailchimp gives ids to abuse reports only)."""
    return stable_id(kind, *parts, prefix="mailchimp-")


class MailchimpStream(HttpStream):
    """Collections page with ``count`` (at most 1000) and ``offset``, and answer ``total_items``."""

    connector: MailchimpConnector

    def paginator(self) -> OffsetPaginator | None:
        return OffsetPaginator(
            self.settings.page_size, limit_param="count", offset_param="offset", total_path=("total_items",)
        )


class Campaigns(MailchimpStream):
    """``GET /campaigns``: the audience's sent campaigns sent after the window's start, oldest first."""

    path = "/campaigns"
    records_path = ("campaigns",)
    primary_key = ("id",)

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        assert window is not None
        return {
            "status": "sent",
            "list_id": self.settings.list_id,
            "since_send_time": mc_time(window.start),
            "sort_field": "send_time",
            "sort_dir": "ASC",
        }


class Report(MailchimpStream):
    """A report of one campaign (the parent record ``{id, send_time, since}``)."""

    #: the report's path segment, for messages and batch operations
    kind: ClassVar[str]
    #: whether the report takes ``count`` and ``offset``
    paged: ClassVar[bool] = True

    def paginator(self) -> OffsetPaginator | None:
        return super().paginator() if self.paged else None

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"count": self.settings.page_size, "offset": 0} if self.paged else {}

    def rows(self, record: Mapping[str, Any], campaign: Mapping[str, Any], email: str) -> list[Touch | Engagement]:
        raise NotImplementedError

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Iterable[Touch | Engagement]:
        assert parent is not None
        email = email_of(record.get("email_address"))
        return [] if email is None else self.rows(record, parent, email)


class SentTo(Report):
    """The campaign's recipients: one marketing touch each, at the campaign's send time (no per-recipient time)."""

    kind = "sent-to"
    path = "/reports/{id}/sent-to"
    records_path = ("sent_to",)
    primary_key = ("email_address",)

    def rows(self, record: Mapping[str, Any], campaign: Mapping[str, Any], email: str) -> list[Touch | Engagement]:
        cid = campaign["id"]
        return [
            Touch(event_id("sent", cid, email), email, "email", "", "marketing", campaign["send_time"], campaign=cid)
        ]


class EmailActivity(Report):
    """Opens, clicks and bounces per recipient; ``since`` keeps those after the run's watermark."""

    kind = "email-activity"
    path = "/reports/{id}/email-activity"
    records_path = ("emails",)
    primary_key = ("email_address",)

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        params = super().params(window, parent)
        if parent is not None and parent.get("since"):
            params["since"] = parent["since"]  # "events that occur after a specific time"
        return params

    def rows(self, record: Mapping[str, Any], campaign: Mapping[str, Any], email: str) -> list[Touch | Engagement]:
        out: list[Touch | Engagement] = []
        for act in record.get("activity") or []:
            kind = ACTIONS.get(str(act.get("action"))) if isinstance(act, Mapping) else None
            if kind is None:
                continue
            stamp, url = act.get("timestamp"), act.get("url") if kind == "click" else None
            at = parse_time(stamp, f"GET {self.path} activity.timestamp")
            out.append(Engagement(event_id(kind, campaign["id"], email, stamp, url), email, kind, at, "email"))
        return out


class Unsubscribed(Report):
    """Who unsubscribed through the campaign, and when."""

    kind = "unsubscribed"
    path = "/reports/{id}/unsubscribed"
    records_path = ("unsubscribes",)
    primary_key = ("email_address", "timestamp")

    def rows(self, record: Mapping[str, Any], campaign: Mapping[str, Any], email: str) -> list[Touch | Engagement]:
        stamp = record.get("timestamp")
        at = parse_time(stamp, f"GET {self.path} timestamp")
        return [Engagement(event_id("unsubscribe", campaign["id"], email, stamp), email, "unsubscribe", at, "email")]


class AbuseReports(Report):
    """Spam complaints: no ``count`` or ``offset``, every report in one answer; each has an integer id."""

    kind = "abuse-reports"
    path = "/reports/{id}/abuse-reports"
    records_path = ("abuse_reports",)
    primary_key = ("id",)
    paged = False

    def rows(self, record: Mapping[str, Any], campaign: Mapping[str, Any], email: str) -> list[Touch | Engagement]:
        at = parse_time(record.get("date"), f"GET {self.path} date")
        eid = event_id("abuse", campaign["id"], record.get("id"), email)
        return [Engagement(eid, email, "complaint", at, "email")]


#: the reports read for a campaign seen for the first time, and for one still active
NEW_REPORTS: tuple[type[Report], ...] = (SentTo, EmailActivity, Unsubscribed, AbuseReports)
ACTIVE_REPORTS: tuple[type[Report], ...] = (EmailActivity, Unsubscribed, AbuseReports)


class Members(MailchimpStream):
    """``GET /lists/{list_id}/members``: the audience, changed after the window's start once it has a watermark."""

    path = "/lists/{list_id}/members"
    records_path = ("members",)
    primary_key = ("id",)
    #: offsets in the list's own order, saved after each page
    resumable = True

    def url(self, parent: Mapping[str, Any] | None) -> str:
        return f"/lists/{quote(self.settings.list_id, safe='')}/members"

    def params(self, window: Window | None, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        params: dict[str, Any] = {"count": self.settings.page_size, "offset": 0}
        if window is not None and window.start > MAILCHIMP_EPOCH:
            # "subscribers whose information changed after the set timeframe"
            params["since_last_changed"] = mc_time(window.start)
        return params

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> ContactUpdate | None:
        email = email_of(record.get("email_address"))
        if email is None:
            return None
        at = parse_time(record.get("last_changed"), f"GET {self.path} last_changed")
        status = AUDIENCE_STATUS.get(str(record.get("status")))
        return ContactUpdate(email, external_id=str(record["id"]), status=status, status_at=at, channel="email")
