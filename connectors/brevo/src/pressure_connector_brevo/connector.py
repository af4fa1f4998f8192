"""The ``brevo`` connector: transactional and campaign email events in, suppression lists out.

Every endpoint used is in Brevo's OpenAPI description (``swagger_definition_v3.yml``). The
pulls are declared streams (:mod:`.streams`) on two incremental cursors, ``tx`` and ``mk``;
the lists are a sink (:mod:`.lists`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors import HttpConnector, IncrementalCursor, PushBatch, RemoteList, Window, pull_windows
from pressure_sdk.connectors.streams import DAY, day_start
from pressure_sdk.errors import AuthError
from pressure_sdk.http import ApiKeyHeader, Auth, HeaderPacer
from pressure_sdk.http.client import json_object
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Batch, ContactUpdate

from .lists import LIST_BATCH, BrevoLists
from .mapping import brevo_time, bucket_of, iso, parse_time
from .settings import BrevoSettings
from .streams import CampaignStats, Contacts, TransactionalEvents, email_of, moved_campaigns, recipient_lists

if TYPE_CHECKING:
    from pressure_sdk.testing.sandbox import Sandbox

log = logging.getLogger("pressure_connector_brevo")

#: spec: "Maximum difference between startDate and endDate should not be greater than 90 days"
MAX_RANGE_DAYS = 90

__all__ = ["MAX_RANGE_DAYS", "BrevoConnector", "bucket_of", "parse_time"]


class BrevoConnector(HttpConnector):
    """Pulls Brevo email events into the ledger and keeps suppression lists as Brevo contact lists."""

    name: ClassVar[str] = "brevo"
    settings_model: ClassVar[type[BrevoSettings]] = BrevoSettings
    max_batch: ClassVar[int] = LIST_BATCH
    default_base_url: ClassVar[str] = "https://api.brevo.com/v3"
    credential_hint: ClassVar[str] = "a Brevo API key (SMTP & API → API keys)"
    sink_class = BrevoLists

    settings: BrevoSettings

    @property
    def lists(self) -> BrevoLists:
        sink = self.sink
        assert isinstance(sink, BrevoLists)
        return sink

    # -- HttpConnector hooks ------------------------------------------------------------------

    def auth(self, credential: str) -> Auth:
        # securitySchemes.api-key: "passed in the request headers as `api-key`"
        return ApiKeyHeader("api-key", credential)

    def pacer(self) -> HeaderPacer:
        return HeaderPacer(
            remaining_header="x-sib-ratelimit-remaining",
            reset_header="x-sib-ratelimit-reset",
            bucket_of=bucket_of,
        )

    def retry_after(self, response: requests.Response) -> float | None:
        # Brevo sends no Retry-After on a 429; the reset header says when the bucket refills.
        raw = response.headers.get("x-sib-ratelimit-reset")
        try:
            return max(0.0, float(raw)) if raw is not None else None
        except ValueError:
            return None

    def error_message(self, response: requests.Response) -> str | None:
        # components.schemas.errorModel: {code, message}
        body = json_object(response)
        if body is None:
            return None
        message, code = body.get("message"), body.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({code})" if isinstance(code, str) and code else message
        return code if isinstance(code, str) and code else None

    @classmethod
    def sandbox_class(cls) -> type[Sandbox]:
        from .testing import BrevoSandbox

        return BrevoSandbox

    def _named(self, exc: AuthError) -> AuthError:
        """The same refusal, saying which account's key it was (a workspace may hold several)."""
        env = self.account.credential_env or ""
        if f"account {self.account.name!r}" in str(exc) or (env and env in str(exc)):
            return exc  # the account or its variable is already named
        return AuthError(
            f"account {self.account.name!r} ({self.account.credential_env}): {exc}",
            connector=self.name,
            status=exc.status,
            body=exc.body,
            request_id=exc.request_id,
        )

    # -- check ----------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the contact lists (proves the key and its contacts permission); report each configured list."""
        try:
            lists: dict[str, int] = {}
            for item in self.lists.lists():
                if "name" in item and "id" in item:
                    lists.setdefault(str(item["name"]), int(item["id"]))  # the oldest of two with one name
        except AuthError as exc:
            raise self._named(exc) from None
        said = [f"API key accepted at {self.base_url}; {len(lists)} contact lists readable"]
        for lst in self.account.lists:
            found = lists.get(lst.name)
            what = "not there yet, the first push creates it" if found is None else f"id {found}"
            said.append(f"list {lst.name!r}: {what}")
        return "; ".join(said)

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Transactional events, then campaign events; each batch carries the state that covers it."""
        try:
            yield from self._pull(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _cursor(self, fmt: Any, compact: bool) -> IncrementalCursor:
        """Whole UTC days, re-read from ``overlap_days`` before the watermark, in windows of at most 90 days."""
        s = self.settings
        return IncrementalCursor(
            backfill=s.backfill_days * DAY,
            overlap=s.overlap_days * DAY,
            step=(MAX_RANGE_DAYS + 1) * DAY,
            align=DAY,
            fmt=fmt,
            compact=compact,
        )

    def _pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        state = dict(state or {})
        now = self.now()
        tx, mk = state.get("tx"), state.get("mk")
        # tx: the date-time covered, or the window in progress with the page to resume at
        for batch in pull_windows(self._cursor("iso", True), [TransactionalEvents(self)], tx, now=now):
            tx = batch.state if batch.state is not None else tx
            batch.state = {"tx": tx, "mk": mk}
            yield batch
        if not self.settings.campaigns:
            return
        mk = self._legacy_mk(mk)
        self._stats: dict[str, str] = dict(mk.get("stats") or {}) if isinstance(mk, dict) else {}
        self._now = now
        stream = CampaignStats(self, gate=self._campaign_gate)
        for batch in pull_windows(self._cursor("date", False), [stream], mk, now=now):
            if batch.state is not None:
                mk = {**batch.state, "stats": self._stats}
            batch.state = {"tx": tx, "mk": mk}
            yield batch

    def _campaign_gate(self, window: Window | None) -> list[int] | None:
        """Which contacts a new campaign pass reads: those of campaigns sent lately whose statistics moved.

        The digests taken now become the pass's reference when it reaches now; a pass over an
        older window (a backlog of more than 90 days) leaves none, so the next reads all.
        """
        assert window is not None
        digests, moved = moved_campaigns(self, window, self._stats)
        self._stats = digests if window.end >= self._now else {}
        lists = recipient_lists(moved, list(self.settings.campaign_list_ids))
        if lists == []:
            log.info("%s: no campaign sent within the horizon moved; no contact read", self.account.name)
        return lists

    def _legacy_mk(self, mk: Any) -> Any:
        """A campaign watermark as the connector stored it before the kit (``done``; or a pass in progress)."""
        if not isinstance(mk, Mapping):
            return mk
        if "done" in mk:
            return {"until": mk["done"]}
        if "since" in mk and "offset" in mk:
            since, last = day_start_of(str(mk["since"])), day_start_of(str(mk["until"]))
            resume: dict[str, Any] = {"sort": "asc", "offset": int(mk["offset"])}
            resume["limit"] = self.settings.contacts_page_size
            if self.settings.campaign_list_ids:
                resume["listIds"] = list(self.settings.campaign_list_ids)
            return {"until": None, "window": [int(since), int(last + DAY)], "stream": 0, "resume": resume}
        return mk

    # -- audience -------------------------------------------------------------------------------

    def pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Every contact with an email, from ``GET /contacts``; with a watermark, those modified since.

        A pass keeps, in each batch's state, the watermark it reads from (``since``), the time
        it started and the offset of contacts done, so a killed run resumes the same pass.
        Once the pass is read to the end, the watermark becomes the time it started: a contact
        modified during the pass is read again by the next one. ``modifiedSince`` goes back
        ``audience_overlap_minutes`` before the watermark, for clock skew and late changes.
        """
        try:
            yield from self._pull_audience(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        state = dict(state or {})
        if "started" in state:  # a pass in progress
            since, started, offset = state.get("since"), str(state["started"]), int(state["offset"])
        else:
            since, started, offset = state.get("watermark"), iso(self.now()), 0
        params: dict[str, Any] = {"sort": "asc", "offset": offset}
        if since:
            cut = parse_time(since, "the audience watermark") - 60 * self.settings.audience_overlap_minutes
            params["modifiedSince"] = brevo_time(cut)
        for records, nxt in Contacts(self).pages(resume=params):
            offset += len(records)
            rows = [self._audience_row(c, e) for c in records if (e := email_of(c)) and c.get("id") is not None]
            yield Batch(contacts=rows, state={"since": since, "started": started, "offset": offset})
            offset = int(nxt["offset"]) if nxt else offset
        yield Batch(state={"watermark": started})

    @staticmethod
    def _audience_row(contact: Mapping[str, Any], email: str) -> ContactUpdate:
        # getContactDetails: emailBlacklisted is the contact's opt-out of email campaigns;
        # modifiedAt is the only date Brevo gives for it
        at = parse_time(contact.get("modifiedAt"), "GET /contacts modifiedAt")
        status = "unsubscribed" if contact.get("emailBlacklisted") is True else "subscribed"
        return ContactUpdate(email, external_id=str(contact["id"]), status=status, status_at=at, channel="email")

    # -- push and lists -------------------------------------------------------------------------

    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Add and remove by email, 150 per call; import contacts Brevo does not know; yield what it confirmed."""
        try:
            yield from super().push(lst, adds, removes, members)
        except AuthError as exc:
            raise self._named(exc) from None

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The list as Brevo holds it now, found by name and never created (DESIGN §6.5).

        ``size`` is the list's ``uniqueSubscribers``: by the spec's examples, the members that
        are not blocklisted (``totalSubscribers``) plus those that are (``totalBlacklisted``),
        which is what ``GET /contacts/lists/{listId}/contacts`` lists. ``full`` reads every
        member too. A list found missing is created again by the next push.
        """
        try:
            found = self.lists.lookup(lst.name)
            if found is None:
                return RemoteList(exists=False)
            size = found.get("uniqueSubscribers")
            remote = RemoteList(exists=True, size=size if isinstance(size, int) else None)
            if full:
                remote.members = list(self.lists.members(int(found["id"]), {}))
            return remote
        except AuthError as exc:
            raise self._named(exc) from None


def day_start_of(day: str) -> float:
    """Epoch seconds of the first instant of a ``YYYY-MM-DD`` day (UTC)."""
    return day_start(date.fromisoformat(day[:10]))
