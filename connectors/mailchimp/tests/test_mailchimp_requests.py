"""Every request the connector sends and every answer it reads, against ``responses`` mocks."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from pressure_connector_mailchimp import MailchimpConnector
from pressure_connector_mailchimp.streams import event_id

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.connectors.base import PushBatch, RemoteList, RemoteMember
from pressure_sdk.errors import AuthError, ConnectorError, PayloadError, PermanentAPIError, TransientAPIError
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import ContactUpdate, Touch

BASE = "https://us6.api.mailchimp.com/3.0"
KEY = "0123456789abcdef0123456789abcdef-us6"
ENV = "MAILCHIMP_TEST_KEY"
LIST_ID = "a1b2c3d4e5"
CID = "42694e9e57"
#: 2026-03-10T12:00:00Z
NOW = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
SENT = int(datetime(2026, 3, 1, 9, tzinfo=UTC).timestamp())
LIST = ListConfig(name="outlet-pause", brand="outlet")
FIXTURES = Path(__file__).parent / "fixtures"
ARCHIVE = "https://mailchimp-api-batch.s3.amazonaws.com/123abc-response.tar.gz"
SEGMENTS = f"{BASE}/lists/{LIST_ID}/segments"


@cache
def _fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def fixture(file: str, /, **changes: Any) -> dict[str, Any]:
    data = json.loads(_fixture(file))
    data.update(changes)
    return data


def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, key: str = KEY, **settings: Any) -> MailchimpConnector:
    monkeypatch.setenv(ENV, key)
    base_url = settings.pop("base_url", None)
    account: dict[str, Any] = {
        "name": "outlet-mailchimp",
        "connector": "mailchimp",
        "brand": "outlet",
        "credential_env": ENV,
        "settings": {"list_id": LIST_ID, "retry": {"backoff": 0.5}, "batch_min_operations": 0, **settings},
        "lists": [{"name": LIST.name}, {"name": "outlet-other"}],
    }
    if base_url:
        account["base_url"] = base_url
    cfg = parse_config(
        {"workspace": {"ledger": "ledger.db"}, "brands": {"outlet": {}}, "accounts": [account]}, base_dir=tmp_path
    )
    connector = MailchimpConnector.from_account(cfg.accounts[0], cfg, 0)
    connector.now = lambda: NOW  # type: ignore[method-assign]
    assert isinstance(connector, MailchimpConnector)
    return connector


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def query(call: Any) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def path(call: Any) -> str:
    return urlsplit(call.request.url).path


def members(n: int, start: int = 1, *, known: bool = True) -> list[Member]:
    return [Member(i, f"User{i:05d}@Example.com", f"id{i}" if known else None) for i in range(start, start + n)]


def campaigns(*items: dict[str, Any]) -> dict[str, Any]:
    return {"campaigns": list(items), "total_items": len(items), "_links": []}


def report(key: str, items: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    return {key: items, "campaign_id": CID, "total_items": len(items) if total is None else total, "_links": []}


def empty_reports(rsps: responses.RequestsMock, cid: str = CID, *, sent_to: bool = True) -> None:
    if sent_to:
        rsps.get(f"{BASE}/reports/{cid}/sent-to", json=report("sent_to", []))
    rsps.get(f"{BASE}/reports/{cid}/email-activity", json=report("emails", []))
    rsps.get(f"{BASE}/reports/{cid}/unsubscribed", json=report("unsubscribes", []))
    rsps.get(f"{BASE}/reports/{cid}/abuse-reports", json=report("abuse_reports", []))


def archive(results: list[dict[str, Any]], per_file: int = 2) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for n, i in enumerate(range(0, len(results), per_file)):
            data = json.dumps(results[i : i + per_file]).encode()
            info = tarfile.TarInfo(f"{n}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def ok(op: str, payload: Any) -> dict[str, Any]:
    return {"status_code": 200, "operation_id": op, "response": json.dumps(payload)}


# -- auth, data centre, errors ------------------------------------------------------------------------


def test_the_key_suffix_picks_the_data_centre_and_basic_auth_carries_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    assert c.base_url == BASE
    rsps.get(SEGMENTS, json={"segments": [fixture("segment")], "list_id": LIST_ID, "total_items": 1})
    said = c.check()
    call = rsps.calls[0]
    assert call.request.headers["Authorization"] == "Basic " + base64.b64encode(f"pressure-sdk:{KEY}".encode()).decode()
    assert query(call) == {"type": "static", "count": "1000", "offset": "0"}
    assert "list 'outlet-pause': static segment 70321" in said
    assert "list 'outlet-other': not there yet" in said and KEY not in said and KEY not in repr(c)


def test_a_key_without_a_data_centre_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, key="0123456789abcdef0123456789abcdef")
    with pytest.raises(AuthError) as err:
        c.check()
    assert "data-centre suffix" in str(err.value) and "0123456789abcdef0123456789abcdef" not in str(err.value)


def test_401_names_the_account_and_keeps_the_problem_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch)
    problem = fixture("problem", title="API Key Invalid", status=401, detail="Your API key may be invalid.")
    del problem["errors"]
    rsps.get(SEGMENTS, status=401, json=problem, headers={"X-Request-Id": problem["instance"]})
    with pytest.raises(AuthError) as err:
        c.check()
    text = str(err.value)
    assert "account 'outlet-mailchimp' (MAILCHIMP_TEST_KEY)" in text and "API Key Invalid" in text
    assert err.value.request_id == problem["instance"] and err.value.status == 401
    encoded = base64.b64encode(f"pressure-sdk:{KEY}".encode()).decode()
    assert KEY not in text and encoded not in text and len(rsps.calls) == 1 and recorded_sleeps == []


def test_check_names_an_unknown_audience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, status=404, json=fixture("problem", title="Resource Not Found", status=404))
    with pytest.raises(ConnectorError, match="no audience 'a1b2c3d4e5'; check settings.list_id"):
        c.check()


def test_check_pages_the_segments_when_a_list_is_not_on_the_first_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, page_size=1)
    other = fixture("segment", id=5, name="someone else's")
    rsps.get(SEGMENTS, json={"segments": [other], "total_items": 2})
    rsps.get(SEGMENTS, json={"segments": [fixture("segment")], "total_items": 2})
    said = c.check()
    assert "list 'outlet-pause': static segment 70321" in said and "2 static segments" in said
    assert [query(call)["offset"] for call in rsps.calls] == ["0", "1"]


def test_a_problem_document_gives_title_detail_and_field_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, base_url=BASE)
    rsps.get(SEGMENTS, json={"segments": [], "total_items": 0})
    rsps.post(SEGMENTS, status=400, json=fixture("problem"), content_type="application/problem+json; charset=utf-8")
    with pytest.raises(PermanentAPIError) as err:
        list(c.push(LIST, members(1), [], members(1)))
    assert "Invalid Resource: The resource submitted could not be validated" in str(err.value)
    assert "(name: Required field not provided)" in str(err.value) and err.value.status == 400


def test_429_waits_for_retry_after_and_5xx_backs_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch)
    too_many = fixture("problem", title="Too Many Requests", status=429)
    rsps.get(SEGMENTS, status=429, json=too_many, headers={"Retry-After": "3"})
    rsps.get(SEGMENTS, status=429, json=too_many)  # no Retry-After: exponential backoff
    rsps.get(SEGMENTS, status=503, json=fixture("problem", title="Service Unavailable", status=503))
    rsps.get(SEGMENTS, json={"segments": [], "total_items": 0})
    c.check()
    assert recorded_sleeps[0] == 3 and len(recorded_sleeps) == 3
    assert 0.5 <= recorded_sleeps[1] <= 1.0 and 0.5 <= recorded_sleeps[2] <= 2.0


def test_a_read_timeout_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, body=requests.exceptions.ReadTimeout("slow"))
    rsps.get(SEGMENTS, json={"segments": [], "total_items": 0})
    c.check()
    assert len(rsps.calls) == 2 and len(recorded_sleeps) == 1


# -- pull ------------------------------------------------------------------------------------------------


def test_a_first_pull_reads_every_report_of_each_sent_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign")))
    bob = fixture("sent_to", email_address="bob@example.com", status="hard")
    rsps.get(f"{BASE}/reports/{CID}/sent-to", json=report("sent_to", [fixture("sent_to"), bob]))
    rsps.get(f"{BASE}/reports/{CID}/email-activity", json=report("emails", [fixture("email_activity")]))
    rsps.get(f"{BASE}/reports/{CID}/unsubscribed", json=report("unsubscribes", [fixture("unsubscribe")]))
    rsps.get(f"{BASE}/reports/{CID}/abuse-reports", json=report("abuse_reports", [fixture("abuse_report")]))
    batches = list(c.pull(None))

    assert query(rsps.calls[0]) == {
        "status": "sent",
        "list_id": LIST_ID,
        "since_send_time": "2026-02-08T12:00:00+00:00",  # backfill_days (30) before now
        "sort_field": "send_time",
        "sort_dir": "ASC",
        "count": "1000",
        "offset": "0",
    }
    assert [(path(call), query(call)) for call in rsps.calls[1:]] == [
        (f"/3.0/reports/{CID}/sent-to", {"count": "1000", "offset": "0"}),
        (f"/3.0/reports/{CID}/email-activity", {"count": "1000", "offset": "0"}),  # no since: every event
        (f"/3.0/reports/{CID}/unsubscribed", {"count": "1000", "offset": "0"}),
        (f"/3.0/reports/{CID}/abuse-reports", {}),  # no count or offset on this one
    ]
    touches = [t for b in batches for t in b.touches]
    assert touches == [
        Touch(
            event_id("sent", CID, "ana@example.com"), "ana@example.com", "email", "", "marketing", SENT, campaign=CID
        ),
        Touch(
            event_id("sent", CID, "bob@example.com"), "bob@example.com", "email", "", "marketing", SENT, campaign=CID
        ),
    ]
    engagements = [(e.type, e.at, e.channel) for b in batches for e in b.engagements]
    at = lambda text: int(datetime.fromisoformat(text).timestamp())  # noqa: E731
    assert engagements == [
        ("open", at("2026-03-01T10:00:00+00:00"), "email"),
        ("click", at("2026-03-01T10:01:00+00:00"), "email"),
        ("bounce", at("2026-03-01T09:05:00+00:00"), "email"),
        ("unsubscribe", at("2026-03-02T07:30:00+00:00"), "email"),
        ("complaint", at("2026-03-02T08:00:00+00:00"), "email"),
    ]
    click = next(e for b in batches for e in b.engagements if e.type == "click")
    assert click.event_id == event_id(
        "click", CID, "ana@example.com", "2026-03-01T10:01:00+00:00", "https://outlet.example/sale"
    )
    complaint = next(e for b in batches for e in b.engagements if e.type == "complaint")
    assert complaint.event_id == event_id("abuse", CID, 4401, "ana@example.com")
    # the campaign is done once its last report is read; the watermarks move at the end
    states = [b.state for b in batches]
    assert states[0] == {"listed": None, "activity": None, "done": {}}
    assert states[3] == {"listed": None, "activity": None, "done": {CID: "2026-03-01T09:00:00+00:00"}}
    assert states[-1] == {
        "listed": "2026-03-10T12:00:00+00:00",
        "activity": "2026-03-10T12:00:00+00:00",
        "done": {CID: "2026-03-01T09:00:00+00:00"},
    }


def test_report_pages_are_scheduled_from_total_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, page_size=2)
    rsps.get(f"{BASE}/campaigns", json={"campaigns": [fixture("campaign")], "total_items": 1})
    recipients = [fixture("sent_to", email_address=f"r{i}@example.com") for i in range(5)]
    for offset in (0, 2, 4):
        rsps.get(f"{BASE}/reports/{CID}/sent-to", json=report("sent_to", recipients[offset : offset + 2], total=5))
    empty_reports(rsps, sent_to=False)
    batches = list(c.pull(None))
    sent_to = [query(call) for call in rsps.calls if path(call).endswith("/sent-to")]
    assert sent_to == [{"count": "2", "offset": "0"}, {"count": "2", "offset": "2"}, {"count": "2", "offset": "4"}]
    assert sorted(t.email for b in batches for t in b.touches) == [f"r{i}@example.com" for i in range(5)]
    # first pages of every report, then the rest: the campaign is done after its last page
    done = [bool(b.state and b.state["done"]) for b in batches[:-1]]
    assert done == [False, False, False, False, False, True]


def test_a_later_pull_reads_known_campaigns_activity_since_the_watermark_and_new_ones_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    new = fixture("campaign", id="aaaaaaaaaa", send_time="2026-03-10T08:00:00+00:00")
    old = fixture("campaign", id="0000000000", send_time="2026-01-20T08:00:00+00:00")  # past activity_days
    rsps.get(f"{BASE}/campaigns", json=campaigns(old, fixture("campaign"), new))
    empty_reports(rsps, sent_to=False)
    empty_reports(rsps, "aaaaaaaaaa")
    state = {
        "listed": "2026-03-10T11:00:00+00:00",
        "activity": "2026-03-10T11:00:00+00:00",
        "done": {CID: "2026-03-01T09:00:00+00:00", "0000000000": "2026-01-20T08:00:00+00:00"},
    }
    batches = list(c.pull(state))
    # still-active campaigns are listed too: the earlier of now - activity_days and the last listing - overlap
    assert query(rsps.calls[0])["since_send_time"] == "2026-02-08T12:00:00+00:00"
    reads = [(path(call).split("/")[-2:], query(call).get("since")) for call in rsps.calls[1:]]
    assert reads == [
        ([CID, "email-activity"], "2026-03-10T10:00:00+00:00"),  # the watermark less overlap_minutes
        ([CID, "unsubscribed"], None),
        ([CID, "abuse-reports"], None),
        (["aaaaaaaaaa", "sent-to"], None),
        (["aaaaaaaaaa", "email-activity"], None),
        (["aaaaaaaaaa", "unsubscribed"], None),
        (["aaaaaaaaaa", "abuse-reports"], None),
    ]
    # the campaign past activity_days is neither read nor kept in the state
    assert batches[-1].state == {
        "listed": "2026-03-10T12:00:00+00:00",
        "activity": "2026-03-10T12:00:00+00:00",
        "done": {CID: "2026-03-01T09:00:00+00:00", "aaaaaaaaaa": "2026-03-10T08:00:00+00:00"},
    }


def test_a_long_pause_lists_everything_since_the_last_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, activity_days=7)
    rsps.get(f"{BASE}/campaigns", json=campaigns())
    state = {"listed": "2026-01-01T00:00:00+00:00", "activity": "2026-01-01T00:00:00+00:00", "done": {}}
    batches = list(c.pull(state))
    assert query(rsps.calls[0])["since_send_time"] == "2025-12-31T23:00:00+00:00"
    assert batches[-1].state["listed"] == "2026-03-10T12:00:00+00:00"  # type: ignore[index]


def test_one_pull_yields_an_event_once_even_when_pages_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, page_size=1)
    rsps.get(f"{BASE}/campaigns", json={"campaigns": [fixture("campaign")], "total_items": 2})
    # the same campaign again on the second page (the listing shifted): read once
    rsps.get(f"{BASE}/campaigns", json={"campaigns": [fixture("campaign")], "total_items": 2})
    ana = fixture("sent_to")
    rsps.get(f"{BASE}/reports/{CID}/sent-to", json=report("sent_to", [ana], total=2))
    rsps.get(f"{BASE}/reports/{CID}/sent-to", json=report("sent_to", [ana], total=2))
    empty_reports(rsps, sent_to=False)
    batches = list(c.pull(None))
    assert len([t for b in batches for t in b.touches]) == 1


def test_odd_rows_are_left_out_and_a_bad_time_is_a_payload_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign"), fixture("campaign", id="x", send_time="")))
    no_email = fixture("sent_to", email_address="")
    bad_email = fixture("sent_to", email_address="not an email")
    rsps.get(f"{BASE}/reports/{CID}/sent-to", json=report("sent_to", [no_email, bad_email, fixture("sent_to")]))
    weird = fixture("email_activity", activity=[{"action": "forward", "timestamp": "2026-03-01T10:00:00+00:00"}])
    rsps.get(f"{BASE}/reports/{CID}/email-activity", json=report("emails", [weird]))
    rsps.get(
        f"{BASE}/reports/{CID}/unsubscribed", json=report("unsubscribes", [fixture("unsubscribe", timestamp="soon")])
    )
    with pytest.raises(PayloadError, match="unsubscribed timestamp: 'soon' is not an ISO 8601 date-time"):
        for batch in c.pull(None):
            if batch.touches:
                # a campaign without a send time (still sending) is not read; rows without a usable email are skipped
                assert [t.email for t in batch.touches] == ["ana@example.com"]


# -- reads through /batches ------------------------------------------------------------------------------


def test_many_reads_go_through_a_batch_whose_results_are_fetched_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, batch_min_operations=4, batch_poll_interval=2)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign")))
    rsps.post(f"{BASE}/batches", json=fixture("batch", total_operations=4))
    rsps.get(f"{BASE}/batches/123abc", json=fixture("batch", status="started"))
    rsps.get(f"{BASE}/batches/123abc", json=fixture("batch", status="finished", response_body_url=ARCHIVE))
    results = [
        ok("0", report("sent_to", [fixture("sent_to")])),
        ok("1", report("emails", [fixture("email_activity")])),
        ok("2", report("unsubscribes", [])),
        ok("3", report("abuse_reports", [fixture("abuse_report")])),
    ]
    rsps.get(ARCHIVE, body=archive(results), content_type="application/x-gzip")
    batches = list(c.pull(None))
    assert body(rsps.calls[1]) == {
        "operations": [
            {
                "method": "GET",
                "path": f"/reports/{CID}/sent-to",
                "params": {"count": 1000, "offset": 0},
                "operation_id": "0",
            },
            {
                "method": "GET",
                "path": f"/reports/{CID}/email-activity",
                "params": {"count": 1000, "offset": 0},
                "operation_id": "1",
            },
            {
                "method": "GET",
                "path": f"/reports/{CID}/unsubscribed",
                "params": {"count": 1000, "offset": 0},
                "operation_id": "2",
            },
            {"method": "GET", "path": f"/reports/{CID}/abuse-reports", "params": {}, "operation_id": "3"},
        ]
    }
    assert "Authorization" not in rsps.calls[4].request.headers
    assert recorded_sleeps == [2, 4]  # the first poll waits, each later one twice as long
    assert len([t for b in batches for t in b.touches]) == 1
    assert sorted(e.type for b in batches for e in b.engagements) == ["bounce", "click", "complaint", "open"]
    assert batches[-1].state["done"] == {CID: "2026-03-01T09:00:00+00:00"}  # type: ignore[index]


def test_operations_the_archive_does_not_answer_are_read_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, batch_min_operations=1, batch_poll_interval=0)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign")))
    rsps.post(f"{BASE}/batches", json=fixture("batch"))
    rsps.get(f"{BASE}/batches/123abc", json=fixture("batch", status="finished", response_body_url=ARCHIVE))
    gone = {"status_code": 404, "operation_id": "0", "response": json.dumps(fixture("problem", status=404))}
    results = [gone, ok("1", report("emails", [])), {"status_code": 200, "operation_id": "2", "response": "{oops"}]
    rsps.get(ARCHIVE, body=archive(results))
    rsps.get(f"{BASE}/reports/{CID}/sent-to", json=report("sent_to", [fixture("sent_to")]))
    rsps.get(f"{BASE}/reports/{CID}/unsubscribed", json=report("unsubscribes", []))
    rsps.get(f"{BASE}/reports/{CID}/abuse-reports", json=report("abuse_reports", []))  # not in the archive at all
    batches = list(c.pull(None))
    direct = [path(call).split("/")[-1] for call in rsps.calls[4:]]
    assert direct == ["sent-to", "unsubscribed", "abuse-reports"]
    assert len([t for b in batches for t in b.touches]) == 1


@pytest.mark.parametrize("payload", [b"not gzip at all", gzip.compress(b"not a tar")])
def test_an_unreadable_archive_means_direct_reads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rsps: responses.RequestsMock,
    recorded_sleeps: list[float],
    payload: bytes,
) -> None:
    c = make(tmp_path, monkeypatch, batch_min_operations=1, batch_poll_interval=0)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign")))
    rsps.post(f"{BASE}/batches", json=fixture("batch"))
    rsps.get(f"{BASE}/batches/123abc", json=fixture("batch", status="finished", response_body_url=ARCHIVE))
    rsps.get(ARCHIVE, body=payload)
    empty_reports(rsps)
    list(c.pull(None))
    assert len(rsps.calls) == 4 + 4


def test_a_batch_not_finished_in_time_is_read_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, batch_min_operations=1, batch_poll_interval=5, batch_timeout=12)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign")))
    rsps.post(f"{BASE}/batches", json=fixture("batch"))
    rsps.get(f"{BASE}/batches/123abc", json=fixture("batch", status="started"))
    empty_reports(rsps)
    clock = iter(range(0, 1000, 5))
    c.reader.clock = lambda: next(clock)
    list(c.pull(None))
    polls = [call for call in rsps.calls if path(call) == "/3.0/batches/123abc"]
    assert len(polls) == 2 and recorded_sleeps == [5, 10]


def test_reads_are_split_into_batches_of_batch_max_operations_all_started_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, batch_min_operations=1, batch_max_operations=3, batch_poll_interval=0)
    rsps.get(f"{BASE}/campaigns", json=campaigns(fixture("campaign")))
    rsps.post(f"{BASE}/batches", json=fixture("batch", id="one"))
    rsps.post(f"{BASE}/batches", json=fixture("batch", id="two"))
    rsps.get(f"{BASE}/batches/one", json=fixture("batch", id="one", status="finished", response_body_url=ARCHIVE))
    rsps.get(
        ARCHIVE, body=archive([ok(str(i), report(k, [])) for i, k in enumerate(["sent_to", "emails", "unsubscribes"])])
    )
    second = ARCHIVE.replace("123abc", "two")
    rsps.get(f"{BASE}/batches/two", json=fixture("batch", id="two", status="finished", response_body_url=second))
    rsps.get(second, body=archive([ok("0", report("abuse_reports", []))]))
    list(c.pull(None))
    order = [(call.request.method, path(call)) for call in rsps.calls[1:]]
    assert order == [
        ("POST", "/3.0/batches"),
        ("POST", "/3.0/batches"),
        ("GET", "/3.0/batches/one"),
        ("GET", "/123abc-response.tar.gz"),
        ("GET", "/3.0/batches/two"),
        ("GET", "/two-response.tar.gz"),
    ]
    assert [len(body(call)["operations"]) for call in rsps.calls[1:3]] == [3, 1]


# -- audience --------------------------------------------------------------------------------------------


def test_a_first_audience_pull_reads_every_member_and_maps_statuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, page_size=2)
    url = f"{BASE}/lists/{LIST_ID}/members"
    page1 = [
        fixture("member"),
        fixture("member", id="h2", email_address="Gone@Example.com", status="unsubscribed"),
    ]
    page2 = [fixture("member", id="h3", email_address="bounced@example.com", status="cleaned")]
    rsps.get(url, json={"members": page1, "list_id": LIST_ID, "total_items": 3})
    rsps.get(url, json={"members": page2, "list_id": LIST_ID, "total_items": 3})
    batches = list(c.pull_audience(None))
    assert [query(call) for call in rsps.calls] == [{"count": "2", "offset": "0"}, {"count": "2", "offset": "2"}]
    changed = int(datetime(2026, 3, 5, 12, tzinfo=UTC).timestamp())
    assert [ct for b in batches for ct in b.contacts] == [
        ContactUpdate("ana@example.com", external_id=page1[0]["id"], status="subscribed", status_at=changed),
        ContactUpdate("gone@example.com", external_id="h2", status="unsubscribed", status_at=changed),
        ContactUpdate("bounced@example.com", external_id="h3", status=None, status_at=changed),
    ]
    # a page's batch says where to resume; the last one sets the watermark to the run's now
    assert batches[0].state["resume"] == {"count": 2, "offset": 2}  # type: ignore[index]
    assert batches[-1].state == {"until": "2026-03-10T12:00:00Z"}


def test_a_later_audience_pull_asks_for_members_changed_since_the_watermark_less_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/lists/{LIST_ID}/members", json={"members": [], "total_items": 0})
    batches = list(c.pull_audience({"until": "2026-03-09T12:00:00Z"}))
    assert query(rsps.calls[0]) == {"count": "1000", "offset": "0", "since_last_changed": "2026-03-09T11:50:00+00:00"}
    assert batches[-1].state == {"until": "2026-03-10T12:00:00Z"}


# -- push ------------------------------------------------------------------------------------------------


def segments_page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"segments": list(items), "list_id": LIST_ID, "total_items": len(items), "_links": []}


def segment_answer(added: list[str] = (), removed: list[str] = (), errors: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "members_added": [fixture("member", email_address=e) for e in added],
        "members_removed": [fixture("member", email_address=e) for e in removed],
        "errors": list(errors),
        "total_added": len(added),
        "total_removed": len(removed),
        "error_count": len(errors),
        "_links": [],
    }


def test_a_first_push_creates_the_segment_then_adds_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment", id=1, name="newsletter")))
    rsps.post(SEGMENTS, json=fixture("segment"))
    adds = members(3)
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=[m.email.lower() for m in adds]))
    batches = list(c.push(LIST, adds, [], adds))
    assert query(rsps.calls[0]) == {"type": "static", "count": "1000", "offset": "0"}
    assert body(rsps.calls[1]) == {"name": "outlet-pause", "static_segment": []}
    assert body(rsps.calls[2]) == {
        "members_to_add": ["user00001@example.com", "user00002@example.com", "user00003@example.com"]
    }
    assert batches == [PushBatch(added=[1, 2, 3])]


def test_adds_and_removes_share_calls_500_of_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    adds, removes = members(600), members(700, start=1001)
    rsps.post(
        f"{SEGMENTS}/70321",
        json=segment_answer(
            added=[m.email.lower() for m in adds[:500]], removed=[m.email.lower() for m in removes[:500]]
        ),
    )
    rsps.post(
        f"{SEGMENTS}/70321",
        json=segment_answer(
            added=[m.email.lower() for m in adds[500:]], removed=[m.email.lower() for m in removes[500:]]
        ),
    )
    batches = list(c.push(LIST, adds, removes, adds))
    first, second = body(rsps.calls[1]), body(rsps.calls[2])
    assert (len(first["members_to_add"]), len(first["members_to_remove"])) == (500, 500)
    assert (len(second["members_to_add"]), len(second["members_to_remove"])) == (100, 200)
    assert [(len(b.added), len(b.removed)) for b in batches] == [(500, 500), (100, 200)]


def test_adds_without_a_mailchimp_id_join_the_audience_first_as_transactional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    fresh, there, refused = members(3, known=False)
    known = members(1, start=9)[0]
    rsps.post(
        f"{BASE}/lists/{LIST_ID}",
        json={
            "new_members": [
                fixture("member", id="newid", email_address="user00001@example.com", status="transactional")
            ],
            "updated_members": [],
            "errors": [
                {
                    "email_address": "user00002@example.com",
                    "error": "already a list member",
                    "error_code": "ERROR_CONTACT_EXISTS",
                },
                {"email_address": "user00003@example.com", "error": "looks fake", "error_code": "ERROR_GENERIC"},
            ],
            "total_created": 1,
            "total_updated": 0,
            "error_count": 2,
        },
    )
    # user00002 is on the audience and in the segment already: ignored by the segment call
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00001@example.com", "user00009@example.com"]))
    batches = list(c.push(LIST, [fresh, there, refused, known], [], []))
    assert body(rsps.calls[1]) == {
        "members": [
            {"email_address": "user00001@example.com", "status": "transactional"},
            {"email_address": "user00002@example.com", "status": "transactional"},
            {"email_address": "user00003@example.com", "status": "transactional"},
        ],
        "update_existing": False,
    }
    assert body(rsps.calls[2]) == {
        "members_to_add": ["user00001@example.com", "user00002@example.com", "user00009@example.com"]
    }
    assert batches == [PushBatch(added=[1, 2, 9], missing=[3], external_ids={1: "newid"})]


def test_an_ignored_add_whose_id_was_known_is_checked_after_the_adds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    adds = members(3)
    # 2 was in the segment already; 3 was deleted from the audience since its id was learned
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00001@example.com"]))
    rsps.post(
        f"{BASE}/lists/{LIST_ID}",
        json={
            "new_members": [fixture("member", id="back", email_address="user00003@example.com")],
            "errors": [{"email_address": "user00002@example.com", "error_code": "ERROR_CONTACT_EXISTS"}],
        },
    )
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00003@example.com"]))
    batches = list(c.push(LIST, adds, [], adds))
    assert [m["email_address"] for m in body(rsps.calls[2])["members"]] == [
        "user00002@example.com",
        "user00003@example.com",
    ]
    assert body(rsps.calls[3]) == {"members_to_add": ["user00003@example.com"]}
    assert batches == [PushBatch(added=[1]), PushBatch(added=[2, 3], external_ids={3: "back"})]


def test_emails_named_in_errors_are_not_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    adds, removes = members(2), members(2, start=5)
    refused = {"email_addresses": ["user00002@example.com", "user00006@example.com"], "error": "nope"}
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00001@example.com"], errors=[refused]))
    assert list(c.push(LIST, adds, removes, adds)) == [PushBatch(added=[1], removed=[5], missing=[2])]


def test_without_add_missing_members_unknown_or_ignored_adds_are_reported_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, add_missing_members=False)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00001@example.com"]))
    adds = members(2, known=False)
    assert list(c.push(LIST, adds, [], adds)) == [PushBatch(added=[1]), PushBatch(missing=[2])]
    assert not any(path(call) == f"/3.0/lists/{LIST_ID}" for call in rsps.calls)


def test_the_segment_call_is_retried_but_creating_a_segment_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    rsps.post(f"{SEGMENTS}/70321", status=503, json=fixture("problem", status=503, title="Service Unavailable"))
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00001@example.com"]))
    assert list(c.push(LIST, members(1), [], [])) == [PushBatch(added=[1])]
    other = make(tmp_path / "b", monkeypatch)
    rsps.get(SEGMENTS, json=segments_page())
    rsps.post(SEGMENTS, status=500, json=fixture("problem", status=500, title="Internal Server Error"))
    with pytest.raises(TransientAPIError):
        list(other.push(LIST, members(1), [], []))
    assert sum(1 for call in rsps.calls if call.request.url == SEGMENTS and call.request.method == "POST") == 1


def test_the_oldest_static_segment_of_a_name_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment", id=90), fixture("segment", id=80)))
    rsps.post(f"{SEGMENTS}/80", json=segment_answer(removed=["user00001@example.com"]))
    assert list(c.push(LIST, [], members(1), [])) == [PushBatch(removed=[1])]
    assert body(rsps.calls[1]) == {"members_to_remove": ["user00001@example.com"]}


# -- list inspection -------------------------------------------------------------------------------------


def test_inspection_finds_the_segment_and_counts_members_of_every_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, page_size=2)
    # member_count (active subscribers only) is not the size
    rsps.get(SEGMENTS, json=segments_page(fixture("segment", member_count=1)))
    url = f"{SEGMENTS}/70321/members"
    rsps.get(url, json={"members": [fixture("member")], "total_items": 3})
    assert c.inspect_list(LIST) == RemoteList(exists=True, size=3)
    every = {"include_cleaned": "true", "include_transactional": "true", "include_unsubscribed": "true"}
    assert query(rsps.calls[1]) == {**every, "count": "1", "offset": "0"}
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    rsps.get(
        url, json={"members": [fixture("member"), fixture("member", email_address="B@example.com")], "total_items": 3}
    )
    rsps.get(url, json={"members": [fixture("member", email_address="c@example.com")], "total_items": 3})
    full = c.inspect_list(LIST, full=True)
    assert full == RemoteList(
        exists=True,
        size=3,
        members=[RemoteMember("ana@example.com"), RemoteMember("b@example.com"), RemoteMember("c@example.com")],
    )
    assert [query(call) for call in rsps.calls[3:]] == [{**every, "count": "2", "offset": o} for o in ("0", "2")]


def test_a_segment_found_gone_is_created_again_by_the_next_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(SEGMENTS, json=segments_page(fixture("segment")))
    rsps.post(f"{SEGMENTS}/70321", json=segment_answer(added=["user00001@example.com"]))
    list(c.push(LIST, members(1), [], []))
    rsps.get(SEGMENTS, json=segments_page())
    assert c.inspect_list(LIST) == RemoteList(exists=False)
    rsps.get(SEGMENTS, json=segments_page())
    rsps.post(SEGMENTS, json=fixture("segment", id=70400))
    rsps.post(f"{SEGMENTS}/70400", json=segment_answer(added=["user00001@example.com"]))
    assert list(c.push(LIST, members(1), [], [])) == [PushBatch(added=[1])]


def test_stable_event_ids_hide_the_email() -> None:
    eid = event_id("sent", CID, "ana@example.com")
    assert eid.startswith("mailchimp-sent-") and "ana" not in eid and eid == event_id("sent", CID, "ana@example.com")
    assert eid != event_id("sent", CID, "bob@example.com") and eid != event_id("sent", "other", "ana@example.com")
