"""The ``sfmc`` connector: tracking events in, suppression sets out as a sendable data extension.

Requests follow ``ExactTargetWSDL.xml`` (SOAP: tracking objects, subscribers, data extensions,
row deletes) and Salesforce's data extension REST pages (row reads and upserts), as recorded in
``vendor-apis-mailchimp-sfmc.md`` §2; the comments name the source of each request's shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

import requests
from pydantic import SecretStr

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors import (
    Credentials,
    HttpStream,
    IncrementalCursor,
    ListSink,
    PushBatch,
    RemoteList,
    RemoteMember,
    Targets,
    Window,
    contact_ids,
    env_field,
    pull_windows,
    stable_id,
)
from pressure_sdk.connectors.http import HttpConnector
from pressure_sdk.errors import (
    AuthError,
    ConfigError,
    InvalidValueError,
    PayloadError,
    PermanentAPIError,
    TransientAPIError,
)
from pressure_sdk.http import Auth, HttpClient, Resolution
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
    return stable_id(kind, *parts, prefix="sfmc-")


def as_email(value: Any) -> str | None:
    """The normalized email in ``value``, or None when it is not one the ledger takes."""
    if not isinstance(value, str) or "@" not in value:
        return None
    try:
        return check_email(value)
    except InvalidValueError:
        return None


class SfmcCredentials(Credentials):
    """An installed package's API integration: ``<credential_env>_CLIENT_ID``, ``_CLIENT_SECRET``, ``_ACCOUNT_ID``."""

    client_id: SecretStr = env_field("CLIENT_ID", "the installed package's client id")
    client_secret: SecretStr = env_field("CLIENT_SECRET", "the installed package's client secret")
    account_id: SecretStr = env_field("ACCOUNT_ID", "the business unit's MID (account id)")


# -- pull: the SOAP tracking objects, declared as streams ------------------------------------------


class TrackingStream(HttpStream):
    """One SOAP tracking object read over an ``EventDate`` window (``[start, end)``, UTC).

    The API gives no order within a window and its ``ContinueRequest`` ids do not outlive a
    run, so a stream is not resumable: a run killed inside a window reads it again (the event
    ids make that harmless).
    """

    path: ClassVar[str] = "Service.asmx"
    method: ClassVar[str] = "POST"
    #: the WSDL object (a subclass of ``TrackingEvent``)
    object_type: ClassVar[str]
    #: properties read besides ``TrackingEvent``'s
    extra: ClassVar[tuple[str, ...]] = ()
    #: the ledger engagement type; None for a send (a Touch)
    kind: ClassVar[str | None] = None

    connector: SfmcConnector

    def pages(
        self,
        window: Window | None = None,
        parent: Mapping[str, Any] | None = None,
        resume: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[list[Mapping[str, Any]], dict[str, Any] | None]]:
        assert window is not None
        between = soap.complex_(
            soap.simple("EventDate", "greaterThanOrEqual", dates=[window.start]),
            "AND",
            soap.simple("EventDate", "lessThan", dates=[window.end]),
        )
        for results in self.connector.retrieve(self.object_type, EVENT_PROPERTIES + self.extra, between):
            emails = self.connector.emails({str(r.get("SubscriberKey") or "") for r in results})
            yield [{**r, "@email": emails.get(str(r.get("SubscriberKey") or ""))} for r in results], None

    def parse(self, record: Mapping[str, Any], parent: Mapping[str, Any] | None) -> Touch | Engagement | None:
        key, email = str(record.get("SubscriberKey") or ""), record.get("@email")
        if not isinstance(email, str):
            log.warning("sfmc: %s of subscriber %r left out: no such subscriber with an email", self.object_type, key)
            return None
        at = parse_time(record.get("EventDate"), f"SOAP {self.object_type} EventDate")
        send, batch = record.get("SendID") or "", record.get("BatchID") or ""
        eid = event_id(self.object_type, key, send, batch, at, record.get("URL"))
        if self.kind is not None:
            return Engagement(eid, email, self.kind, at, "email")
        settings = self.connector.settings
        family = settings.triggered_family if record.get("TriggeredSendDefinitionObjectID") else settings.send_family
        return Touch(eid, email, "email", "", family, at, campaign=str(send) or None)


