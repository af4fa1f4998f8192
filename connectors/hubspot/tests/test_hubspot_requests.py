"""Every request the connector sends and every answer shape it reads, against ``responses`` mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from pressure_connector_hubspot import HubSpotConnector
from responses import matchers

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.errors import (
    AuthError,
    ConnectorError,
    PayloadError,
    PermanentAPIError,
    RateLimitError,
    TransientAPIError,
)
from pressure_sdk.ledger import Member
from pressure_sdk.models import Engagement, Touch

API = "https://api.hubapi.com"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"  # noqa: S105 - a fake token
NOW = 1_700_086_400  # seconds; the one-day slice below is [NOW - 1 day, NOW)
START_MS = (NOW - 86400) * 1000
END_MS = NOW * 1000 - 1
EVENTS = f"{API}/email/public/v1/events"
TIMELINE = f"{API}/email/public/v1/subscriptions/timeline"
BATCH_READ = f"{API}/crm/v3/objects/contacts/batch/read"
LISTS = f"{API}/crm/v3/lists"
BY_NAME = f"{LISTS}/object-type-id/0-1/name/pressure-marketing"
MEMBERSHIPS = f"{LISTS}/123/memberships/add-and-remove"
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **settings: Any) -> HubSpotConnector:
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    base = {"backfill_days": 1, "lag": 0, "retry": {"max_attempts": 3}}
    data = {
        "workspace": {"name": "t", "ledger": str(tmp_path / "l.db")},
        "brands": {"maison": {}},
        "accounts": [
            {
                "name": "hs",
                "connector": "hubspot",
                "brand": "maison",
                "credential_env": "HUBSPOT_TOKEN",
                "settings": {**base, **settings},
                "lists": [{"name": "pressure-marketing"}],
            }
        ],
    }
    cfg = parse_config(data, source="t.toml", base_dir=tmp_path)
    connector = HubSpotConnector.from_account(cfg.accounts[0], cfg, 0)
    assert isinstance(connector, HubSpotConnector)
    connector.now = lambda: NOW  # type: ignore[method-assign]
    return connector


@pytest.fixture
def hs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HubSpotConnector:
    return build(monkeypatch, tmp_path)


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def empty_timeline(mock: responses.RequestsMock, **params: Any) -> None:
    query = {"startTimestamp": str(START_MS), "endTimestamp": str(END_MS), "limit": "1000", **params}
    mock.get(TIMELINE, json={"timeline": [], "hasMore": False}, match=[matchers.query_param_matcher(query)])


def members(n: int, start: int = 1, *, known: bool = False) -> list[Member]:
    return [Member(i, f"m{i}@example.com", str(10_000 + i) if known else None) for i in range(start, start + n)]


# -- pull -------------------------------------------------------------------------------


def test_events_query_and_mapping(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    query = {
        "startTimestamp": str(START_MS),
        "endTimestamp": str(END_MS),
        "limit": "1000",
        "excludeFilteredEvents": "true",
    }
    mock.get(
        EVENTS,
        json=fixture("events_page.json"),
        match=[matchers.query_param_matcher(query), matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )
    empty_timeline(mock)
    batches = list(hs.pull(None))
    touches = [t for b in batches for t in b.touches]
    engagements = [e for b in batches for e in b.engagements]
    # SENT and the PROCESSED that names it in sentBy are one message: one touch, at the SENT time
    assert touches == [
        Touch("1700000000000:e-sent", "ana@example.com", "email", "maison", "marketing", 1_700_000_000, campaign="42")
    ]
    assert {(e.type, e.event_id, e.at) for e in engagements} == {
        ("delivered", "1700000200000:e-deliv:delivered", 1_700_000_200),
        ("open", "1700000300000:e-open:open", 1_700_000_300),
    }
    assert all(isinstance(e, Engagement) and e.channel == "email" for e in engagements)
    assert batches[-1].state == {"until": NOW * 1000}
    assert all(b.state is None for b in batches[:-1]), "no page may move the watermark before its slice is done"


def test_processed_without_sent_still_makes_the_touch(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    page = fixture("events_page.json")
    page["events"] = [e for e in page["events"] if e["type"] == "PROCESSED"]
    mock.get(EVENTS, json=page)
    empty_timeline(mock)
    touches = [t for b in hs.pull(None) for t in b.touches]
    # same id and time as the SENT would give: the ledger keeps one touch whichever it sees
    assert [(t.event_id, t.at) for t in touches] == [("1700000000000:e-sent", 1_700_000_000)]


def test_event_types_kept_and_ignored(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    def ev(i: int, kind: str, **kw: Any) -> dict[str, Any]:
        return {"id": f"x{i}", "created": 1_700_000_000_000 + i, "type": kind, "recipient": "a@b.co", **kw}

    events = [
        ev(1, "CLICK", url="https://shop"),
        ev(2, "BOUNCE", category="HARD_BOUNCE"),
        ev(3, "SPAMREPORT"),
        ev(4, "STATUSCHANGE", portalSubscriptionStatus="UNSUBSCRIBED", subscriptions=[]),
        ev(5, "STATUSCHANGE", portalSubscriptionStatus="SUBSCRIBED", subscriptions=[{"id": 1, "status": "SUBSCRIBED"}]),
        ev(6, "STATUSCHANGE", subscriptions=[{"id": 7, "status": "UNSUBSCRIBED"}]),
        ev(7, "DROPPED", dropReason="PREVIOUSLY_BOUNCED"),
        ev(8, "DEFERRED"),
        ev(9, "FORWARD"),
        ev(10, "SUPPRESSED"),
        {"id": "x11", "created": 1_700_000_000_011, "type": "UNBOUNCE"},
    ]
    mock.get(EVENTS, json={"events": events, "hasMore": False})
    empty_timeline(mock)
    got = sorted((e.event_id, e.type) for b in hs.pull(None) for e in b.engagements)
    assert got == [
        ("1700000000001:x1:click", "click"),
        ("1700000000002:x2:bounce", "bounce"),
        ("1700000000003:x3:complaint", "complaint"),
        ("1700000000004:x4:unsubscribe", "unsubscribe"),
        ("1700000000006:x6:unsubscribe", "unsubscribe"),
    ]


def test_timeline_mapping_and_dedupe_with_events(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    spam = {"id": "e-spam", "created": 1_700_000_500_000, "type": "SPAMREPORT", "recipient": "carl@example.com"}
    mock.get(EVENTS, json={"events": [spam], "hasMore": False})
    mock.get(TIMELINE, json=fixture("timeline_page.json"))
    rows = [e for b in hs.pull(None) for e in b.engagements]
    got = sorted((e.email, e.type, e.at) for e in rows)
    # the spam report is stored once (event and timeline share its id); the unsubscribe it caused is kept;
    # two SUBSCRIBED changes of one item make one resubscribe; BOUNCED changes are left to the events feed
    assert got == [
        ("carl@example.com", "complaint", 1_700_000_500),
        ("carl@example.com", "unsubscribe", 1_700_000_500),
        ("dina@example.com", "resubscribe", 1_700_000_400),
    ]
    assert len({e.event_id for e in rows}) == len(rows)
    assert not any("dina" in e.event_id for e in rows), "ids must not carry an email"


def test_pages_follow_offset_until_has_more_is_false(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path, page_size=2)
    base = {"startTimestamp": str(START_MS), "endTimestamp": str(END_MS), "limit": "2", "excludeFilteredEvents": "true"}

    def ev(i: int) -> dict[str, Any]:
        return {"id": f"o{i}", "created": 1_700_000_000_000 + i, "type": "OPEN", "recipient": f"r{i}@x.io"}

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(
            EVENTS,
            json={"events": [ev(4), ev(3)], "hasMore": True, "offset": "tok-1"},
            match=[matchers.query_param_matcher(base)],
        )
        mock.get(
            EVENTS,
            # a page may repeat an event it already gave (new events shift HubSpot's window): kept once
            json={"events": [ev(3), ev(2)], "hasMore": True, "offset": "tok-2"},
            match=[matchers.query_param_matcher({**base, "offset": "tok-1"})],
        )
        mock.get(
            EVENTS,
            json={"events": [ev(1)], "hasMore": False, "offset": "tok-3"},
            match=[matchers.query_param_matcher({**base, "offset": "tok-2"})],
        )
        tl = {"startTimestamp": str(START_MS), "endTimestamp": str(END_MS), "limit": "2"}
        mock.get(
            TIMELINE,
            json={"timeline": [], "hasMore": True, "offset": "t-1"},
            match=[matchers.query_param_matcher(tl)],
        )
        mock.get(
            TIMELINE,
            json={"timeline": [], "hasMore": False},
            match=[matchers.query_param_matcher({**tl, "offset": "t-1"})],
        )
        batches = list(hs.pull(None))
    ids = [e.event_id for b in batches for e in b.engagements]
    assert sorted(ids) == [f"170000000000{i}:o{i}:open" for i in (1, 2, 3, 4)]
    assert batches[-1].state == {"until": NOW * 1000}


def test_repeated_offset_is_a_payload_error(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(EVENTS, json={"events": [], "hasMore": True, "offset": "same"})
    mock.get(EVENTS, json={"events": [], "hasMore": True, "offset": "same"})
    with pytest.raises(PayloadError, match="twice"):
        list(hs.pull(None))


def test_backfill_is_sliced_and_restartable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path, backfill_days=3, lag=600, overlap=3600)
    end = (NOW - 600) * 1000
    start = (NOW - 3 * 86400) * 1000
    bounds = [(start, start + 86400_000), (start + 86400_000, start + 2 * 86400_000), (start + 2 * 86400_000, end)]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        for a, b in bounds:
            q = {"startTimestamp": str(a), "endTimestamp": str(b - 1)}
            mock.get(
                EVENTS,
                json={"events": [], "hasMore": False},
                match=[matchers.query_param_matcher(q, strict_match=False)],
            )
            mock.get(
                TIMELINE,
                json={"timeline": [], "hasMore": False},
                match=[matchers.query_param_matcher(q, strict_match=False)],
            )
        states = [b.state for b in hs.pull(None)]
    assert states == [{"until": b} for _, b in bounds]
    # a run killed after the first slice restarts there, minus the overlap
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(EVENTS, json={"events": [], "hasMore": False})
        mock.get(TIMELINE, json={"timeline": [], "hasMore": False})
        list(hs.pull({"until": bounds[0][1]}))
        first = mock.calls[0].request
    assert first.params["startTimestamp"] == str(bounds[0][1] - 3600_000)


def test_watermark_never_moves_back(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    later = NOW * 1000 + 5000  # a previous run with a later clock
    mock.get(EVENTS, json={"events": [], "hasMore": False})
    mock.get(TIMELINE, json={"timeline": [], "hasMore": False})
    states = [b.state for b in hs.pull({"until": later}) if b.state]
    assert states and all(s["until"] == later for s in states)


def test_bad_watermark_is_a_clear_error(hs: HubSpotConnector) -> None:
    with pytest.raises(ConnectorError, match="until"):
        list(hs.pull({"files": {}}))


def test_event_without_event_id_is_a_payload_error(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(EVENTS, json={"events": [{"type": "OPEN", "recipient": "a@b.co"}], "hasMore": False})
    with pytest.raises(PayloadError, match="created"):
        list(hs.pull(None))


# -- push -------------------------------------------------------------------------------


def test_list_lookup_then_create_then_push(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, status=404, json=fixture("list_not_found.json"))
    mock.post(
        LISTS,
        json=fixture("list.json"),
        match=[
            matchers.json_params_matcher(
                {"name": "pressure-marketing", "objectTypeId": "0-1", "processingType": "MANUAL"}
            )
        ],
    )
    mock.put(
        MEMBERSHIPS,
        json={"recordsIdsAdded": ["10001"], "recordIdsRemoved": ["10002"], "recordIdsMissing": []},
        match=[matchers.json_params_matcher({"recordIdsToAdd": ["10001"], "recordIdsToRemove": ["10002"]})],
    )
    adds, removes = members(1, known=True), members(1, start=2, known=True)
    out = list(hs.push(ListConfig(name="pressure-marketing"), adds, removes, adds))
    assert [(b.added, b.removed, b.missing) for b in out] == [([1], [2], [])]


def test_batch_read_bodies_and_chunk_sizes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path, membership_batch_size=120)
    reads: list[list[str]] = []
    puts: list[dict[str, Any]] = []

    def read(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        assert body["idProperty"] == "email" and body["properties"] == ["email"]
        emails = [i["id"] for i in body["inputs"]]
        reads.append(emails)
        results = [{"id": str(10_000 + int(e[1:].split("@")[0])), "properties": {"email": e}} for e in emails]
        return 200, {}, json.dumps({"status": "COMPLETE", "results": results})

    def put(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        puts.append(body)
        return (
            200,
            {},
            json.dumps({"recordsIdsAdded": body["recordIdsToAdd"], "recordIdsRemoved": [], "recordIdsMissing": []}),
        )

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(BY_NAME, json=fixture("list.json"))
        mock.add_callback(responses.POST, BATCH_READ, callback=read)
        mock.add_callback(responses.PUT, MEMBERSHIPS, callback=put)
        adds = members(250)
        out = list(hs.push(ListConfig(name="pressure-marketing"), adds, [], adds))
    assert [len(r) for r in reads] == [100, 20, 100, 20, 10], "at most 100 inputs per read, no more than a call needs"
    assert [len(p["recordIdsToAdd"]) for p in puts] == [120, 120, 10]
    assert all(p["recordIdsToRemove"] == [] for p in puts)
    assert sorted(c for b in out for c in b.added) == list(range(1, 251))
    assert out[0].external_ids[1] == "10001" and sum(len(b.external_ids) for b in out) == 250


def test_207_partial_read_and_missing_records(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.post(
        BATCH_READ,
        status=207,
        json=fixture("batch_read_207.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "idProperty": "email",
                    "inputs": [{"id": "ana@example.com"}, {"id": "bob@example.com"}],
                    "properties": ["email"],
                    "propertiesWithHistory": [],
                }
            )
        ],
    )
    # carl's stored id no longer exists in HubSpot: reported missing by the call
    mock.put(
        MEMBERSHIPS,
        json={"recordsIdsAdded": ["501"], "recordIdsRemoved": [], "recordIdsMissing": ["777"]},
        match=[matchers.json_params_matcher({"recordIdsToAdd": ["501", "777"], "recordIdsToRemove": []})],
    )
    adds = [
        Member(1, "Ana@Example.com", None),
        Member(2, "bob@example.com", None),
        Member(3, "carl@example.com", "777"),
    ]
    (batch,) = list(hs.push(ListConfig(name="pressure-marketing"), adds, [], adds))
    assert batch.added == [1]
    assert sorted(batch.missing) == [2, 3]
    assert batch.external_ids == {1: "501"}


def test_removal_of_a_contact_hubspot_does_not_know_is_done(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.post(BATCH_READ, status=207, json={"status": "COMPLETE", "results": [], "numErrors": 1, "errors": []})
    (batch,) = list(hs.push(ListConfig(name="pressure-marketing"), [], [Member(9, "gone@example.com", None)], []))
    assert batch.removed == [9] and batch.added == []


def test_dynamic_list_is_refused(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    found = fixture("list.json")
    found["list"]["processingType"] = "DYNAMIC"
    mock.get(BY_NAME, json=found)
    with pytest.raises(ConnectorError, match="DYNAMIC.*MANUAL"):
        list(hs.push(ListConfig(name="pressure-marketing"), members(1, known=True), [], []))


def test_lost_create_answer_is_recovered_by_name(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    mock.get(BY_NAME, status=404, json=fixture("list_not_found.json"))
    mock.post(LISTS, status=502, json=fixture("error.json"))
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.put(MEMBERSHIPS, json={"recordsIdsAdded": ["10001"], "recordIdsRemoved": [], "recordIdsMissing": []})
    out = list(hs.push(ListConfig(name="pressure-marketing"), members(1, known=True), [], []))
    assert out[0].added == [1]
    assert len([c for c in mock.calls if c.request.method == "POST"]) == 1, "a create is never blindly repeated"


def test_duplicate_name_on_create_uses_the_existing_list(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, status=404, json=fixture("list_not_found.json"))
    mock.post(LISTS, status=400, json={**fixture("error.json"), "message": "A list with this name already exists."})
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.put(MEMBERSHIPS, json={"recordsIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []})
    out = list(hs.push(ListConfig(name="pressure-marketing"), members(1, known=True), [], []))
    assert out[0].added == [1]


def test_push_failure_stops_before_unconfirmed_batches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recorded_sleeps: list[float]
) -> None:
    hs = build(monkeypatch, tmp_path, membership_batch_size=2)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(BY_NAME, json=fixture("list.json"))
        mock.put(MEMBERSHIPS, json={"recordsIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []})
        for _ in range(3):
            mock.put(MEMBERSHIPS, status=500, json=fixture("error.json"))
        confirmed = []
        with pytest.raises(TransientAPIError):
            for b in hs.push(ListConfig(name="pressure-marketing"), members(5, known=True), [], []):
                confirmed += b.added
    assert confirmed == [1, 2]


# -- errors, retries, limits ----------------------------------------------------------------


def test_401_is_an_auth_error_without_retry(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    body = {
        "status": "error",
        "message": "Authentication credentials not found.",
        "category": "INVALID_AUTHENTICATION",
        "correlationId": "c-401",
    }
    mock.get(EVENTS, status=401, json=body)
    with pytest.raises(AuthError) as err:
        hs.check()
    assert len(mock.calls) == 1 and recorded_sleeps == []
    assert "INVALID_AUTHENTICATION" in str(err.value) and "c-401" in str(err.value)
    assert TOKEN not in str(err.value) and TOKEN not in (err.value.body or "")


def test_429_waits_as_hubspot_says(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    limited = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Remaining": "0"}
    mock.get(EVENTS, status=429, json=fixture("rate_limit.json"), headers={**limited, "Retry-After": "3"})
    mock.get(EVENTS, status=429, json=fixture("rate_limit.json"), headers=limited)  # no Retry-After: one window
    mock.get(EVENTS, json={"events": [], "hasMore": False})
    mock.get(BY_NAME, json=fixture("list.json"))
    assert hs.check().startswith("token ok")
    # Retry-After first; without it, the interval header (10 s); the pacer may also sit out the
    # window the 429 reported (remaining 0), which in real time overlaps the Retry-After wait
    assert recorded_sleeps[0] == 3.0
    assert any(abs(s - 10.0) < 0.5 for s in recorded_sleeps[1:]), recorded_sleeps
    assert all(s <= 10.0 for s in recorded_sleeps)


def test_429_storm_ends_in_rate_limit_error(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    for _ in range(3):
        mock.get(EVENTS, status=429, json=fixture("rate_limit.json"), headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError, match="TEN_SECONDLY_ROLLING"):
        hs.check()


def test_5xx_retried_then_transient_error(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    for _ in range(3):
        mock.get(EVENTS, status=503, json=fixture("error.json"))
    with pytest.raises(TransientAPIError) as err:
        hs.check()
    assert len(mock.calls) == 3 and len(recorded_sleeps) == 2
    assert err.value.status == 503


def test_error_body_goes_into_the_message(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.post(BATCH_READ, status=400, json=fixture("error.json"))
    mock.get(BY_NAME, json=fixture("list.json"))
    with pytest.raises(PermanentAPIError) as err:
        list(hs.push(ListConfig(name="pressure-marketing"), members(1), [], []))
    text = str(err.value)
    assert "Property values were not valid [VALIDATION_ERROR]" in text
    assert "5c1b7a4e-0000-4000-8000-00000000c0de" in text and TOKEN not in text
    assert len(mock.calls) == 2, "a 400 is not retried"


def test_correlation_header_is_the_request_id(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(
        EVENTS,
        status=403,
        json={**fixture("error.json"), "category": "MISSING_SCOPES"},
        headers={"X-HubSpot-Correlation-Id": "hdr-1"},
    )
    with pytest.raises(PermanentAPIError) as err:
        hs.check()
    assert err.value.request_id == "hdr-1"
    assert "scopes" in str(err.value) and str(err.value).count("hdr-1") == 1


def test_pacer_waits_a_window_when_the_budget_is_low(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    low = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Remaining": "1"}
    mock.get(EVENTS, json={"events": [], "hasMore": False}, headers=low)
    mock.get(BY_NAME, json=fixture("list.json"))
    hs.check()
    assert len(recorded_sleeps) == 1 and 9.0 < recorded_sleeps[0] <= 10.0


def test_check_names_each_list(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(EVENTS, json={"events": [], "hasMore": False}, match=[matchers.query_param_matcher({"limit": "1"})])
    mock.get(BY_NAME, json=fixture("list.json"))
    assert hs.check() == "token ok; events readable; list 'pressure-marketing' found (id 123, MANUAL)"


def test_malformed_json_is_a_payload_error(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(EVENTS, body='{"events": [', content_type="application/json")
    with pytest.raises(PayloadError, match="not JSON"):
        list(hs.pull(None))


def test_missing_token_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path)
    monkeypatch.delenv("HUBSPOT_TOKEN")
    with pytest.raises(AuthError, match="HUBSPOT_TOKEN"):
        hs.check()


def test_date_versioned_lists_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path, lists_path_prefix="/crm/lists/2026-03/")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(f"{API}/crm/lists/2026-03/object-type-id/0-1/name/pressure-marketing", json=fixture("list.json"))
        mock.put(
            f"{API}/crm/lists/2026-03/123/memberships/add-and-remove",
            json={"recordsIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []},
        )
        list(hs.push(ListConfig(name="pressure-marketing"), members(1, known=True), [], []))


def test_max_batch_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert build(monkeypatch, tmp_path).max_batch == 1000
    assert build(monkeypatch, tmp_path, membership_batch_size=250).max_batch == 250
