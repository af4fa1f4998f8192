"""Every request the connector sends and every answer it reads, against ``responses`` mocks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from pressure_connector_sfmc import SfmcConnector
from pressure_connector_sfmc.connector import parse_time

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.connectors.base import RemoteList
from pressure_sdk.errors import AuthError, PayloadError, PermanentAPIError
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Engagement, Touch

AUTH = "https://mc-tenant.auth.marketingcloudapis.com"
REST = "https://mc-tenant.rest.marketingcloudapis.test"
SOAP = "https://mc-tenant.soap.marketingcloudapis.test/Service.asmx"
ENV = "SFMC_TEST"
CLIENT_ID, SECRET, MID = "client-id-0123456789", "client-secret-abcdefghijklmnop", "514009999"
#: 2026-03-10T12:00:00Z
NOW = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
LIST = ListConfig(name="pause", brand="outlet")
API = "{http://exacttarget.com/wsdl/partnerAPI}"
ENVELOPE = "{http://schemas.xmlsoap.org/soap/envelope/}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"


def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> SfmcConnector:
    for part, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", SECRET), ("ACCOUNT_ID", MID)):
        monkeypatch.setenv(f"{ENV}_{part}", value)
    cfg = parse_config(
        {
            "workspace": {"ledger": "ledger.db"},
            "brands": {"outlet": {}},
            "accounts": [
                {
                    "name": "outlet-sfmc",
                    "connector": "sfmc",
                    "brand": "outlet",
                    "credential_env": ENV,
                    "settings": {"subdomain": "mc-tenant", "retry": {"backoff": 0.5}, **settings},
                    "lists": [{"name": LIST.name}],
                }
            ],
        },
        base_dir=tmp_path,
    )
    connector = SfmcConnector.from_account(cfg.accounts[0], cfg, 0)
    assert isinstance(connector, SfmcConnector)
    connector.now = lambda: NOW  # type: ignore[method-assign]
    connector.token_clock = lambda: NOW  # type: ignore[method-assign]
    return connector


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def token_answer(token: str = "tok-1", expires_in: int = 1079) -> dict[str, Any]:
    # the observed answer (mcdev test fixture, SF-D-S2S), with this test's hosts
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": "data_extensions_read data_extensions_write tracking_events_read",
        "soap_instance_url": SOAP.replace("Service.asmx", ""),
        "rest_instance_url": REST + "/",
    }


def add_token(rsps: responses.RequestsMock, token: str = "tok-1", **kw: Any) -> None:
    rsps.add(responses.POST, f"{AUTH}/v2/token", json=token_answer(token, **kw))


def soap_answer(message: str, inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        f'<{message} xmlns="http://exacttarget.com/wsdl/partnerAPI">{inner}</{message}></soap:Body></soap:Envelope>'
    )


def retrieved(results: str, status: str = "OK", rid: str = "r-1") -> str:
    return soap_answer(
        "RetrieveResponseMsg", f"<OverallStatus>{status}</OverallStatus><RequestID>{rid}</RequestID>{results}"
    )


def event(kind: str, key: str, date: str, send: int = 501, **extra: str) -> str:
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (
        f'<Results xsi:type="{kind}"><Client><ID>{MID}</ID></Client><SendID>{send}</SendID>'
        f"<SubscriberKey>{key}</SubscriberKey><EventDate>{date}</EventDate><BatchID>3</BatchID>{fields}</Results>"
    )


def body_of(call: Any) -> ET.Element:
    """The operation element of a SOAP request, after checking its envelope and token header."""
    root = ET.fromstring(call.request.body)
    assert root.tag == f"{ENVELOPE}Envelope"
    header = root.find(f"{ENVELOPE}Header/{{http://exacttarget.com}}fueloauth")
    assert header is not None and header.text
    body = root.find(f"{ENVELOPE}Body")
    assert body is not None
    return body[0]


def soap_token(call: Any) -> str:
    root = ET.fromstring(call.request.body)
    return root.findtext(f"{ENVELOPE}Header/{{http://exacttarget.com}}fueloauth") or ""


# -- token ------------------------------------------------------------------------------------------------


def test_token_request_is_json_with_the_three_secrets_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    connector = make(tmp_path, monkeypatch)
    said = connector.check()
    assert connector.find_data_extension("pressure-pause") is None
    token_call = rsps.calls[0]
    assert token_call.request.url == f"{AUTH}/v2/token"
    assert token_call.request.headers["Content-Type"] == "application/json"
    assert json.loads(token_call.request.body) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "account_id": MID,
    }
    # one token for the run: SF-D-LIMITS asks for at most one token request per 20 minutes
    assert sum(1 for c in rsps.calls if c.request.url.endswith("/v2/token")) == 1
    assert soap_token(rsps.calls[1]) == soap_token(rsps.calls[2]) == "tok-1"
    assert "not there yet" in said and SECRET not in said and CLIENT_ID not in repr(connector)


def test_token_refused_is_an_auth_error_naming_the_account_not_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    rsps.add(
        responses.POST,
        f"{AUTH}/v2/token",
        status=401,
        json={"error": "invalid_client", "error_description": f"Client authentication failed for {CLIENT_ID}."},
    )
    connector = make(tmp_path, monkeypatch)
    with pytest.raises(AuthError) as err:
        connector.check()
    text = str(err.value) + (err.value.body or "")
    assert "outlet-sfmc" in text and "401" in text
    assert SECRET not in text and CLIENT_ID not in text and MID not in text
    assert len(rsps.calls) == 1


def test_missing_variables_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = make(tmp_path, monkeypatch)
    monkeypatch.delenv(f"{ENV}_ACCOUNT_ID")
    with pytest.raises(AuthError, match=f"{ENV}_ACCOUNT_ID"):
        connector.check()


def test_an_expiring_token_is_renewed_before_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps, "tok-1")
    add_token(rsps, "tok-2")
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    connector = make(tmp_path, monkeypatch)
    clock = [NOW]
    connector.token_clock = lambda: clock[0]  # type: ignore[method-assign]
    connector.find_data_extension("k")
    clock[0] += 1079 - 59  # within the minute of leeway before expires_in
    connector.find_data_extension("k")
    assert [soap_token(c) for c in rsps.calls if c.request.url == SOAP] == ["tok-1", "tok-2"]
    assert not any(c.response.status_code == 401 for c in rsps.calls)


def test_rest_401_gets_a_new_token_and_one_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    add_token(rsps, "tok-1")
    url = f"{REST}/data/v1/customobjectdata/key/pressure-pause/rowset"
    rsps.add(responses.GET, url, status=401, json={"message": "Not Authorized", "errorcode": 0, "documentation": ""})
    add_token(rsps, "tok-2")
    rsps.add(responses.GET, url, json={"count": 0, "page": 1, "pageSize": 1, "items": []})
    connector = make(tmp_path, monkeypatch)
    assert connector._rowset("pressure-pause", 1, 1)["count"] == 0
    gets = [c for c in rsps.calls if c.request.method == "GET"]
    assert [c.request.headers["Authorization"] for c in gets] == ["Bearer tok-1", "Bearer tok-2"]
    assert recorded_sleeps == []


def test_a_soap_fault_about_the_token_gets_a_new_token_and_the_same_envelope_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    add_token(rsps, "tok-1")
    fault = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        "<faultcode>q0:Security</faultcode><faultstring>Token Expired</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    rsps.add(responses.POST, SOAP, status=500, body=fault)
    add_token(rsps, "tok-2")
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    connector = make(tmp_path, monkeypatch)
    assert connector.find_data_extension("k") is None
    soaps = [c for c in rsps.calls if c.request.url == SOAP]
    assert [soap_token(c) for c in soaps] == ["tok-1", "tok-2"]
    assert soaps[0].request.body.replace(b"tok-1", b"tok-2") == soaps[1].request.body
    assert recorded_sleeps == [], "a refreshed token is not a retry with backoff"


def test_a_soap_fault_about_anything_else_is_retried_as_a_platform_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    add_token(rsps)
    busy = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        "<faultcode>soap:Server</faultcode><faultstring>Server is busy</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    rsps.add(responses.POST, SOAP, status=500, body=busy)
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    connector = make(tmp_path, monkeypatch)
    assert connector.find_data_extension("k") is None
    assert len(recorded_sleeps) == 1
    assert sum(1 for c in rsps.calls if c.request.url.endswith("/v2/token")) == 1


# -- pull ---------------------------------------------------------------------------------------------------


def test_pull_retrieves_each_tracking_object_by_event_date_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    page1 = event("SentEvent", "a@example.com", "2026-03-10T04:00:00", TriggeredSendDefinitionObjectID="")
    page1 += event("SentEvent", "SK-2", "2026-03-10T04:30:00.47", send=502, TriggeredSendDefinitionObjectID="ts-guid")
    rsps.add(responses.POST, SOAP, body=retrieved(page1, "MoreDataAvailable", "req-1"))
    # SK-2 is not an email: looked up in All Subscribers
    sub = (
        '<Results xsi:type="Subscriber"><SubscriberKey>SK-2</SubscriberKey>'
        "<EmailAddress>B@Example.com</EmailAddress></Results>"
    )
    rsps.add(responses.POST, SOAP, body=retrieved(sub))
    rsps.add(responses.POST, SOAP, body=retrieved(""))  # the continued page: nothing more
    rsps.add(responses.POST, SOAP, body=retrieved(event("OpenEvent", "SK-2", "2026-03-10T05:00:00")))
    click = event("ClickEvent", "a@example.com", "2026-03-10T05:01:00", URL="https://shop.example/x")
    rsps.add(responses.POST, SOAP, body=retrieved(click))
    rsps.add(responses.POST, SOAP, body=retrieved(event("BounceEvent", "a@example.com", "2026-03-10T05:02:00")))
    rsps.add(responses.POST, SOAP, body=retrieved(event("UnsubEvent", "SK-2", "2026-03-10T05:03:00")))
    connector = make(tmp_path, monkeypatch, overlap_minutes=60)
    batches = list(connector.pull({"until": "2026-03-10T10:00:00Z"}))
    touches = [t for b in batches for t in b.touches]
    engagements = [e for b in batches for e in b.engagements]
    # EventDate is server time (CST, UTC-6): 04:00 there is 10:00 UTC
    assert [(t.email, t.at, t.family, t.campaign) for t in touches] == [
        ("a@example.com", parse_time("2026-03-10T10:00:00Z", "t"), "marketing", "501"),
        ("b@example.com", parse_time("2026-03-10T10:30:00Z", "t"), "trigger", "502"),
    ]
    assert [(e.type, e.email) for e in engagements] == [
        ("open", "b@example.com"),
        ("click", "a@example.com"),
        ("bounce", "a@example.com"),
        ("unsubscribe", "b@example.com"),
    ]
    assert all(isinstance(t, Touch) for t in touches) and all(isinstance(e, Engagement) for e in engagements)
    assert batches[-1].state == {"until": "2026-03-10T12:00:00Z"}
    soaps = [c for c in rsps.calls if c.request.url == SOAP]
    assert all(c.request.headers["SOAPAction"] == "Retrieve" for c in soaps)
    assert all(c.request.headers["Content-Type"].startswith("text/xml") for c in soaps)
    first = body_of(soaps[0]).find(f"{API}RetrieveRequest")
    assert first is not None and first.findtext(f"{API}ObjectType") == "SentEvent"
    assert [p.text for p in first.findall(f"{API}Properties")] == [
        "SendID",
        "SubscriberKey",
        "EventDate",
        "EventType",
        "BatchID",
        "TriggeredSendDefinitionObjectID",
    ]
    flt = first.find(f"{API}Filter")
    assert flt is not None and flt.get(XSI) == "ComplexFilterPart"
    assert flt.findtext(f"{API}LogicalOperator") == "AND"
    # the watermark minus the overlap, to now; in UTC, which the API normalizes to its server time
    left, right = flt.find(f"{API}LeftOperand"), flt.find(f"{API}RightOperand")
    assert left is not None and right is not None
    assert (left.findtext(f"{API}SimpleOperator"), left.findtext(f"{API}DateValue")) == (
        "greaterThanOrEqual",
        "2026-03-10T09:00:00Z",
    )
    assert (right.findtext(f"{API}SimpleOperator"), right.findtext(f"{API}DateValue")) == (
        "lessThan",
        "2026-03-10T12:00:00Z",
    )
    assert first.findtext(f"{API}Options/{API}BatchSize") == "2500"
    second = body_of(soaps[2]).find(f"{API}RetrieveRequest")
    assert second is not None and second.findtext(f"{API}ContinueRequest") == "req-1"
    assert second.find(f"{API}Filter") is None
    lookup = body_of(soaps[1]).find(f"{API}RetrieveRequest")
    assert lookup is not None and lookup.findtext(f"{API}ObjectType") == "Subscriber"
    assert lookup.findtext(f"{API}Filter/{API}SimpleOperator") == "equals"
    assert lookup.findtext(f"{API}Filter/{API}Value") == "SK-2"
    types = [body_of(c).findtext(f"{API}RetrieveRequest/{API}ObjectType") for c in soaps]
    assert types == ["SentEvent", "Subscriber", "SentEvent", "OpenEvent", "ClickEvent", "BounceEvent", "UnsubEvent"]
    click_props = [p.text for p in body_of(soaps[4]).findall(f"{API}RetrieveRequest/{API}Properties")]
    assert click_props[-1] == "URL"


def test_times_without_an_offset_are_central_standard_time_all_year() -> None:
    # no daylight saving: July is UTC-6 too
    assert parse_time("2026-07-01T00:00:00", "t") == int(datetime(2026, 7, 1, 6, tzinfo=UTC).timestamp())
    assert parse_time("2026-01-01T00:00:00", "t") == int(datetime(2026, 1, 1, 6, tzinfo=UTC).timestamp())
    assert parse_time("2026-01-01T00:00:00Z", "t") == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    with pytest.raises(PayloadError):
        parse_time("6/23/2024 12:00:00 AM", "t")


def test_a_retrieve_error_status_is_a_permanent_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    status = "Error: The Request Property(s) Nope do not match with the fields of SentEvent retrieve"
    rsps.add(responses.POST, SOAP, body=soap_answer("RetrieveResponseMsg", f"<OverallStatus>{status}</OverallStatus>"))
    connector = make(tmp_path, monkeypatch)
    with pytest.raises(PermanentAPIError, match="do not match"):
        list(connector.pull({"until": "2026-03-10T10:00:00Z"}))


def test_a_soap_answer_that_is_not_xml_is_a_payload_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=retrieved("")[:80])
    connector = make(tmp_path, monkeypatch)
    with pytest.raises(PayloadError, match="not a RetrieveResponseMsg"):
        connector.find_data_extension("k")


def test_a_repeated_continue_id_stops_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=retrieved("", "MoreDataAvailable", "same"))
    rsps.add(responses.POST, SOAP, body=retrieved("", "MoreDataAvailable", "same"))
    connector = make(tmp_path, monkeypatch)
    with pytest.raises(PayloadError, match="repeated"):
        connector.find_data_extension("k")


# -- audience ------------------------------------------------------------------------------------------------


def test_audience_reads_all_subscribers_then_those_created_or_unsubscribed_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    subs = (
        '<Results xsi:type="Subscriber"><SubscriberKey>SK-1</SubscriberKey><EmailAddress>One@Example.com</EmailAddress>'
        "<Status>Active</Status><CreatedDate>2026-01-01T00:00:00</CreatedDate></Results>"
        '<Results xsi:type="Subscriber"><SubscriberKey>SK-2</SubscriberKey><EmailAddress>two@example.com</EmailAddress>'
        "<Status>Unsubscribed</Status><CreatedDate>2026-01-01T00:00:00</CreatedDate>"
        "<UnsubscribedDate>2026-03-01T00:00:00</UnsubscribedDate></Results>"
        '<Results xsi:type="Subscriber"><SubscriberKey>SK-3</SubscriberKey>'
        "<EmailAddress>three@example.com</EmailAddress>"
        "<Status>Held</Status><CreatedDate>2026-01-01T00:00:00</CreatedDate></Results>"
        '<Results xsi:type="Subscriber"><SubscriberKey>SK-4</SubscriberKey><EmailAddress>not-an-email</EmailAddress>'
        "<Status>Active</Status><CreatedDate>2026-01-01T00:00:00</CreatedDate></Results>"
    )
    rsps.add(responses.POST, SOAP, body=retrieved(subs))
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    connector = make(tmp_path, monkeypatch)
    batches = list(connector.pull_audience(None))
    contacts = [c for b in batches for c in b.contacts]
    assert [(c.email, c.external_id, c.status) for c in contacts] == [
        ("one@example.com", "SK-1", "subscribed"),
        ("two@example.com", "SK-2", "unsubscribed"),
        ("three@example.com", "SK-3", None),
    ]
    assert contacts[1].status_at == parse_time("2026-03-01T00:00:00", "t")
    state = batches[-1].state
    assert state == {"watermark": "2026-03-10T12:00:00Z"}
    first = body_of(rsps.calls[1]).find(f"{API}RetrieveRequest")
    assert first is not None and first.find(f"{API}Filter") is None
    assert [p.text for p in first.findall(f"{API}Properties")] == [
        "SubscriberKey",
        "EmailAddress",
        "Status",
        "CreatedDate",
        "UnsubscribedDate",
    ]
    list(connector.pull_audience(state))
    flt = body_of(rsps.calls[2]).find(f"{API}RetrieveRequest/{API}Filter")
    assert flt is not None and flt.findtext(f"{API}LogicalOperator") == "OR"
    parts = [flt.find(f"{API}LeftOperand"), flt.find(f"{API}RightOperand")]
    # ten minutes of overlap before the watermark
    assert [(p.findtext(f"{API}Property"), p.findtext(f"{API}DateValue")) for p in parts if p is not None] == [
        ("CreatedDate", "2026-03-10T11:50:00Z"),
        ("UnsubscribedDate", "2026-03-10T11:50:00Z"),
    ]


# -- push ------------------------------------------------------------------------------------------------------


def found_de(key: str = "pressure-pause") -> str:
    return retrieved(
        f'<Results xsi:type="DataExtension"><ObjectID>oid</ObjectID><CustomerKey>{key}</CustomerKey></Results>'
    )


def members(n: int, start: int = 1, ext: bool = False) -> list[Member]:
    return [Member(i, f"user{i:05d}@example.com", f"SK{i}" if ext else None) for i in range(start, start + n)]


def test_a_missing_data_extension_is_created_sendable_on_the_subscriber_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    created = (
        "<Results><StatusCode>OK</StatusCode><StatusMessage>Created DataExtension</StatusMessage>"
        "<OrdinalID>0</OrdinalID>"
        "<NewID>0</NewID><NewObjectID>oid</NewObjectID></Results><RequestID>c-1</RequestID><OverallStatus>OK</OverallStatus>"
    )
    rsps.add(responses.POST, SOAP, body=soap_answer("CreateResponse", created))
    rsps.add(responses.POST, f"{REST}/hub/v1/dataevents/key:pressure-pause/rowset", json=[])
    connector = make(tmp_path, monkeypatch, folder_id=42)
    batches = list(connector.push(LIST, members(2), [], members(2)))
    assert [b.added for b in batches] == [[1, 2]]
    create = rsps.calls[2]
    assert create.request.headers["SOAPAction"] == "Create"
    obj = body_of(create).find(f"{API}Objects")
    assert obj is not None and obj.get(XSI) == "DataExtension"
    assert [child.tag.replace(API, "") for child in obj] == [
        "CustomerKey",
        "Name",
        "IsSendable",
        "SendableDataExtensionField",
        "SendableSubscriberField",
        "Fields",
        "CategoryID",
    ]
    assert (obj.findtext(f"{API}CustomerKey"), obj.findtext(f"{API}Name")) == ("pressure-pause", "pause")
    assert obj.findtext(f"{API}SendableDataExtensionField/{API}Name") == "SubscriberKey"
    fields = [
        [c.tag.replace(API, "") + "=" + (c.text or "") for c in f] for f in obj.findall(f"{API}Fields/{API}Field")
    ]
    assert fields == [
        ["Name=SubscriberKey", "MaxLength=254", "IsRequired=true", "IsPrimaryKey=true", "FieldType=Text"],
        ["Name=EmailAddress", "MaxLength=254", "IsRequired=false", "IsPrimaryKey=false", "FieldType=EmailAddress"],
    ]


def test_a_small_push_is_one_synchronous_rowset_upsert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=found_de())
    rsps.add(responses.POST, f"{REST}/hub/v1/dataevents/key:pressure-pause/rowset", json=[])
    connector = make(tmp_path, monkeypatch)
    adds = members(49) + [Member(50, "known@example.com", "SK-KNOWN")]
    batches = list(connector.push(LIST, adds, [], adds))
    assert [len(b.added) for b in batches] == [50]
    call = rsps.calls[2]
    assert call.request.headers["Authorization"] == "Bearer tok-1"
    rows = json.loads(call.request.body)
    assert rows[0] == {
        "keys": {"SubscriberKey": "user00001@example.com"},
        "values": {"EmailAddress": "user00001@example.com"},
    }
    assert rows[-1] == {"keys": {"SubscriberKey": "SK-KNOWN"}, "values": {"EmailAddress": "known@example.com"}}


def test_a_large_push_is_asynchronous_upserts_of_32000_polled_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=found_de())
    url = f"{REST}/data/v1/async/dataextensions/key:pressure-pause/rows"
    status = f"{REST}/data/v1/async/req-a/status"
    rsps.add(responses.PUT, url, status=202, json={"requestId": "req-a", "resultMessages": []})
    pending = {"requestId": "req-a", "status": {"requestStatus": "Pending", "hasErrors": False}}
    rsps.add(responses.GET, status, json=pending)
    rsps.add(
        responses.GET, status, json={"requestId": "req-a", "status": {"requestStatus": "Complete", "hasErrors": False}}
    )
    rsps.add(responses.PUT, url, status=202, json={"requestId": "req-b", "resultMessages": []})
    rsps.add(
        responses.GET,
        f"{REST}/data/v1/async/req-b/status",
        json={"requestId": "req-b", "status": {"requestStatus": "Complete", "hasErrors": True}},
    )
    rsps.add(
        responses.GET,
        f"{REST}/data/v1/async/req-b/results",
        json={
            "page": 1,
            "pageSize": 50,
            "count": 1,
            "items": [{"errorCode": "X", "message": "bad row", "status": "Error"}],
        },
    )
    connector = make(tmp_path, monkeypatch, async_poll_interval=2)
    adds = members(32_051, ext=True)
    batches = list(connector.push(LIST, adds, [], adds))
    # the second call holds 51 rows, more than a synchronous call takes: asynchronous too
    assert [(len(b.added), len(b.missing)) for b in batches] == [(32_000, 0), (0, 51)]
    puts = [c for c in rsps.calls if c.request.method == "PUT"]
    items = [json.loads(c.request.body)["items"] for c in puts]
    assert [len(i) for i in items] == [32_000, 51]
    assert items[0][0] == {"SubscriberKey": "SK1", "EmailAddress": "user00001@example.com"}
    assert recorded_sleeps == [2, 2, 2]


def test_removes_are_soap_deletes_by_primary_key_50_a_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, SOAP, body=found_de())

    def deleted(n: int, refused: int | None = None) -> str:
        out = "".join(
            f"<Results><StatusCode>{'Error' if i == refused else 'OK'}</StatusCode>"
            f"<StatusMessage>x</StatusMessage><OrdinalID>{i}</OrdinalID></Results>"
            for i in range(n)
        )
        status = "Error" if refused is not None else "OK"
        return soap_answer("DeleteResponse", f"{out}<RequestID>d</RequestID><OverallStatus>{status}</OverallStatus>")

    rsps.add(responses.POST, SOAP, body=deleted(50))
    rsps.add(responses.POST, SOAP, body=deleted(2, refused=1))
    connector = make(tmp_path, monkeypatch)
    removes = members(52, ext=True)
    batches = list(connector.push(LIST, [], removes, []))
    assert [len(b.removed) for b in batches] == [50, 1]
    assert 52 not in batches[1].removed  # refused: recorded as still there, tried again next run
    call = rsps.calls[2]
    assert call.request.headers["SOAPAction"] == "Delete"
    op = body_of(call)
    assert op.tag == f"{API}DeleteRequest" and op[0].tag == f"{API}Options"
    objs = op.findall(f"{API}Objects")
    assert len(objs) == 50 and objs[0].get(XSI) == "DataExtensionObject"
    assert objs[0].findtext(f"{API}CustomerKey") == "pressure-pause"
    assert (objs[0].findtext(f"{API}Keys/{API}Key/{API}Name"), objs[0].findtext(f"{API}Keys/{API}Key/{API}Value")) == (
        "SubscriberKey",
        "SK1",
    )


# -- inspection ----------------------------------------------------------------------------------------------


def test_inspect_counts_with_one_row_and_reads_pages_by_the_answered_page_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    url = f"{REST}/data/v1/customobjectdata/key/pressure-pause/rowset"

    def page(n: int, size: int, count: int, rows: list[int]) -> dict[str, Any]:
        items = [{"keys": {"subscriberkey": f"SK{i}"}, "values": {"emailaddress": f"U{i}@Example.com"}} for i in rows]
        return {"count": count, "page": n, "pageSize": size, "items": items, "links": {}}

    rsps.add(responses.POST, SOAP, body=found_de())
    rsps.add(responses.GET, url, json=page(1, 1, 3, [1]))
    rsps.add(responses.POST, SOAP, body=found_de())
    # asked for 5 a page, the API applied 2: the next page number follows the applied size
    rsps.add(responses.GET, url, json=page(1, 2, 3, [1, 2]))
    rsps.add(responses.GET, url, json=page(2, 2, 3, [3]))
    rsps.add(responses.POST, SOAP, body=retrieved(""))
    connector = make(tmp_path, monkeypatch, rowset_page_size=5)
    assert connector.inspect_list(LIST) == RemoteList(exists=True, size=3)
    full = connector.inspect_list(LIST, full=True)
    assert full is not None and full.size == 3 and full.members is not None
    assert [(m.email, m.external_id) for m in full.members] == [(f"u{i}@example.com", f"SK{i}") for i in (1, 2, 3)]
    gets = [parse_qs(urlsplit(c.request.url).query) for c in rsps.calls if c.request.method == "GET"]
    assert gets == [
        {"$page": ["1"], "$pageSize": ["1"]},
        {"$page": ["1"], "$pageSize": ["5"]},
        {"$page": ["2"], "$pageSize": ["5"]},
    ]
    assert connector.inspect_list(ListConfig(name="gone", brand="outlet")) == RemoteList(exists=False)


# -- errors and limits -----------------------------------------------------------------------------------------


def test_429_waits_as_retry_after_or_the_body_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    add_token(rsps)
    url = f"{REST}/data/v1/customobjectdata/key/k/rowset"
    body = {"message": "Rate limit exceeded", "errorcode": 50100, "retryAfter": 5, "documentation": ""}
    rsps.add(responses.GET, url, status=429, json=body, headers={"Retry-After": "5"})
    rsps.add(responses.GET, url, status=429, json={**body, "retryAfter": 9})
    rsps.add(
        responses.GET, url, status=429, json={"message": "Your requests are temporarily blocked.", "errorcode": 50200}
    )
    rsps.add(responses.GET, url, json={"count": 0, "items": []})
    connector = make(tmp_path, monkeypatch)
    connector._rowset("k", 1, 1)
    assert recorded_sleeps[:2] == [5, 9]
    assert 0.25 <= recorded_sleeps[2] <= 2.0  # 50200 gives no wait: the backoff


def test_error_bodies_read_errorcode_in_either_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    add_token(rsps)
    rsps.add(
        responses.POST,
        f"{REST}/hub/v1/dataevents/key:pressure-pause/rowset",
        status=400,
        json={"message": "Invalid value for EmailAddress", "errorCode": 10005, "documentation": ""},
    )
    rsps.add(responses.POST, SOAP, body=found_de())
    connector = make(tmp_path, monkeypatch)
    with pytest.raises(PermanentAPIError, match=r"Invalid value for EmailAddress \(errorcode 10005\)"):
        list(connector.push(LIST, members(1), [], members(1)))
