"""A stateful local Salesforce Marketing Cloud: one auth host, the REST data extension API and SOAP.

Served on one port, as three hosts would be: ``POST /v2/token`` (the tenant's auth host) answers
with ``rest_instance_url`` ``{url}/rest/`` and ``soap_instance_url`` ``{url}/soap/``; a client that
takes its hosts from the token answer, as Salesforce says to, needs nothing else.

What it models, and from which source (``vendor-apis-mailchimp-sfmc.md`` §2 tags):

* tokens: client credentials in a JSON body (``account_id`` is the MID); a token lives
  ``token_ttl`` seconds (20 minutes) and ``expires_in`` says a little less (1079 in the observed
  answer); an expired token gets REST 401 ``errorcode 0`` and, over SOAP, a fault;
* SOAP (``ExactTargetWSDL.xml``): ``Retrieve`` of the tracking objects, ``Subscriber``,
  ``DataExtension`` and ``DataExtensionObject[name]`` with simple and complex filters, 2,500
  objects a batch and ``ContinueRequest``; ``Create`` of a ``DataExtension``; ``Delete`` of
  ``DataExtensionObject`` rows by primary key. Dates are answered in server time (CST, no
  daylight saving), and dates without an offset in a request are read as server time;
* REST: the rowset read (2,500 rows a page at most, names lowercased, values as strings in US
  format), the synchronous rowset upsert, the asynchronous upsert and insert with their status
  and results, and the error body ``{message, errorcode, documentation}``;
* limits: synchronous calls over 50 objects are counted in ``oversized`` (a soft limit);
  asynchronous calls over 32,000 are refused (a hard limit); REST answers 429 ``errorcode 50100``
  with ``Retry-After`` once its budget is spent, SOAP answers HTTP 500 faults (SF-D-RL).

Complaints exist here as in the ``_Complaint`` data view, and each also unsubscribes its
subscriber (an ``UnsubEvent``), as SFMC does; the SOAP API has no complaint object.
"""

from __future__ import annotations

import math
import secrets
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from pressure_sdk.testing.exports import read_export
from pressure_sdk.testing.sandbox import BadRequest, Reply, Sandbox, SandboxRequest, route

API = "http://exacttarget.com/wsdl/partnerAPI"
_API = f"{{{API}}}"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{XSI}}}type"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SERVER_TIME = timezone(timedelta(hours=-6))
DOCS = "https://developer.salesforce.com/docs/marketing/marketing-cloud/guide/error-handling.html"
#: REST ``errorcode`` per status (SF-D-ERR)
REST_CODES = {400: 10000, 401: 0, 403: 20000, 404: 10000, 405: 10000, 415: 0}
SYNC_LIMIT = 50
ASYNC_LIMIT = 32_000
MAX_BATCH = 2500
#: budgets no test meets unless it sets its own
GENEROUS_LIMITS: dict[str, tuple[int, float]] = {"rest": (1_000_000, 60.0), "soap": (1_000_000, 60.0)}

_TRACKING = ("SendID", "SubscriberKey", "EventDate", "EventType", "TriggeredSendDefinitionObjectID", "BatchID")
_BASE = ("Client.ID", "PartnerKey", "CreatedDate", "ModifiedDate", "ID", "ObjectID", "CustomerKey")
#: retrievable properties per object type, in the WSDL's order
PROPERTIES: dict[str, tuple[str, ...]] = {
    "SentEvent": _BASE + _TRACKING,
    "OpenEvent": _BASE + _TRACKING,
    "ClickEvent": (*_BASE, *_TRACKING, "URLID", "URL", "URLIDLong"),
    "BounceEvent": (*_BASE, *_TRACKING, "SMTPCode", "BounceCategory", "SMTPReason", "BounceType"),
    "UnsubEvent": (*_BASE, *_TRACKING, "IsMasterUnsubscribed"),
    "Subscriber": (*_BASE, "EmailAddress", "SubscriberKey", "UnsubscribedDate", "Status", "EmailTypePreference"),
    "DataExtension": (*_BASE, "Name", "Description", "IsSendable", "IsTestable", "CategoryID", "Status"),
}
DATE_PROPERTIES = frozenset({"EventDate", "CreatedDate", "ModifiedDate", "UnsubscribedDate"})
EVENT_TYPE = {"SentEvent": "Sent", "OpenEvent": "Open", "ClickEvent": "Click", "UnsubEvent": "Unsubscribe"}


def server_time(epoch: float) -> str:
    """How SFMC writes a date in an answer: server time, no offset."""
    return datetime.fromtimestamp(epoch, SERVER_TIME).strftime("%Y-%m-%dT%H:%M:%S")


def us_date(epoch: float) -> str:
    """How the rowset read writes a date: ``6/23/2024 12:00:00 AM`` (server time)."""
    dt = datetime.fromtimestamp(epoch, SERVER_TIME)
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {'AM' if dt.hour < 12 else 'PM'}"


