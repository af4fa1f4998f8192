"""The ``sfmc`` connector: tracking events in, suppression sets out as a sendable data extension.

Requests follow ``ExactTargetWSDL.xml`` (SOAP: tracking objects, subscribers, data extensions,
row deletes) and Salesforce's data extension REST pages (row reads and upserts), as recorded in
``vendor-apis-mailchimp-sfmc.md`` §2; the comments name the source of each request's shape.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

import requests

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors.base import PushBatch, RemoteList, RemoteMember
from pressure_sdk.connectors.http import HttpConnector
from pressure_sdk.errors import (
    AuthError,
    ConfigError,
    InvalidValueError,
    PayloadError,
    PermanentAPIError,
    TransientAPIError,
)
from pressure_sdk.http import HttpClient, Resolution
from pressure_sdk.http import client as http_client
from pressure_sdk.http.client import json_object
from pressure_sdk.http.redaction import redact
from pressure_sdk.http.resolution import Action
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch
from pressure_sdk.validate import check_email

from . import soap
from .auth import SfmcAuth, is_auth_fault, soap_fault
from .settings import SfmcSettings

if TYPE_CHECKING:
    from pressure_sdk.testing.sandbox import Sandbox

log = logging.getLogger("pressure_connector_sfmc")

#: SF-D-LIMITS: "Maximum batch size for asynchronous API requests: 32,000 objects (hard limit)"
ASYNC_BATCH = 32_000
#: SF-D-DV and Incoming Date Normalization: the server's time is Central Standard Time, no daylight saving
SERVER_TIME = timezone(timedelta(hours=-6), "CST")
#: WSDL ``TrackingEvent``: the properties every tracking object has
EVENT_PROPERTIES = ("SendID", "SubscriberKey", "EventDate", "EventType", "BatchID", "TriggeredSendDefinitionObjectID")
#: WSDL subclasses of ``TrackingEvent``: extra properties read, and the ledger type (None: a send, a Touch)
TRACKING: dict[str, tuple[tuple[str, ...], str | None]] = {
    "SentEvent": ((), None),
    "OpenEvent": ((), "open"),
    "ClickEvent": (("URL",), "click"),
    "BounceEvent": (("BounceCategory", "SMTPCode"), "bounce"),
    "UnsubEvent": (("IsMasterUnsubscribed",), "unsubscribe"),
}
#: WSDL ``Subscriber``: what the audience reads of All Subscribers
SUBSCRIBER_PROPERTIES = ("SubscriberKey", "EmailAddress", "Status", "CreatedDate", "UnsubscribedDate")
#: WSDL ``SubscriberStatus`` → audience status (Held and Bounced are delivery states, not consent)
STATUS_OF = {"Active": "subscribed", "Unsubscribed": "unsubscribed", "Held": None, "Bounced": None}
#: the suppression data extension's columns: (Name, FieldType, MaxLength, IsPrimaryKey)
KEY_COLUMN, EMAIL_COLUMN = "SubscriberKey", "EmailAddress"
DE_FIELDS = ((KEY_COLUMN, "Text", 254, True), (EMAIL_COLUMN, "EmailAddress", 254, False))


def parse_time(value: Any, where: str) -> int:
    """Epoch seconds of an SFMC date-time; one without an offset is server time (CST, UTC−6, no DST).

    SOAP answers and data views give server time (``2026-08-18T02:01:06`` or ``…:06.47``); an
    explicit ``Z`` or offset is honoured.
    """
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{where}: expected a date-time, got {value!r}", connector="sfmc")
    text = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{where}: {value!r} is not an ISO date-time", connector="sfmc") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SERVER_TIME)
    return int(dt.timestamp())


def iso(epoch: float) -> str:
    """A watermark: the UTC date-time of ``epoch``, to the second."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_id(kind: str, *parts: Any) -> str:
    """A stable id from the fields that identify a tracking event (SFMC gives none)."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()
    return f"sfmc-{kind}-{digest[:32]}"


def as_email(value: Any) -> str | None:
    """The normalized email in ``value``, or None when it is not one the ledger takes."""
    if not isinstance(value, str) or "@" not in value:
        return None
    try:
        return check_email(value)
    except InvalidValueError:
        return None


class SfmcConnector(HttpConnector):
    """Pulls SFMC tracking events and All Subscribers; keeps suppression sets as sendable data extensions."""

    name: ClassVar[str] = "sfmc"
    settings_model: ClassVar[type[SfmcSettings]] = SfmcSettings
    max_batch: ClassVar[int] = ASYNC_BATCH
    credential_hint: ClassVar[str] = "an installed package's API integration (server-to-server)"
    #: SF-D-ERR: REST 401 (errorcode 0) means the token is missing, invalid or expired: a new one may do
    resolutions: ClassVar[dict[int, Resolution]] = {
        401: Resolution(Action.REFRESH_AUTH, "the access token expired or was refused"),
    }

    settings: SfmcSettings

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._auth: SfmcAuth | None = None
        self._token_http: HttpClient | None = None
        self._keys: dict[str, str] = {}
        self._des: dict[str, str] = {}

    # -- configuration and the clients ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The tenant's auth host (``https://{subdomain}.auth.marketingcloudapis.com``), or the account's."""
        if self.account.base_url:
            return self.account.base_url.rstrip("/")
        if self.settings.subdomain:
            return f"https://{self.settings.subdomain}.auth.marketingcloudapis.com"
        msg = (
            f"account {self.account.name!r}: set settings.subdomain to the tenant's subdomain "
            "(Setup → Installed Packages → API Integration → Authentication Base URI), or base_url"
        )
        raise ConfigError(msg)

    def credentials(self) -> tuple[str, str, str]:
        """Client id, client secret and account id (MID) from ``<credential_env>_CLIENT_ID`` and so on."""
        prefix = self.account.credential_env
        if not prefix:
            msg = (
                f"account {self.account.name!r}: set credential_env to a prefix; the connector reads "
                "<prefix>_CLIENT_ID, <prefix>_CLIENT_SECRET and <prefix>_ACCOUNT_ID"
            )
            raise AuthError(msg, connector=self.name)
        values = []
        for part in ("CLIENT_ID", "CLIENT_SECRET", "ACCOUNT_ID"):
            value = os.environ.get(f"{prefix}_{part}", "").strip()
            if not value:
                msg = (
                    f"account {self.account.name!r}: environment variable {prefix}_{part} is not set; export "
                    f"the {part.lower().replace('_', ' ')} of {self.credential_hint}"
                )
                raise AuthError(msg, connector=self.name)
            values.append(value)
        return values[0], values[1], values[2]

    def token_clock(self) -> float:
        """The clock tokens expire by (tests replace it)."""
        return time.time()

    def _http(self, auth: SfmcAuth | None) -> HttpClient:
        return HttpClient(
            self.base_url,
            connector=self.name,
            auth=auth,
            timeout=self.settings.timeout,
            retry=self.settings.retry,
            resolutions=self.resolutions if auth is not None else {},
            retry_after=self.retry_after,
            error_message=self.error_message,
        )

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            client_id, secret, account_id = self.credentials()
            self._token_http = self._http(None)
            self._auth = SfmcAuth(
                f"{self.base_url}/v2/token",
                client_id,
                secret,
                account_id,
                http=self._token_http,
                scope=self.settings.scope,
                clock=lambda: self.token_clock(),
            )
            self._client = self._http(self._auth)
        return self._client

    @property
    def auth_object(self) -> SfmcAuth:
        """The token holder (after the first call: its instance URLs, and how many tokens it fetched)."""
        _ = self.client
        assert self._auth is not None
        return self._auth

    def close(self) -> None:
        super().close()
        if self._token_http is not None:
            self._token_http.close()
            self._token_http = None
        self._auth = None

    def retry_after(self, response: requests.Response) -> float | None:
        # SF-D-429: errorcode 50100 carries Retry-After and retryAfter in the body; 50200 neither
        if response.headers.get("Retry-After"):
            return None  # the toolkit reads the header
        body = json_object(response) or {}
        hinted = body.get("retryAfter")
        return float(hinted) if isinstance(hinted, int | float) and hinted >= 0 else None

    def error_message(self, response: requests.Response) -> str | None:
        """REST ``{message, errorcode}`` (``errorCode`` in SF-OAS ``ApiError``), OAuth's ``error``, or a SOAP fault."""
        body = json_object(response)
        if body is not None:
            message = body.get("message") or body.get("error_description") or body.get("error")
            code = body.get("errorcode", body.get("errorCode"))
            if isinstance(message, str) and message:
                return f"{message} (errorcode {code})" if code is not None else message
            return None
        fault = soap_fault(response.text) if "Fault" in response.text else None
        return f"SOAP fault {fault[0]}: {fault[1]}" if fault else None

    @classmethod
    def sandbox_class(cls) -> type[Sandbox]:
        from .testing.sandbox import SfmcSandbox

        return SfmcSandbox

    def _named(self, exc: AuthError) -> AuthError:
        """The same refusal, naming the account (a workspace may hold several)."""
        if f"account {self.account.name!r}" in str(exc):
            return exc
        return AuthError(
            f"account {self.account.name!r} ({self.account.credential_env}_*): {exc}",
            connector=self.name,
            status=exc.status,
            body=exc.body,
            request_id=exc.request_id,
        )

    # -- the two APIs ----------------------------------------------------------------------------

    def _rest(self, method: str, path: str, **kw: Any) -> requests.Response:
        auth = self.auth_object
        auth.ensure()  # the REST host comes with the token
        return self.client.request(method, f"{auth.rest_url}{path}", **kw)

    def _soap(self, action: str, envelope: bytes, message: str) -> soap.Answer:
        """One SOAP call (``SOAPAction: action``) and its ``message`` element; faults become typed errors."""
        auth = self.auth_object
        auth.ensure()
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
        try:
            response = self.client.request("POST", auth.soap_url, data=envelope, headers=headers, idempotent=True)
        except TransientAPIError as exc:
            # a token the API still refuses after a fresh one was fetched: say so, not "platform error"
            if exc.status == 500 and exc.body and "Fault" in exc.body and is_auth_fault(_fake(exc.body)):
                raise AuthError(
                    f"{exc}; the SOAP API refuses the access token", connector=self.name, status=500, body=exc.body
                ) from None
            raise
        try:
            return soap.parse(response.content, message)
        except (ParseError, ValueError):
            msg = f"SOAP {action}: the answer is not a {message} envelope: {redact(response.text[:200])!r}"
            raise PayloadError(
                msg, connector=self.name, status=response.status_code, body=redact(response.text[:1000])
            ) from None

    def _retrieve(
        self,
        object_type: str,
        properties: Sequence[str],
        filter_: soap.Part | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a ``Retrieve`` (2,500 objects each), following ``MoreDataAvailable``."""
        size = self.settings.batch_size
        envelope = soap.retrieve(object_type, properties, filter_=filter_, batch_size=size)
        seen: set[str] = set()
        while True:
            answer = self._soap("Retrieve", envelope, "RetrieveResponseMsg")
            if answer.overall not in ("OK", "MoreDataAvailable"):
                msg = f"SOAP Retrieve {object_type}: {redact(answer.overall)}"
                raise PermanentAPIError(msg, connector=self.name)
            yield answer.results
            if answer.overall != "MoreDataAvailable":
                return
            rid = answer.request_id
            if not rid or rid in seen:
                msg = f"SOAP Retrieve {object_type}: MoreDataAvailable with RequestID {rid!r} missing or repeated"
                raise PayloadError(msg, connector=self.name)
            seen.add(rid)
            # RetrieveRequest.ContinueRequest: the same request's next batch
            envelope = soap.retrieve(object_type, properties, continue_id=rid, batch_size=size)

    # -- check -----------------------------------------------------------------------------------

    def check(self) -> str:
        """Get a token (proves the three secrets), then look up each list's data extension over SOAP."""
        try:
            auth = self.auth_object
            auth.ensure()
            said = [f"token granted at {self.base_url} (REST {auth.rest_url}, SOAP {auth.soap_url})"]
            for lst in self.account.lists:
                found = self._find_de(self._de_key(lst))
                state = "not there yet, the first push creates it" if found is None else "found"
                said.append(f"list {lst.name!r}: data extension {self._de_key(lst)!r} {state}")
            return "; ".join(said)
        except AuthError as exc:
            raise self._named(exc) from None

    # -- pull ------------------------------------------------------------------------------------

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Tracking events by ``EventDate`` window; the watermark moves once a window is read whole.

        A window is ``[start, end)`` in UTC, read for each tracking object in turn; the API
        gives no order within it, so the state of each page is the last window finished, and a
        run killed inside a window reads that window again (event ids make it harmless).
        """
        try:
            yield from self._pull(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        now = int(self.now())
        since = state.get("since") if state else None
        if since:
            start = parse_time(since, "the watermark") - 60 * self.settings.overlap_minutes
        else:
            start = now - 86400 * self.settings.backfill_days
        step = 3600 * self.settings.window_hours
        current = dict(state) if state else None
        while start < now:
            end = min(now, start + step)
            for object_type in self.settings.tracking:
                for page in self._events(object_type, start, end):
                    yield Batch(touches=page[0], engagements=page[1], state=current)
            current = {"since": iso(end)}
            yield Batch(state=current)
            start = end

    def _events(self, object_type: str, start: int, end: int) -> Iterator[tuple[list[Touch], list[Engagement]]]:
        extra, kind = TRACKING[object_type]
        window = soap.complex_(
            soap.simple("EventDate", "greaterThanOrEqual", dates=[start]),
            "AND",
            soap.simple("EventDate", "lessThan", dates=[end]),
        )
        for results in self._retrieve(object_type, EVENT_PROPERTIES + extra, window):
            emails = self._emails({str(r.get("SubscriberKey") or "") for r in results})
            touches: list[Touch] = []
            engagements: list[Engagement] = []
            for raw in results:
                key = str(raw.get("SubscriberKey") or "")
                email = emails.get(key)
                if email is None:
                    log.warning(
                        "sfmc: %s of subscriber %r left out: no such subscriber with an email", object_type, key
                    )
                    continue
                at = parse_time(raw.get("EventDate"), f"SOAP {object_type} EventDate")
                send, batch = raw.get("SendID") or "", raw.get("BatchID") or ""
                eid = event_id(object_type, key, send, batch, at, raw.get("URL"))
                if kind is None:
                    triggered = bool(raw.get("TriggeredSendDefinitionObjectID"))
                    family = self.settings.triggered_family if triggered else self.settings.send_family
                    touches.append(Touch(eid, email, "email", "", family, at, campaign=str(send) or None))
                else:
                    engagements.append(Engagement(eid, email, kind, at, "email"))
            yield touches, engagements

    def _emails(self, keys: set[str]) -> dict[str, str]:
        """Each subscriber key's email: the key itself when it is one, else ``Subscriber`` looked up by key."""
        unknown = []
        for key in keys:
            if key and key not in self._keys:
                email = as_email(key)
                if email is not None:
                    self._keys[key] = email
                else:
                    unknown.append(key)
        size = self.settings.lookup_size
        for i in range(0, len(unknown), size):
            chunk = sorted(unknown[i : i + size])
            found = (
                soap.simple("SubscriberKey", "IN", values=chunk)
                if len(chunk) > 1
                else soap.simple("SubscriberKey", "equals", values=chunk)
            )
            for results in self._retrieve("Subscriber", ("SubscriberKey", "EmailAddress"), found):
                for sub in results:
                    email = as_email(sub.get("EmailAddress"))
                    if email is not None:
                        self._keys[str(sub.get("SubscriberKey"))] = email
        return {k: self._keys[k] for k in keys if k in self._keys}

    # -- audience ----------------------------------------------------------------------------------

    def pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """All Subscribers (SOAP ``Subscriber``); with a watermark, those created or unsubscribed since.

        The watermark becomes the time the pass started once it is read to the end; a pass cut
        short starts again (a ``ContinueRequest`` does not outlive its run).
        """
        try:
            yield from self._pull_audience(state)
        except AuthError as exc:
            raise self._named(exc) from None

    def _pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        started = iso(self.now())
        since = state.get("watermark") if state else None
        filter_ = None
        if since:
            cut = parse_time(since, "the audience watermark") - 60 * self.settings.audience_overlap_minutes
            filter_ = soap.complex_(
                soap.simple("CreatedDate", "greaterThan", dates=[cut]),
                "OR",
                soap.simple("UnsubscribedDate", "greaterThan", dates=[cut]),
            )
        for results in self._retrieve("Subscriber", SUBSCRIBER_PROPERTIES, filter_):
            contacts = [c for c in (self._audience_row(r) for r in results) if c is not None]
            yield Batch(contacts=contacts, state=state)
        yield Batch(state={"watermark": started})

    def _audience_row(self, sub: dict[str, Any]) -> ContactUpdate | None:
        key, status = str(sub.get("SubscriberKey") or ""), str(sub.get("Status") or "")
        email = as_email(sub.get("EmailAddress"))
        if not key or email is None or status == "Deleted":
            if key and status != "Deleted":
                log.warning("sfmc: subscriber %r has no email the ledger can take; left out", key)
            return None
        self._keys[key] = email
        mapped = STATUS_OF.get(status)
        stamp = sub.get("UnsubscribedDate") if mapped == "unsubscribed" and sub.get("UnsubscribedDate") else None
        stamp = stamp or sub.get("CreatedDate")
        at = parse_time(stamp, "SOAP Subscriber date") if stamp else None
        return ContactUpdate(email, external_id=key, status=mapped, status_at=at, channel="email")

    # -- the suppression data extension ------------------------------------------------------------

    def _de_key(self, lst: ListConfig) -> str:
        return f"{self.settings.key_prefix}{lst.name}"

    def _find_de(self, key: str) -> str | None:
        """The ObjectID of the data extension whose CustomerKey is ``key``, or None (SOAP Retrieve DataExtension)."""
        found = soap.simple("CustomerKey", "equals", values=[key])
        for results in self._retrieve("DataExtension", ("ObjectID", "CustomerKey", "Name"), found):
            for de in results:
                if de.get("CustomerKey") == key:
                    self._des[key] = str(de.get("ObjectID") or key)
                    return self._des[key]
        self._des.pop(key, None)
        return None

    def _ensure_de(self, lst: ListConfig) -> str:
        """The data extension's key, created (sendable on SubscriberKey) when missing."""
        key = self._de_key(lst)
        if key in self._des or self._find_de(key) is not None:
            return key
        envelope = soap.create_data_extension(
            lst.name, key, DE_FIELDS, sendable_field=KEY_COLUMN, folder_id=self.settings.folder_id
        )
        answer = self._soap("Create", envelope, "CreateResponse")
        result = answer.results[0] if answer.results else {}
        if answer.overall != "OK" or result.get("StatusCode") != "OK":
            said = result.get("StatusMessage") or answer.overall
            msg = f"SOAP Create DataExtension {key!r}: {redact(str(said))}"
            raise PermanentAPIError(msg, connector=self.name)
        self._des[key] = str(result.get("NewObjectID") or key)
        log.info("%s: created data extension %r", self.name, key)
        return key

    @staticmethod
    def _row_key(m: Member) -> str:
        """The row's primary key: the subscriber key the audience pull learned, else the email."""
        return m.external_id or m.email

    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Upsert adds (synchronous up to 50, asynchronous by 32,000 above), delete removes by key (50 a call)."""
        try:
            yield from self._push(lst, adds, removes)
        except AuthError as exc:
            raise self._named(exc) from None

    def _push(self, lst: ListConfig, adds: Sequence[Member], removes: Sequence[Member]) -> Iterator[PushBatch]:
        key = self._ensure_de(lst)
        if 0 < len(adds) <= self.settings.sync_batch:
            yield self._upsert_sync(key, adds)
        elif adds:
            for chunk in _chunks(adds, self.settings.async_batch):
                yield self._upsert_async(key, chunk)
        for chunk in _chunks(removes, self.settings.sync_batch):
            yield self._delete(key, chunk)

    def _upsert_sync(self, key: str, chunk: Sequence[Member]) -> PushBatch:
        # SF-D-SYNC postDataExtensionRowsetByKey: [{keys: {...}, values: {...}}], an upsert by primary key
        rows = [{"keys": {KEY_COLUMN: self._row_key(m)}, "values": {EMAIL_COLUMN: m.email}} for m in chunk]
        self._rest("POST", f"/hub/v1/dataevents/key:{quote(key, safe='')}/rowset", json=rows, idempotent=True)
        return PushBatch(added=[m.contact_id for m in chunk])

    def _upsert_async(self, key: str, chunk: Sequence[Member]) -> PushBatch:
        # SF-D-ASYNC updateDataExtensionIDAsync: PUT {items: [{col: value}]} → 202 {requestId}
        items = [{KEY_COLUMN: self._row_key(m), EMAIL_COLUMN: m.email} for m in chunk]
        path = f"/data/v1/async/dataextensions/key:{quote(key, safe='')}/rows"
        body = json_object(self._rest("PUT", path, json={"items": items})) or {}
        request_id = body.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise PayloadError(f"PUT {path}: the answer has no requestId", connector=self.name)
        status = self._wait_async(request_id)
        ids = [m.contact_id for m in chunk]
        if status is None:
            log.warning("%s: upsert %s not finished; %d rows retried next run", self.name, request_id, len(chunk))
            return PushBatch(missing=ids)
        if status.get("requestStatus") != "Complete" or status.get("hasErrors"):
            said = self._async_errors(request_id, status)
            log.warning(
                "%s: upsert %s had errors (%s); %d rows retried next run", self.name, request_id, said, len(chunk)
            )
            return PushBatch(missing=ids)
        return PushBatch(added=ids)

    def _wait_async(self, request_id: str) -> dict[str, Any] | None:
        """Poll ``GET /data/v1/async/{requestId}/status`` until it is no longer Pending; None if it stays so."""
        for attempt in range(self.settings.async_max_polls):
            http_client.sleep(self.settings.async_poll_interval * (1 if attempt < 3 else 2))
            body = json_object(self._rest("GET", f"/data/v1/async/{quote(request_id, safe='')}/status")) or {}
            status = body.get("status")
            if not isinstance(status, dict):
                msg = f"GET /data/v1/async/{request_id}/status: the answer has no status object"
                raise PayloadError(msg, connector=self.name)
            if status.get("requestStatus") != "Pending":
                return status
        return None

    def _async_errors(self, request_id: str, status: dict[str, Any]) -> str:
        """The first messages of ``GET /data/v1/async/{requestId}/results`` (or the status's own)."""
        messages = [str(m) for m in status.get("resultMessages") or []]
        if status.get("requestStatus") == "Complete":
            body = json_object(self._rest("GET", f"/data/v1/async/{quote(request_id, safe='')}/results")) or {}
            messages += [
                f"{i.get('errorCode')}: {i.get('message')}" for i in body.get("items") or [] if isinstance(i, dict)
            ]
        return redact("; ".join(messages[:3])) or str(status.get("requestStatus"))

    def _delete(self, key: str, chunk: Sequence[Member]) -> PushBatch:
        # WSDL DeleteRequest of DataExtensionObject{CustomerKey, Keys}: one result per object, by OrdinalID
        answer = self._soap(
            "Delete", soap.delete_rows(key, KEY_COLUMN, [self._row_key(m) for m in chunk]), "DeleteResponse"
        )
        done: set[int] = set()
        for position, result in enumerate(answer.results):
            ordinal = result.get("OrdinalID")
            index = int(ordinal) if isinstance(ordinal, str) and ordinal.isdigit() else position
            if result.get("StatusCode") == "OK" and 0 <= index < len(chunk):
                done.add(index)
            else:
                log.warning(
                    "%s: delete of row %s refused: %s", self.name, index, redact(str(result.get("StatusMessage")))
                )
        return PushBatch(removed=[m.contact_id for i, m in enumerate(chunk) if i in done])

    # -- inspection -------------------------------------------------------------------------------

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The data extension as SFMC holds it: found by key over SOAP, counted and read by rowset pages."""
        try:
            key = self._de_key(lst)
            if self._find_de(key) is None:
                return RemoteList(exists=False)
            if not full:
                page = self._rowset(key, 1, 1)
                return RemoteList(exists=True, size=_count(page, key))
            members: list[RemoteMember] = []
            size, number = self.settings.rowset_page_size, 1
            while True:
                page = self._rowset(key, number, size)
                count, items = _count(page, key), page.get("items") or []
                for item in items:
                    keys, values = item.get("keys") or {}, item.get("values") or {}
                    email = as_email(values.get(EMAIL_COLUMN.lower()))
                    members.append(RemoteMember(email, str(keys.get(KEY_COLUMN.lower()) or "") or None))
                per_page = int(page.get("pageSize") or size)  # the page size the API applied, not the asked one
                if not items or number * per_page >= count:
                    return RemoteList(exists=True, size=count, members=members)
                number += 1
        except AuthError as exc:
            raise self._named(exc) from None

    def _rowset(self, key: str, page: int, size: int) -> dict[str, Any]:
        # vendor-apis-mailchimp-sfmc §2.2: GET /data/v1/customobjectdata/key/{key}/rowset, $page from 1
        path = f"/data/v1/customobjectdata/key/{quote(key, safe='')}/rowset"
        body = json_object(self._rest("GET", path, params={"$page": page, "$pageSize": size}))
        if body is None:
            raise PayloadError(f"GET {path}: the answer is not a JSON object", connector=self.name)
        return body


def _count(page: dict[str, Any], key: str) -> int:
    count = page.get("count")
    if not isinstance(count, int):
        raise PayloadError(f"rowset of {key!r}: the answer has no count", connector="sfmc")
    return count


def _fake(body: str) -> requests.Response:
    """A response holding ``body`` with status 500, to classify a fault kept in an error's body."""
    response = requests.Response()
    response.status_code = 500
    response._content = body.encode()
    return response


def _chunks(items: Sequence[Member], size: int) -> Iterable[Sequence[Member]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