class Sends(TrackingStream):
    object_type = "SentEvent"


class Opens(TrackingStream):
    object_type, kind = "OpenEvent", "open"


class Clicks(TrackingStream):
    object_type, kind, extra = "ClickEvent", "click", ("URL",)


class Bounces(TrackingStream):
    object_type, kind, extra = "BounceEvent", "bounce", ("BounceCategory", "SMTPCode")


class Unsubscribes(TrackingStream):
    object_type, kind, extra = "UnsubEvent", "unsubscribe", ("IsMasterUnsubscribed",)


STREAMS: dict[str, type[TrackingStream]] = {s.object_type: s for s in (Sends, Opens, Clicks, Bounces, Unsubscribes)}


# -- push: the suppression set as a sendable data extension ----------------------------------------


class SuppressionDataExtension(ListSink[str]):
    """A list is the data extension whose CustomerKey is ``key_prefix`` + the list name.

    Adds are upserts by primary key: one synchronous rowset call when the whole push fits
    (50 rows), otherwise asynchronous calls of up to 32,000 rows, each polled to its end.
    Removes are SOAP deletes by primary key, 50 rows a call (no REST row delete exists).
    """

    connector: SfmcConnector

    def __init__(self, connector: SfmcConnector) -> None:
        super().__init__(connector)
        self.batch_size = connector.settings.async_batch
        self.remove_batch_size = connector.settings.sync_batch

    def key(self, member: Member) -> str | None:
        """The row's primary key: the subscriber key the audience pull learned, else the email."""
        return member.external_id or member.email

    def find(self, name: str) -> str | None:
        return self.connector.find_data_extension(self.connector.de_key(name))

    def create(self, name: str) -> str:
        return self.connector.create_data_extension(name)

    def add(self, handle: str, targets: Targets) -> PushBatch:
        if len(targets) <= self.connector.settings.sync_batch:
            return self.connector.upsert_sync(handle, targets)
        return self.connector.upsert_async(handle, targets)

    def remove(self, handle: str, targets: Targets) -> PushBatch:
        return self.connector.delete_rows(handle, targets)


# -- the connector ------------------------------------------------------------------------------------