def read_date(text: str) -> float:
    """A request's date: ``Z`` or an offset honoured, none read as server time (Incoming Date Normalization)."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SERVER_TIME)
    return dt.timestamp()


class SoapError(Exception):
    """Answered as a SOAP fault (HTTP 500)."""

    def __init__(self, message: str, code: str = "soap:Client") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Column:
    name: str
    type: str
    primary: bool
    length: int | None = None


@dataclass
class DataExtension:
    key: str
    name: str
    object_id: str
    columns: list[Column]
    sendable: bool = False
    category: int | None = None
    #: primary key (lower case) → row (column name as declared → value)
    rows: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    def pk(self, values: dict[str, Any]) -> tuple[str, ...]:
        lowered = {k.lower(): v for k, v in values.items()}
        missing = [c.name for c in self.columns if c.primary and lowered.get(c.name.lower()) in (None, "")]
        if missing:
            raise ValueError(f"the primary key column(s) {', '.join(missing)} are missing")
        return tuple(str(lowered[c.name.lower()]).lower() for c in self.columns if c.primary)

    def upsert(self, values: dict[str, Any], *, insert_only: bool = False) -> None:
        row: dict[str, Any] = {}
        for name, value in values.items():
            col = self.column(name)
            if col is None:
                raise ValueError(f"the column {name} does not exist in the data extension {self.key}")
            text = "" if value is None else str(value)
            if col.type == "EmailAddress" and text and ("@" not in text or " " in text.strip()):
                raise ValueError(f"{text!r} is not a valid email address for {col.name}")
            if col.length and len(text) > col.length:
                raise ValueError(f"the value of {col.name} is longer than {col.length}")
            row[col.name] = text
        pk = self.pk(row)
        if insert_only and pk in self.rows:
            msg = f"Violation of PRIMARY KEY constraint. The duplicate key value is ({', '.join(pk)})."
            raise ValueError(msg)
        self.rows[pk] = {**self.rows.get(pk, {}), **row}


@dataclass
class AsyncRequest:
    id: str
    key: str
    items: list[Any]
    insert_only: bool
    called: float
    polls: int = 0
    done: float | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


class SfmcSandbox(Sandbox):
    """SFMC on localhost; ``limits`` maps a bucket (rest, soap) to ``(requests, seconds)``."""

    platform: ClassVar[str] = "sfmc"
    prefix: ClassVar[str] = ""
    demo_brand: ClassVar[str] = "maison-outlet"
    # vendor-apis §3.4 [3P]: support has suggested at most 2,500 REST and 2,000 SOAP calls a minute
    default_limits: ClassVar[dict[str, tuple[int, float]]] = {"rest": (2500, 60.0), "soap": (2000, 60.0)}

    def __init__(
        self,
        *,
        async_polls: int = 2,
        token_ttl: float = 1200.0,
        client_id: str = "pressure-sandbox-client",
        account_id: str = "100000001",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.client_id = client_id
        self.client_secret = secrets.token_urlsafe(24)
        self.account_id = account_id
        self.token_ttl = token_ttl
        #: status polls an asynchronous request answers Pending before it is done
        self.async_polls = async_polls
        self.tokens: dict[str, float] = {}
        #: token requests received (SF-D-LIMITS: a soft limit of one per 20 minutes per machine)
        self.token_requests = 0
        #: synchronous calls that carried more than 50 objects (a soft limit)
        self.oversized = 0
        self.subscribers: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        #: complaints as the ``_Complaint`` data view holds them (no SOAP object reads them)
        self.complaints: list[dict[str, Any]] = []
        self.des: dict[str, DataExtension] = {}
        self.async_requests: dict[str, AsyncRequest] = {}
        self.continuations: dict[str, tuple[str, list[str], list[dict[str, Any]], int]] = {}
        self.row_tokens: dict[str, str] = {}
        self._sends: dict[str, dict[str, Any]] = {}
        self._local = threading.local()
        self._n = 0

    # -- Sandbox hooks ----------------------------------------------------------------------------

    @property
    def credential(self) -> str:
        """The client secret (the client id and account id are :attr:`client_id` and :attr:`account_id`)."""
        return self.client_secret

    def use_credential(self, value: str) -> None:
        self.client_secret = value

    def env(self, prefix: str) -> dict[str, str]:
        """The three variables a workspace's ``credential_env = prefix`` names, with their values."""
        return {
            f"{prefix}_CLIENT_ID": self.client_id,
            f"{prefix}_CLIENT_SECRET": self.client_secret,
            f"{prefix}_ACCOUNT_ID": self.account_id,
        }

    def handle(self, request: SandboxRequest) -> tuple[Reply, Any]:
        self._local.path = request.path
        return super().handle(request)

    def _where(self) -> str:
        path = getattr(self._local, "path", "")
        if path.startswith("/soap"):
            return "soap"
        if path.startswith("/v2/token"):
            return "auth"
        return "rest"

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        where = self._where()
        if where == "auth":
            return Reply(status, {"error": code or "invalid_request", "error_description": message, "error_uri": DOCS})
        if where == "soap":
            if status in (401, 500):
                fault = "Login Failed" if status == 401 else message
                return self._fault(fault, "soap:Client" if status == 401 else "soap:Server")
            return Reply(status, f"<html><body>{escape(message)}</body></html>", {"Content-Type": "text/html"})
        errorcode = int(code) if code and code.isdigit() else REST_CODES.get(status, 10000)
        return Reply(status, {"message": message, "errorcode": errorcode, "documentation": DOCS})

    def bucket(self, path: str) -> str:
        if path.startswith("/soap"):
            return "soap"
        return "auth" if path.startswith("/v2/token") else "rest"

    def rate_limited(self, bucket: str, reset: float) -> Reply:
        if bucket == "soap":  # SF-D-RL: "API requests produce HTTP 500 error messages until the issue is resolved"
            return self._fault("Server is busy: too many requests, try again later", "soap:Server")
        wait = max(1, math.ceil(reset))
        body = {"message": "Rate limit exceeded", "errorcode": 50100, "retryAfter": wait, "documentation": DOCS}
        return Reply(429, body, {"Retry-After": str(wait)})

    def authenticate(self, request: SandboxRequest) -> Reply | None:
        if request.path.startswith("/v2/token"):
            return None  # the route checks the client credentials
        if request.path.startswith("/soap"):
            try:
                token = _header_token(request.body)
            except SoapError as exc:
                return self._fault(str(exc))
            if token not in self.tokens:
                return self._fault("Login Failed", "q0:Security")
            if self.tokens[token] <= self.clock():
                return self._fault("Token Expired", "q0:Security")
            return None
        header = request.headers.get("Authorization") or ""
        token = header[7:] if header.startswith("Bearer ") else ""
        if token not in self.tokens or self.tokens[token] <= self.clock():
            return Reply(401, {"message": "Not Authorized", "errorcode": 0, "documentation": DOCS})
        return None

    # -- test helpers -----------------------------------------------------------------------------

    def _id(self) -> int:
        self._n += 1
        return self._n

    def add_subscriber(
        self, email: str, *, key: str | None = None, at: float | None = None, status: str = "Active"
    ) -> str:
        """A subscriber in All Subscribers (found by email, or created); returns its subscriber key."""
        email = email.strip().lower()
        with self.lock:
            for sub in self.subscribers.values():
                if sub["EmailAddress"] == email and key in (None, sub["SubscriberKey"]):
                    return str(sub["SubscriberKey"])
            n = self._id()
            key = key or f"SK{n:08d}"
            when = self.clock() if at is None else at
            self.subscribers[key] = {
                "ID": n,
                "SubscriberKey": key,
                "EmailAddress": email,
                "Status": status,
                "CreatedDate": when,
                "UnsubscribedDate": when if status == "Unsubscribed" else None,
                "EmailTypePreference": "HTML",
            }
            return key

    def unsubscribe(self, key: str, at: float) -> None:
        with self.lock:
            sub = self.subscribers[key]
            sub["Status"], sub["UnsubscribedDate"] = "Unsubscribed", at

    def send(self, name: str, *, triggered: bool = False) -> int:
        """The SendID (JobID) of the send called ``name``, created on first use."""
        with self.lock:
            if name not in self._sends:
                self._sends[name] = {"id": 90000 + self._id(), "ts": str(uuid.uuid4()) if triggered else None}
            return int(self._sends[name]["id"])

    def add_event(
        self,
        kind: str,
        email: str,
        at: float,
        *,
        send: str = "newsletter",
        triggered: bool = False,
        url: str | None = None,
        batch: int = 1,
        key: str | None = None,
    ) -> str:
        """A tracking event: ``kind`` is sent, open, click, bounce, unsubscribe or complaint; returns the key."""
        key = key or self.add_subscriber(email, at=min(at, self.clock()))
        send_id = self.send(send, triggered=triggered)
        with self.lock:
            base = {
                "SendID": send_id,
                "SubscriberKey": key,
                "EventDate": at,
                "BatchID": batch,
                "TriggeredSendDefinitionObjectID": self._sends[send]["ts"],
                "ID": self._id(),
            }
            if kind == "complaint":  # the _Complaint view, and the automatic unsubscribe it causes
                self.complaints.append(base)
                kind = "unsubscribe"
            if kind == "sent":
                self.events.append({**base, "@type": "SentEvent", "EventType": "Sent"})
            elif kind == "open":
                self.events.append({**base, "@type": "OpenEvent", "EventType": "Open"})
            elif kind == "click":
                link = url or "https://example.com/"
                self.events.append({**base, "@type": "ClickEvent", "EventType": "Click", "URL": link, "URLID": 1})
            elif kind == "bounce":
                extra = {"BounceCategory": "Hard bounce", "BounceType": "immediate", "SMTPCode": "550"}
                self.events.append({**base, "@type": "BounceEvent", "EventType": "HardBounce", **extra})
            elif kind == "unsubscribe":
                self.events.append(
                    {**base, "@type": "UnsubEvent", "EventType": "Unsubscribe", "IsMasterUnsubscribed": "false"}
                )
                self.unsubscribe(key, at)
            else:
                raise ValueError(f"unknown event kind {kind!r}")
        return key

    def add_data_extension(self, name: str, key: str | None = None, *, sendable: bool = True) -> DataExtension:
        """A data extension shaped like a suppression set: SubscriberKey (primary key) and EmailAddress."""
        with self.lock:
            de = DataExtension(
                key or name,
                name,
                str(uuid.uuid4()),
                [Column("SubscriberKey", "Text", True, 254), Column("EmailAddress", "EmailAddress", False, 254)],
                sendable,
            )
            self.des[de.key] = de
            return de

    def rows(self, key: str) -> list[dict[str, Any]]:
        """The rows of the data extension ``key`` (empty if it does not exist)."""
        with self.lock:
            de = self.des.get(key)
            return [dict(r) for r in de.rows.values()] if de else []

    def emails(self, key: str) -> set[str]:
        """The EmailAddress values of the data extension ``key``, lower case."""
        return {str(r.get("EmailAddress", "")).lower() for r in self.rows(key)}

    def edit_rows(self, key: str, *, add: tuple[tuple[str, str], ...] = (), remove: tuple[str, ...] = ()) -> None:
        """Change rows by hand, as in Contact Builder: ``add`` (subscriber key, email), ``remove`` keys."""
        with self.lock:
            de = self.des[key]
            for sk, email in add:
                de.upsert({"SubscriberKey": sk, "EmailAddress": email})
            for sk in remove:
                de.rows.pop((sk.lower(),), None)

    def delete_data_extension(self, key: str) -> None:
        with self.lock:
            del self.des[key]

    # -- seeding ------------------------------------------------------------------------------------

    def load_exports(self, folder: Path) -> None:
        """Seed from the files connector's exports, deterministically.

        Contacts become subscribers; email touches become ``SentEvent`` rows of one send per
        campaign (triggered for transactional, service, care and trigger families); email
        engagements (open, click, bounce, unsubscribe, complaint) attach to the contact's latest
        send at or before them. Other channels and engagement types have no SFMC tracking object.
        """
        for row in read_export(folder, "contacts"):
            self.add_subscriber(row["email"], at=0)
        last: dict[str, list[tuple[float, str, bool]]] = {}
        for row in read_export(folder, "touches"):
            if row.get("channel") != "email":
                continue
            at = read_date(row["sent_at"])
            email = row["email"].strip().lower()
            self.add_subscriber(email, at=0)
            triggered = row.get("family") in ("transactional", "service", "care", "trigger")
            name = row.get("campaign") or row.get("family") or "untitled"
            self.add_event("sent", email, at, send=name, triggered=triggered)
            last.setdefault(email, []).append((at, name, triggered))
        for touches in last.values():
            touches.sort()
        kinds = {"open", "click", "bounce", "unsubscribe", "complaint"}
        for row in read_export(folder, "engagements"):
            kind = row.get("type", "")
            if row.get("channel") != "email" or kind not in kinds:
                continue
            email = row["email"].strip().lower()
            at = read_date(row["occurred_at"])
            before = [t for t in last.get(email, []) if t[0] <= at]
            if not before:
                continue
            _, name, triggered = before[-1]
            url = f"https://shop.example/{row['event_id']}" if kind == "click" else None
            self.add_event(kind, email, at, send=name, triggered=triggered, url=url)

    # -- auth host ----------------------------------------------------------------------------------

    @route("POST", "/v2/token")
    def token(self, request: SandboxRequest) -> Reply:
        self.token_requests += 1
        if "json" not in (request.headers.get("Content-Type") or ""):
            return self.error(400, "the token request must be JSON", "invalid_request")
        body = request.json()
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            return self.error(400, "Use client_credentials as the grant_type.", "unsupported_grant_type")
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return self.error(401, "Client authentication failed.", "invalid_client")
        if "account_id" in body and str(body["account_id"]) != self.account_id:
            return self.error(401, "Insufficient privileges to access the business unit.", "invalid_grant")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self.clock() + self.token_ttl
        base = f"http://{self.host}:{self.port}"
        return Reply(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.token_ttl) - 121,
                "scope": "data_extensions_read data_extensions_write tracking_events_read list_and_subscribers_read",
                "soap_instance_url": f"{base}/soap/",
                "rest_instance_url": f"{base}/rest/",
            },
        )

    # -- SOAP ---------------------------------------------------------------------------------------

    def _fault(self, message: str, code: str = "soap:Client") -> Reply:
        text = (
            f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><soap:Fault>'
            f"<faultcode>{escape(code)}</faultcode><faultstring>{escape(message)}</faultstring>"
            "</soap:Fault></soap:Body></soap:Envelope>"
        )
        return Reply(500, text, {"Content-Type": "text/xml; charset=utf-8"})

    @staticmethod
    def _answer(message: str, inner: str) -> Reply:
        text = (
            f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP11}" xmlns:xsi="{XSI}">'
            f'<soap:Body><{message} xmlns="{API}">{inner}</{message}></soap:Body></soap:Envelope>'
        )
        return Reply(200, text, {"Content-Type": "text/xml; charset=utf-8"})

    @route("POST", "/soap/Service.asmx")
    def soap(self, request: SandboxRequest) -> Reply:
        try:
            operation = _body_element(request.body)
            name = operation.tag.replace(_API, "")
            if name == "RetrieveRequestMsg":
                return self._retrieve(operation)
            if name == "CreateRequest":
                return self._create(operation)
            if name == "DeleteRequest":
                return self._delete(operation)
            raise SoapError(f"the sandbox does not answer {name}")
        except SoapError as exc:
            return self._fault(str(exc), exc.code)

    def _objects(self, object_type: str) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        if object_type in EVENT_TYPE or object_type == "BounceEvent":
            return [e for e in self.events if e["@type"] == object_type], PROPERTIES[object_type]
        if object_type == "Subscriber":
            return list(self.subscribers.values()), PROPERTIES["Subscriber"]
        if object_type == "DataExtension":
            found = [
                {
                    "ObjectID": de.object_id,
                    "CustomerKey": de.key,
                    "Name": de.name,
                    "IsSendable": "true" if de.sendable else "false",
                    "CategoryID": de.category,
                }
                for de in self.des.values()
            ]
            return found, PROPERTIES["DataExtension"]
        if object_type.startswith("DataExtensionObject[") and object_type.endswith("]"):
            name = object_type[len("DataExtensionObject[") : -1]
            de = next((d for d in self.des.values() if d.name == name), None)
            if de is None:
                raise SoapError(f"Unable to find the data extension {name}")
            rows = [{**r, "@row": True} for r in de.rows.values()]
            return rows, tuple(c.name for c in de.columns)
        raise SoapError(f"The sandbox cannot retrieve the object type {object_type}")

    def _retrieve(self, operation: ET.Element) -> Reply:
        req = operation.find(f"{_API}RetrieveRequest")
        if req is None:
            raise SoapError("RetrieveRequest is required")
        object_type = (req.findtext(f"{_API}ObjectType") or "").strip()
        if not object_type:
            raise SoapError("ObjectType is required")
        size = req.findtext(f"{_API}Options/{_API}BatchSize")
        batch = min(MAX_BATCH, int(size)) if size and size.strip().isdigit() and int(size) > 0 else MAX_BATCH
        continued = (req.findtext(f"{_API}ContinueRequest") or "").strip()
        if continued:
            kept = self.continuations.pop(continued, None)
            if kept is None:
                return self._answer(
                    "RetrieveResponseMsg",
                    "<OverallStatus>Error: the request to continue is unknown or done</OverallStatus>",
                )
            object_type, props, objects, _ = kept
        else:
            props = [(p.text or "").strip() for p in req.findall(f"{_API}Properties")]
            objects, known = self._objects(object_type)
            wrong = [p for p in props if p not in known]
            if wrong or not props:
                status = (
                    f"Error: The Request Property(s) {', '.join(wrong)} do not match with the fields of "
                    f"{object_type} retrieve"
                    if wrong
                    else "Error: Properties are required"
                )
                return self._answer("RetrieveResponseMsg", f"<OverallStatus>{escape(status)}</OverallStatus>")
            filter_ = req.find(f"{_API}Filter")
            if filter_ is not None:
                try:
                    test = _predicate(filter_)
                except (ValueError, KeyError) as exc:
                    status = f"Error: {exc}"
                    return self._answer("RetrieveResponseMsg", f"<OverallStatus>{escape(status)}</OverallStatus>")
                objects = [o for o in objects if test(o)]
        page, rest = objects[:batch], objects[batch:]
        request_id = str(uuid.uuid4())
        if rest:
            self.continuations[request_id] = (object_type, props, rest, batch)
        status = "MoreDataAvailable" if rest else "OK"
        inner = f"<OverallStatus>{status}</OverallStatus><RequestID>{request_id}</RequestID>"
        inner += "".join(self._result(object_type, o, props) for o in page)
        return self._answer("RetrieveResponseMsg", inner)

    def _result(self, object_type: str, obj: dict[str, Any], props: list[str]) -> str:
        if obj.get("@row"):
            pairs = "".join(
                f"<Property><Name>{escape(p)}</Name><Value>{escape(str(obj.get(p, '')))}</Value></Property>"
                for p in props
            )
            return (
                '<Results xsi:type="DataExtensionObject"><PartnerKey xsi:nil="true"/><ObjectID xsi:nil="true"/>'
                f"<Type>DataExtensionObject</Type><Properties>{pairs}</Properties></Results>"
            )
        kind = obj.get("@type", object_type)
        out = f'<Results xsi:type="{kind}"><Client><ID>{self.account_id}</ID></Client>'
        for prop in PROPERTIES.get(object_type, ()):
            if prop not in props or prop == "Client.ID":
                continue
            value = obj.get(prop)
            if value is None or value == "":
                continue
            text = server_time(value) if prop in DATE_PROPERTIES else str(value)
            out += f"<{prop}>{escape(text)}</{prop}>"
        return out + "</Results>"

    def _create(self, operation: ET.Element) -> Reply:
        results, ok = "", True
        for ordinal, obj in enumerate(operation.findall(f"{_API}Objects")):
            kind = (obj.get(_XSI_TYPE) or "").split(":")[-1]
            try:
                if kind != "DataExtension":
                    raise ValueError(f"the sandbox creates DataExtension objects only, not {kind or 'untyped'}")
                de = self._new_de(obj)
                results += (
                    "<Results><StatusCode>OK</StatusCode><StatusMessage>Created DataExtension</StatusMessage>"
                    f"<OrdinalID>{ordinal}</OrdinalID><NewID>0</NewID><NewObjectID>{de.object_id}</NewObjectID>"
                    f'<Object xsi:type="DataExtension"><CustomerKey>{escape(de.key)}</CustomerKey>'
                    f"<Name>{escape(de.name)}</Name></Object></Results>"
                )
            except ValueError as exc:
                ok = False
                results += (
                    f"<Results><StatusCode>Error</StatusCode><StatusMessage>{escape(str(exc))}</StatusMessage>"
                    f"<OrdinalID>{ordinal}</OrdinalID><ErrorCode>310007</ErrorCode><NewID>0</NewID></Results>"
                )
        if not results:
            raise SoapError("CreateRequest needs at least one object")
        request_id = str(uuid.uuid4())
        status = "OK" if ok else "Error"
        return self._answer(
            "CreateResponse", f"{results}<RequestID>{request_id}</RequestID><OverallStatus>{status}</OverallStatus>"
        )

    def _new_de(self, obj: ET.Element) -> DataExtension:
        key = (obj.findtext(f"{_API}CustomerKey") or "").strip()
        name = (obj.findtext(f"{_API}Name") or "").strip()
        if not name:
            raise ValueError("Name is required")
        key = key or str(uuid.uuid4()).upper()
        if key in self.des:
            raise ValueError(f"A data extension with the external key {key} already exists")
        if any(d.name == name for d in self.des.values()):
            raise ValueError(f"A data extension named {name} already exists in this folder")
        columns = []
        for f in obj.findall(f"{_API}Fields/{_API}Field"):
            fname = (f.findtext(f"{_API}Name") or "").strip()
            ftype = (f.findtext(f"{_API}FieldType") or "Text").strip()
            if not fname:
                raise ValueError("every field needs a Name")
            length = f.findtext(f"{_API}MaxLength")
            primary = (f.findtext(f"{_API}IsPrimaryKey") or "").strip().lower() == "true"
            columns.append(Column(fname, ftype, primary, int(length) if length and length.isdigit() else None))
        if not columns:
            raise ValueError("a data extension needs at least one field")
        sendable = (obj.findtext(f"{_API}IsSendable") or "").strip().lower() == "true"
        if sendable:
            field_name = obj.findtext(f"{_API}SendableDataExtensionField/{_API}Name")
            subscriber_field = obj.findtext(f"{_API}SendableSubscriberField/{_API}Name")
            if not field_name or all(c.name != field_name for c in columns):
                raise ValueError("a sendable data extension names one of its fields as SendableDataExtensionField")
            if not subscriber_field:
                raise ValueError("a sendable data extension names the SendableSubscriberField it relates to")
        category = obj.findtext(f"{_API}CategoryID")
        de = DataExtension(key, name, str(uuid.uuid4()), columns, sendable, int(category) if category else None)
        self.des[key] = de
        return de

    def _delete(self, operation: ET.Element) -> Reply:
        objects = operation.findall(f"{_API}Objects")
        if not objects:
            raise SoapError("DeleteRequest needs at least one object")
        if len(objects) > SYNC_LIMIT:
            self.oversized += 1
        results, ok = "", True
        for ordinal, obj in enumerate(objects):
            kind = (obj.get(_XSI_TYPE) or "").split(":")[-1]
            key = (obj.findtext(f"{_API}CustomerKey") or "").strip()
            de = self.des.get(key) or next(
                (d for d in self.des.values() if d.name == obj.findtext(f"{_API}Name")), None
            )
            message = ""
            if kind != "DataExtensionObject":
                message = f"the sandbox deletes DataExtensionObject rows only, not {kind or 'untyped'}"
            elif de is None:
                message = f"Unable to find the data extension {key}"
            else:
                values = {
                    (k.findtext(f"{_API}Name") or ""): k.findtext(f"{_API}Value") or ""
                    for k in obj.findall(f"{_API}Keys/{_API}Key")
                }
                try:
                    de.rows.pop(de.pk(values), None)
                except ValueError as exc:
                    message = str(exc)
            if message:
                ok = False
                results += (
                    f"<Results><StatusCode>Error</StatusCode><StatusMessage>{escape(message)}</StatusMessage>"
                    f"<OrdinalID>{ordinal}</OrdinalID><ErrorCode>310007</ErrorCode></Results>"
                )
            else:
                results += (
                    "<Results><StatusCode>OK</StatusCode><StatusMessage>Deleted DataExtensionObject</StatusMessage>"
                    f"<OrdinalID>{ordinal}</OrdinalID></Results>"
                )
        inner = (
            f"{results}<RequestID>{uuid.uuid4()}</RequestID><OverallStatus>{'OK' if ok else 'Error'}</OverallStatus>"
        )
        return self._answer("DeleteResponse", inner)

    # -- REST: data extension rows ------------------------------------------------------------------

    def _de(self, key: str) -> DataExtension:
        de = self.des.get(key)
        if de is None:
            raise BadRequest(f"Data extension with key {key} not found", status=404)
        return de

    @staticmethod
    def _int_arg(request: SandboxRequest, name: str, default: int) -> int:
        raw = request.arg(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise BadRequest(f"{name} must be a positive integer", code="10005")
        return int(raw)

    def _rowset_page(self, de: DataExtension, page: int, size: int, token: str) -> Reply:
        size = min(size, MAX_BATCH)
        rows = list(de.rows.values())
        items = []
        for row in rows[(page - 1) * size : page * size]:
            keys = {c.name.lower(): _rowset_value(c, row.get(c.name)) for c in de.columns if c.primary}
            values = {c.name.lower(): _rowset_value(c, row.get(c.name)) for c in de.columns if not c.primary}
            items.append({"keys": keys, "values": values})
        links = {"self": f"/v1/customobjectdata/token/{token}/rowset?$page={page}"}
        if page * size < len(rows):
            links["next"] = f"/v1/customobjectdata/token/{token}/rowset?$page={page + 1}"
        expires = datetime.fromtimestamp(self.clock() + 1200, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        body = {
            "links": links,
            "requestToken": token,
            "tokenExpireDateUtc": expires,
            "customObjectId": de.object_id,
            "customObjectKey": de.key,
            "pageSize": size,
            "page": page,
            "count": len(rows),
            "top": 0,
            "items": items,
        }
        return Reply(200, body)

    @route("GET", r"/rest/data/v1/customobjectdata/key/(?P<key>[^/]+)/rowset")
    def rowset(self, request: SandboxRequest) -> Reply:
        de = self._de(request.params["key"])
        token = str(uuid.uuid4())
        self.row_tokens[token] = de.key
        page = self._int_arg(request, "$page", 1)
        return self._rowset_page(de, page, self._int_arg(request, "$pageSize", MAX_BATCH), token)

    @route("GET", r"/rest/data/v1/customobjectdata/token/(?P<token>[^/]+)/rowset")
    def rowset_by_token(self, request: SandboxRequest) -> Reply:
        key = self.row_tokens.get(request.params["token"])
        if key is None:
            raise BadRequest("the request token is unknown or expired", status=404)
        page = self._int_arg(request, "$page", 1)
        return self._rowset_page(
            self._de(key), page, self._int_arg(request, "$pageSize", MAX_BATCH), request.params["token"]
        )

    @route("POST", r"/rest/hub/v1/dataevents/key:(?P<key>[^/]+)/rowset")
    def rowset_upsert(self, request: SandboxRequest) -> Reply:
        de = self._de(request.params["key"])
        body = request.json()
        if not isinstance(body, list) or not body:
            raise BadRequest("the body must be a non-empty array of {keys, values}", code="10004")
        if len(body) > SYNC_LIMIT:
            self.oversized += 1
        rows = []
        for item in body:
            if not isinstance(item, dict) or not isinstance(item.get("keys"), dict):
                raise BadRequest("each row needs a keys object", code="10002")
            rows.append({**(item.get("values") or {}), **item["keys"]})
        try:
            staged = DataExtension(de.key, de.name, de.object_id, de.columns, rows=dict(de.rows))
            for row in rows:
                staged.upsert(row)
        except ValueError as exc:
            raise BadRequest(str(exc), code="10006") from None
        de.rows = staged.rows
        return Reply(200, body)

    def _async(self, request: SandboxRequest, insert_only: bool) -> Reply:
        de = self._de(request.params["key"])
        body = request.json()
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise BadRequest("items must be a non-empty array", code="10002")
        if len(items) > ASYNC_LIMIT:
            raise BadRequest(f"A request can hold at most {ASYNC_LIMIT} items", code="10005")
        rid = str(uuid.uuid4())
        self.async_requests[rid] = AsyncRequest(rid, de.key, items, insert_only, self.clock())
        return Reply(202, {"requestId": rid, "resultMessages": []})

    @route("PUT", r"/rest/data/v1/async/dataextensions/key:(?P<key>[^/]+)/rows")
    def async_upsert(self, request: SandboxRequest) -> Reply:
        return self._async(request, insert_only=False)

    @route("POST", r"/rest/data/v1/async/dataextensions/key:(?P<key>[^/]+)/rows")
    def async_insert(self, request: SandboxRequest) -> Reply:
        return self._async(request, insert_only=True)

    def _async_request(self, rid: str) -> AsyncRequest:
        found = self.async_requests.get(rid)
        if found is None:
            raise BadRequest(f"Request {rid} not found", status=404)
        return found

    @route("GET", r"/rest/data/v1/async/(?P<rid>[^/]+)/status")
    def async_status(self, request: SandboxRequest) -> Reply:
        req = self._async_request(request.params["rid"])
        req.polls += 1
        if req.done is None and req.polls >= self.async_polls:
            de = self.des.get(req.key)
            for item in req.items:
                try:
                    if de is None:
                        raise ValueError(f"the data extension {req.key} no longer exists")
                    if not isinstance(item, dict):
                        raise ValueError("an item is not an object")
                    de.upsert(item, insert_only=req.insert_only)
                except ValueError as exc:
                    req.errors.append({"errorCode": "UnexpectedError", "message": str(exc), "status": "Error"})
            req.done = self.clock()
        stamp = lambda t: None if t is None else datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
        status = {
            "callDateTime": stamp(req.called),
            "completionDateTime": stamp(req.done),
            "hasErrors": bool(req.errors),
            "pickupDateTime": stamp(req.called),
            "requestStatus": "Pending" if req.done is None else "Complete",
            "resultStatus": "Pending" if req.done is None else ("Error" if req.errors else "OK"),
            "requestId": req.id,
        }
        return Reply(200, {"requestId": req.id, "status": status})

    @route("GET", r"/rest/data/v1/async/(?P<rid>[^/]+)/results")
    def async_results(self, request: SandboxRequest) -> Reply:
        req = self._async_request(request.params["rid"])
        return Reply(200, {"page": 1, "pageSize": 50, "count": len(req.errors), "items": req.errors[:50]})


# -- XML helpers --------------------------------------------------------------------------------------


def _envelope(body: bytes) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapError(f"the request is not well-formed XML: {exc}") from None
    if root.tag not in (f"{{{SOAP11}}}Envelope", f"{{{SOAP12}}}Envelope"):
        raise SoapError("the request is not a SOAP envelope")
    return root


def _header_token(body: bytes) -> str:
    root = _envelope(body)
    for ns in (SOAP11, SOAP12):
        header = root.find(f"{{{ns}}}Header")
        if header is not None:
            for child in header:
                if child.tag.split("}")[-1] == "fueloauth":
                    return (child.text or "").strip()
    raise SoapError("Login Failed: no fueloauth token in the header", "q0:Security")


def _body_element(body: bytes) -> ET.Element:
    root = _envelope(body)
    for ns in (SOAP11, SOAP12):
        found = root.find(f"{{{ns}}}Body")
        if found is not None and len(found):
            return found[0]
    raise SoapError("the envelope has an empty Body")


def _rowset_value(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.type == "Date" and isinstance(value, int | float):
        return us_date(value)
    if column.type == "Boolean":
        return "True" if str(value).lower() in ("true", "1") else "False"
    return str(value)


def _predicate(part: ET.Element) -> Callable[[dict[str, Any]], bool]:
    """A filter part (Simple or Complex) as a test of one object."""
    kind = (part.get(_XSI_TYPE) or "").split(":")[-1]
    if kind == "ComplexFilterPart":
        left, right = part.find(f"{_API}LeftOperand"), part.find(f"{_API}RightOperand")
        operator = (part.findtext(f"{_API}LogicalOperator") or "").strip()
        if left is None or right is None or operator not in ("AND", "OR"):
            raise ValueError("a ComplexFilterPart needs LeftOperand, LogicalOperator (AND, OR) and RightOperand")
        a, b = _predicate(left), _predicate(right)
        return (lambda o: a(o) and b(o)) if operator == "AND" else (lambda o: a(o) or b(o))
    if kind != "SimpleFilterPart":
        raise ValueError(f"unknown filter part type {kind or '(none)'}")
    prop = (part.findtext(f"{_API}Property") or "").strip()
    operator = (part.findtext(f"{_API}SimpleOperator") or "").strip()
    texts = [(v.text or "") for v in part.findall(f"{_API}Value")]
    dates = [read_date(v.text or "") for v in part.findall(f"{_API}DateValue")]
    is_date = prop in DATE_PROPERTIES
    if is_date and not dates:
        dates = [read_date(t) for t in texts]

    def value(o: dict[str, Any]) -> Any:
        return o.get(prop)

    def norm(v: Any) -> Any:
        if v is None:
            return None
        if is_date:
            return float(v)
        text = str(v)
        return int(text) if text.lstrip("-").isdigit() else text.lower()

    wanted = dates if is_date else [norm(t) for t in texts]
    tests: dict[str, Callable[[Any], bool]] = {
        "equals": lambda v: v is not None and v == wanted[0],
        "notEquals": lambda v: v != wanted[0],
        "greaterThan": lambda v: v is not None and v > wanted[0],
        "greaterThanOrEqual": lambda v: v is not None and v >= wanted[0],
        "lessThan": lambda v: v is not None and v < wanted[0],
        "lessThanOrEqual": lambda v: v is not None and v <= wanted[0],
        "between": lambda v: v is not None and wanted[0] <= v <= wanted[1],
        "IN": lambda v: v in wanted,
        "isNull": lambda v: v is None,
        "isNotNull": lambda v: v is not None,
        "like": lambda v: v is not None and str(wanted[0]).strip("%") in str(v),
    }
    if operator not in tests:
        raise ValueError(f"the sandbox does not filter with {operator or 'no operator'}")
    needs = {"between": 2, "isNull": 0, "isNotNull": 0, "IN": 1}.get(operator, 1)
    if len(wanted) < needs:
        raise ValueError(f"{operator} on {prop} needs {needs} value(s)")
    test = tests[operator]
    return lambda o: test(norm(value(o)))