class SfmcConnector(HttpConnector):
    """Pulls SFMC tracking events and All Subscribers; keeps suppression sets as sendable data extensions."""

    name: ClassVar[str] = "sfmc"
    settings_model: ClassVar[type[SfmcSettings]] = SfmcSettings
    max_batch: ClassVar[int] = ASYNC_BATCH
    credential_hint: ClassVar[str] = "an installed package's API integration (server-to-server)"
    credentials_model: ClassVar[type[Credentials]] = SfmcCredentials
    sink_class: ClassVar[type[ListSink[Any]]] = SuppressionDataExtension
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

    # -- configuration and auth ------------------------------------------------------------------

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

    def token_clock(self) -> float:
        """The clock tokens expire by (tests replace it)."""
        return time.time()

    def authenticate(self, credentials: Credentials) -> Auth:
        assert isinstance(credentials, SfmcCredentials)
        # the token call has its own client, without auth, under the same retry policy
        self._token_http = HttpClient(
            self.base_url,
            connector=self.name,
            timeout=self.settings.timeout,
            retry=self.settings.retry,
            retry_after=self.retry_after,
            error_message=self.error_message,
        )
        self._auth = SfmcAuth(
            f"{self.base_url}/v2/token",
            credentials.secret("client_id"),
            credentials.secret("client_secret"),
            credentials.secret("account_id"),
            http=self._token_http,
            scope=self.settings.scope,
            clock=lambda: self.token_clock(),
            hint=self.auth_hint() or "the client id, secret and account id (MID)",
        )
        return self._auth

    def after_auth(self, auth: Auth) -> str | None:
        # the REST host arrives with the token (rest_instance_url); SOAP calls use soap_instance_url
        assert isinstance(auth, SfmcAuth)
        auth.ensure()
        return auth.rest_url

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

    # -- SOAP ------------------------------------------------------------------------------------

    def soap_call(self, action: str, envelope: bytes, message: str) -> soap.Answer:
        """One SOAP call (``SOAPAction: action``) and its ``message`` element; faults become typed errors."""
        auth = self.auth_object
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
        try:
            response = self.client.request("POST", auth.soap_url, data=envelope, headers=headers, idempotent=True)
        except TransientAPIError as exc:
            # a token the API still refuses after a fresh one was fetched: say so, not "platform error"
            if exc.status == 500 and exc.body and is_auth_fault(_fake(exc.body)):
                msg = f"{exc}; the SOAP API refuses the access token"
                raise AuthError(msg, connector=self.name, status=500, body=exc.body) from None
            raise
        try:
            return soap.parse(response.content, message)
        except (ParseError, ValueError):
            msg = f"SOAP {action}: the answer is not a {message} envelope: {redact(response.text[:200])!r}"
            raise PayloadError(
                msg, connector=self.name, status=response.status_code, body=redact(response.text[:1000])
            ) from None

    def retrieve(
        self, object_type: str, properties: Sequence[str], filter_: soap.Part | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a ``Retrieve`` (2,500 objects each), following ``MoreDataAvailable``."""
        size = self.settings.batch_size
        envelope = soap.retrieve(object_type, properties, filter_=filter_, batch_size=size)
        seen: set[str] = set()
        while True:
            answer = self.soap_call("Retrieve", envelope, "RetrieveResponseMsg")
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
            said = [f"token granted at {self.base_url} (REST {auth.rest_url}, SOAP {auth.soap_url})"]
            for lst in self.account.lists:
                key = self.de_key(lst.name)
                found = self.find_data_extension(key)
                state = "not there yet, the first push creates it" if found is None else "found"
                said.append(f"list {lst.name!r}: data extension {key!r} {state}")
            return "; ".join(said)
        except AuthError as exc:
            raise self._named(exc) from None

    # -- pull ------------------------------------------------------------------------------------

    def cursor(self) -> IncrementalCursor:
        """``EventDate`` windows: ``window_hours`` wide, doubled (up to 31 days) after windows read in one page."""
        s = self.settings
        step = 3600.0 * s.window_hours
        return IncrementalCursor(
            backfill=86400.0 * s.backfill_days,
            overlap=60.0 * s.overlap_minutes,
            step=step,
            max_step=max(step, 31 * 86400.0),
            fmt="iso",
        )

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """The tracking objects of ``settings.tracking``, window by window (see :class:`TrackingStream`)."""
        try:
            streams = [STREAMS[name](self) for name in self.settings.tracking]
            yield from pull_windows(self.cursor(), streams, state, now=self.now())
        except AuthError as exc:
            raise self._named(exc) from None

    def emails(self, keys: set[str]) -> dict[str, str]:
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
            operator = "IN" if len(chunk) > 1 else "equals"
            for results in self.retrieve(
                "Subscriber", ("SubscriberKey", "EmailAddress"), soap.simple("SubscriberKey", operator, values=chunk)
            ):
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
        for results in self.retrieve("Subscriber", SUBSCRIBER_PROPERTIES, filter_):
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

    def de_key(self, list_name: str) -> str:
        """The CustomerKey of a list's data extension."""
        return f"{self.settings.key_prefix}{list_name}"

    def find_data_extension(self, key: str) -> str | None:
        """``key`` if a data extension has that CustomerKey, else None (SOAP Retrieve DataExtension)."""
        found = soap.simple("CustomerKey", "equals", values=[key])
        for results in self.retrieve("DataExtension", ("ObjectID", "CustomerKey", "Name"), found):
            if any(de.get("CustomerKey") == key for de in results):
                return key
        return None

    def create_data_extension(self, list_name: str) -> str:
        """Create the list's data extension, sendable on SubscriberKey (SOAP Create DataExtension)."""
        key = self.de_key(list_name)
        envelope = soap.create_data_extension(
            list_name, key, DE_FIELDS, sendable_field=KEY_COLUMN, folder_id=self.settings.folder_id
        )
        answer = self.soap_call("Create", envelope, "CreateResponse")
        result = answer.results[0] if answer.results else {}
        if answer.overall != "OK" or result.get("StatusCode") != "OK":
            said = result.get("StatusMessage") or answer.overall
            msg = f"SOAP Create DataExtension {key!r}: {redact(str(said))}"
            raise PermanentAPIError(msg, connector=self.name)
        log.info("%s: created data extension %r", self.name, key)
        return key

    def upsert_sync(self, key: str, targets: Targets) -> PushBatch:
        # SF-D-SYNC postDataExtensionRowsetByKey: [{keys: {...}, values: {...}}], an upsert by primary key
        rows = [{"keys": {KEY_COLUMN: k}, "values": {EMAIL_COLUMN: ms[0].email}} for k, ms in targets.items()]
        self.client.request("POST", f"/hub/v1/dataevents/key:{quote(key, safe='')}/rowset", json=rows, idempotent=True)
        return PushBatch(added=contact_ids(targets))

    def upsert_async(self, key: str, targets: Targets) -> PushBatch:
        # SF-D-ASYNC updateDataExtensionIDAsync: PUT {items: [{col: value}]} → 202 {requestId}
        items = [{KEY_COLUMN: k, EMAIL_COLUMN: ms[0].email} for k, ms in targets.items()]
        path = f"/data/v1/async/dataextensions/key:{quote(key, safe='')}/rows"
        body = json_object(self.client.request("PUT", path, json={"items": items})) or {}
        request_id = body.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise PayloadError(f"PUT {path}: the answer has no requestId", connector=self.name)
        status = self._wait_async(request_id)
        ids = contact_ids(targets)
        if status is None:
            log.warning("%s: upsert %s not finished; %d rows retried next run", self.name, request_id, len(items))
            return PushBatch(missing=ids)
        if status.get("requestStatus") != "Complete" or status.get("hasErrors"):
            said = self._async_errors(request_id, status)
            log.warning("%s: upsert %s failed (%s); %d rows retried next run", self.name, request_id, said, len(items))
            return PushBatch(missing=ids)
        return PushBatch(added=ids)

    def _wait_async(self, request_id: str) -> dict[str, Any] | None:
        """Poll ``GET /data/v1/async/{requestId}/status`` until it is no longer Pending; None if it stays so."""
        for attempt in range(self.settings.async_max_polls):
            http_client.sleep(self.settings.async_poll_interval * (1 if attempt < 3 else 2))
            body = self.client.json("GET", f"/data/v1/async/{quote(request_id, safe='')}/status") or {}
            status = body.get("status") if isinstance(body, dict) else None
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
            body = self.client.json("GET", f"/data/v1/async/{quote(request_id, safe='')}/results") or {}
            items = body.get("items") if isinstance(body, dict) else None
            messages += [f"{i.get('errorCode')}: {i.get('message')}" for i in items or [] if isinstance(i, dict)]
        return redact("; ".join(messages[:3])) or str(status.get("requestStatus"))

    def delete_rows(self, key: str, targets: Targets) -> PushBatch:
        # WSDL DeleteRequest of DataExtensionObject{CustomerKey, Keys}: one result per object, by OrdinalID
        keys = list(targets)
        answer = self.soap_call("Delete", soap.delete_rows(key, KEY_COLUMN, keys), "DeleteResponse")
        done: set[str] = set()
        for position, result in enumerate(answer.results):
            ordinal = result.get("OrdinalID")
            index = int(ordinal) if isinstance(ordinal, str) and ordinal.isdigit() else position
            if result.get("StatusCode") == "OK" and 0 <= index < len(keys):
                done.add(keys[index])
            else:
                said = redact(str(result.get("StatusMessage")))
                log.warning("%s: delete of row %s refused: %s", self.name, index, said)
        return PushBatch(removed=contact_ids(targets, done))

    # -- inspection -------------------------------------------------------------------------------

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The data extension as SFMC holds it: found by key over SOAP, counted and read by rowset pages."""
        try:
            key = self.de_key(lst.name)
            found = self.find_data_extension(key)
            self.sink.remember(lst.name, found)
            if found is None:
                return RemoteList(exists=False)
            if not full:
                return RemoteList(exists=True, size=_count(self._rowset(key, 1, 1), key))
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
        body = self.client.json("GET", path, params={"$page": page, "$pageSize": size})
        if not isinstance(body, dict):
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
