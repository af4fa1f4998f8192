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
from pressure_sdk.connectors.base import RemoteList, RemoteMember
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
    hs = build(monkeypatch, tmp_path, backfill_days=3, lag=600, overlap=3600, page_size=2)
    end = (NOW - 600) * 1000
    start = (NOW - 3 * 86400) * 1000
    day = 86400_000
    # a slice HubSpot answers in one page is followed by one twice as wide; one of several pages resets the width
    bounds = [(start, start + day), (start + day, start + 3 * day - 600_000)]
    full = {"events": [{"id": "x", "created": start + day + 5, "type": "OPEN", "recipient": "a@b.co"}] * 2}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        q = {"startTimestamp": str(start), "endTimestamp": str(start + day - 1)}
        mock.get(
            EVENTS, json={"events": [], "hasMore": False}, match=[matchers.query_param_matcher(q, strict_match=False)]
        )
        mock.get(
            TIMELINE,
            json={"timeline": [], "hasMore": False},
            match=[matchers.query_param_matcher(q, strict_match=False)],
        )
        q = {"startTimestamp": str(start + day), "endTimestamp": str(end - 1)}
        mock.get(
            EVENTS,
            json={**full, "hasMore": True, "offset": "o1"},
            match=[matchers.query_param_matcher(q, strict_match=False)],
        )
        mock.get(
            EVENTS,
            json={"events": [], "hasMore": False},
            match=[matchers.query_param_matcher({**q, "offset": "o1"}, strict_match=False)],
        )
        mock.get(
            TIMELINE,
            json={"timeline": [], "hasMore": False},
            match=[matchers.query_param_matcher(q, strict_match=False)],
        )
        states = [b.state for b in hs.pull(None) if b.state]
    assert states == [{"until": b} for _, b in bounds]
    assert bounds[-1][1] == end
    # a run killed after the first slice restarts there, minus the overlap, one slice wide again
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(EVENTS, json={"events": [], "hasMore": False})
        mock.get(TIMELINE, json={"timeline": [], "hasMore": False})
        list(hs.pull({"until": bounds[0][1]}))
        first = mock.calls[0].request
    assert first.params["startTimestamp"] == str(bounds[0][1] - 3600_000)
    assert first.params["endTimestamp"] == str(bounds[0][1] - 3600_000 + day - 1)


def test_an_empty_backfill_costs_two_requests_per_widened_slice_not_per_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hs = build(monkeypatch, tmp_path, backfill_days=90, lag=600)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(EVENTS, json={"events": [], "hasMore": False})
        mock.get(TIMELINE, json={"timeline": [], "hasMore": False})
        states = [b.state for b in hs.pull(None) if b.state]
        widths = [
            (int(c.request.params["endTimestamp"]) + 1 - int(c.request.params["startTimestamp"])) // 86400_000
            for c in mock.calls
            if c.request.url.startswith(EVENTS)
        ]
        requests_made = len(mock.calls)
    # 1, 2, 4, 8, 16 days, then 30-day slices (max_slice) to now: 7 slices, 14 requests instead of 180
    assert widths == [1, 2, 4, 8, 16, 30, 28]
    assert requests_made == 14 and states[-1] == {"until": (NOW - 600) * 1000}


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


# -- audience ---------------------------------------------------------------------------------

CONTACTS = f"{API}/crm/v3/objects/contacts"
SEARCH = f"{API}/crm/v3/objects/contacts/search"
LIST_QUERY = {"limit": "100", "properties": "email,hs_email_optout,lastmodifieddate"}
SINCE = 1_700_000_000_000  # an audience watermark, ms
OVERLAP_MS = 300_000  # the default audience_overlap


def iso(ms: int) -> str:
    """HubSpot's v3 date format."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def contact(cid: int, modified: int, *, email: str | None = "", optout: str | None = "false") -> dict[str, Any]:
    props: dict[str, Any] = {
        "email": f"c{cid}@example.com" if email == "" else email,
        "hs_email_optout": optout,
        "hs_object_id": str(cid),
        "createdate": iso(1_600_000_000_000),
        "lastmodifieddate": iso(modified),
    }
    return {
        "id": str(cid),
        "properties": props,
        "createdAt": iso(1_600_000_000_000),
        "updatedAt": iso(modified),
        "archived": False,
    }


def search_body(value: int, *, after: str | None = None, limit: int = 100) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(value)}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "hs_email_optout", "lastmodifieddate"],
        "limit": limit,
    }
    if after is not None:
        body["after"] = after
    return body


def test_first_audience_pull_reads_every_contact_page_by_page(
    hs: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    page1 = [
        contact(101, 1_650_000_000_123, email="Ana@Example.com "),
        contact(102, 1_650_000_001_000, optout="true"),
        contact(103, 1_650_000_002_000, email=None),  # no email: skipped
    ]
    page2 = [contact(104, 1_650_000_003_000, optout=None), contact(105, 1_650_000_004_000, email="  ")]
    auth = matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})
    mock.get(
        CONTACTS,
        json={"results": page1, "paging": {"next": {"after": "c-2", "link": "x"}}},
        match=[matchers.query_param_matcher(LIST_QUERY), auth],
    )
    mock.get(CONTACTS, json={"results": page2}, match=[matchers.query_param_matcher({**LIST_QUERY, "after": "c-2"})])
    batches = list(hs.pull_audience(None))
    rows = [(c.email, c.external_id, c.status, c.status_at, c.channel) for b in batches for c in b.contacts]
    assert rows == [
        ("ana@example.com", "101", "subscribed", 1_650_000_000, "email"),
        ("c102@example.com", "102", "unsubscribed", 1_650_000_001, "email"),
        ("c104@example.com", "104", "subscribed", 1_650_000_003, "email"),
    ]
    # each page's state resumes after it; the last one is the watermark: the time the read began
    assert [b.state for b in batches] == [{"started": NOW * 1000, "after": "c-2"}, {"since": NOW * 1000}]


def test_killed_first_pull_resumes_at_its_cursor(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    started = (NOW - 600) * 1000
    mock.get(
        CONTACTS,
        json={"results": [contact(301, 1_650_000_000_000)]},
        match=[matchers.query_param_matcher({**LIST_QUERY, "after": "c-3"})],
    )
    (batch,) = list(hs.pull_audience({"started": started, "after": "c-3"}))
    assert [c.external_id for c in batch.contacts] == ["301"]
    assert batch.state == {"since": started}, "the watermark is when the interrupted read began"


def test_refused_resume_cursor_reads_everything_again(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    mock.get(
        CONTACTS,
        status=400,
        json={**fixture("error.json"), "message": "Invalid after"},
        match=[matchers.query_param_matcher({**LIST_QUERY, "after": "stale"})],
    )
    mock.get(
        CONTACTS, json={"results": [contact(1, 1_650_000_000_000)]}, match=[matchers.query_param_matcher(LIST_QUERY)]
    )
    batches = list(hs.pull_audience({"started": 5, "after": "stale"}))
    assert [c.external_id for b in batches for c in b.contacts] == ["1"]
    assert batches[-1].state == {"since": NOW * 1000}


def test_400_without_a_saved_cursor_is_an_error(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(CONTACTS, status=400, json=fixture("error.json"))
    with pytest.raises(PermanentAPIError, match="VALIDATION_ERROR"):
        list(hs.pull_audience(None))
    assert len(mock.calls) == 1


def test_incremental_pull_searches_from_the_watermark_minus_overlap(
    hs: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    start = SINCE - OVERLAP_MS
    a, b, c = start + 10, SINCE + 5_000, SINCE + 9_000
    mock.post(
        SEARCH,
        json={
            "total": 4,
            "results": [contact(7, a), contact(8, b), contact(9, b, optout="true")],
            "paging": {"next": {"after": "3", "link": "?after=3"}},
        },
        match=[matchers.json_params_matcher(search_body(start))],
    )
    # the next request starts a new query at the last date read; contact 9 comes back first and is skipped
    mock.post(
        SEARCH,
        json={"total": 3, "results": [contact(8, b), contact(9, b, optout="true"), contact(10, c, email=None)]},
        match=[matchers.json_params_matcher(search_body(b))],
    )
    batches = list(hs.pull_audience({"since": SINCE}))
    rows = [(x.external_id, x.status, x.status_at) for bt in batches for x in bt.contacts]
    assert rows == [("7", "subscribed", a // 1000), ("8", "subscribed", b // 1000), ("9", "unsubscribed", b // 1000)]
    assert [bt.state for bt in batches] == [{"since": b}, {"since": c}]


def test_a_page_of_one_date_continues_its_query_with_the_cursor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hs = build(monkeypatch, tmp_path, audience_page_size=2)
    start = SINCE - OVERLAP_MS
    t = SINCE + 1_000
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(
            SEARCH,
            json={"results": [contact(1, start), contact(2, t)], "paging": {"next": {"after": "2"}}},
            match=[matchers.json_params_matcher(search_body(start, limit=2))],
        )
        # restarted at t: contact 2 again and 3, both at t: the page is one date, so the query goes on
        mock.post(
            SEARCH,
            json={"results": [contact(2, t), contact(3, t)], "paging": {"next": {"after": "2"}}},
            match=[matchers.json_params_matcher(search_body(t, limit=2))],
        )
        mock.post(
            SEARCH,
            json={"results": [contact(4, t), contact(5, t + 1)], "paging": {"next": {"after": "4"}}},
            match=[matchers.json_params_matcher(search_body(t, after="2", limit=2))],
        )
        mock.post(
            SEARCH,
            json={"results": [contact(5, t + 1)]},
            match=[matchers.json_params_matcher(search_body(t + 1, limit=2))],
        )
        batches = list(hs.pull_audience({"since": SINCE}))
    assert [x.external_id for bt in batches for x in bt.contacts] == ["1", "2", "3", "4", "5"]
    assert [bt.state for bt in batches] == [{"since": t}, {"since": t}, {"since": t + 1}, {"since": t + 1}]


def test_search_never_pages_into_the_10000_results_cap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recorded_sleeps: list[float]
) -> None:
    """25,000 changed contacts: HubSpot refuses offsets past 10,000, so every query restarts at the last date."""
    hs = build(monkeypatch, tmp_path)
    start = SINCE - OVERLAP_MS
    # 25,000 contacts, modified 40 at a time (ties cross page boundaries)
    store = [contact(1000 + i, start + (i // 40) * 1000) for i in range(25_000)]
    offsets: list[int] = []

    def search(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body if isinstance(request.body, (str, bytes)) else b"{}")
        (flt,) = body["filterGroups"][0]["filters"]
        assert flt["propertyName"] == "lastmodifieddate" and flt["operator"] == "GTE"
        assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
        value = int(flt["value"])
        offset = int(body.get("after") or 0)
        offsets.append(offset)
        if offset >= 10_000:
            return 400, {}, json.dumps({**fixture("error.json"), "message": "cannot page past 10000 results"})
        first = -(-(value - start) // 1000) * 40  # the first contact modified at or after value
        chosen = store[first:]
        page = chosen[offset : offset + body["limit"]]
        answer: dict[str, Any] = {"total": len(chosen), "results": page}
        if len(chosen) > offset + body["limit"]:
            answer["paging"] = {"next": {"after": str(offset + body["limit"])}}
        return 200, {}, json.dumps(answer)

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add_callback(responses.POST, SEARCH, callback=search)
        batches = list(hs.pull_audience({"since": SINCE}))
    got = [x.external_id for bt in batches for x in bt.contacts]
    assert len(got) == len(set(got)) == 25_000
    assert max(offsets) < 10_000 and offsets.count(0) == len(offsets), "each request is a new query"
    assert batches[-1].state == {"since": start + (24_999 // 40) * 1000}
    # 100 per page; each restart re-reads the 20 contacts of its boundary date already yielded:
    # 100 new on the first page, 80 on each next one: 1 + ceil(24,900 / 80) = 313 requests
    assert len(offsets) == 313


def test_watermark_never_moves_back_and_empty_search_keeps_it(
    hs: HubSpotConnector, mock: responses.RequestsMock
) -> None:
    mock.post(SEARCH, json={"total": 1, "results": [contact(1, SINCE - 1000)]})  # inside the overlap
    mock.post(SEARCH, json={"total": 0, "results": []})
    assert [b.state for b in hs.pull_audience({"since": SINCE})] == [{"since": SINCE}]
    assert [b.state for b in hs.pull_audience({"since": SINCE})] == [{"since": SINCE}]


def test_search_out_of_order_is_a_payload_error(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.post(SEARCH, json={"results": [contact(1, SINCE + 10), contact(2, SINCE)]})
    with pytest.raises(PayloadError, match="ascending"):
        list(hs.pull_audience({"since": SINCE}))


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ({"properties": {"email": "a@b.co"}}, "no 'id'"),
        ({"id": "1", "properties": {"email": "a@b.co", "lastmodifieddate": "yesterday"}}, "not a date"),
    ],
)
def test_bad_contact_is_a_payload_error(
    hs: HubSpotConnector, mock: responses.RequestsMock, result: dict[str, Any], match: str
) -> None:
    mock.get(CONTACTS, json={"results": [result]})
    with pytest.raises(PayloadError, match=match):
        list(hs.pull_audience(None))


def test_epoch_millisecond_dates_are_read_too(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    row = contact(1, 0)
    row["properties"]["lastmodifieddate"] = "1650000000999"
    mock.get(CONTACTS, json={"results": [row]})
    (batch,) = list(hs.pull_audience(None))
    assert batch.contacts[0].status_at == 1_650_000_000


@pytest.mark.parametrize("state", [{"since": "x"}, {"started": 1}, {"after": "c"}, {"until": 5}])
def test_bad_audience_watermark_is_a_clear_error(hs: HubSpotConnector, state: dict[str, Any]) -> None:
    with pytest.raises(ConnectorError, match="audience watermark"):
        list(hs.pull_audience(state))


def test_searches_are_spaced_by_the_search_rate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mock: responses.RequestsMock
) -> None:
    hs = build(monkeypatch, tmp_path, search_rate=4, audience_page_size=2)
    clock = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("pressure_sdk.http.client.sleep", sleep)
    hs.monotonic = lambda: clock[0]  # type: ignore[method-assign]
    t = SINCE
    for i in range(3):
        mock.post(
            SEARCH,
            json={
                "results": [contact(2 * i, t + 2 * i), contact(2 * i + 1, t + 2 * i + 1)],
                "paging": {"next": {"after": "2"}},
            },
        )
    mock.post(SEARCH, json={"results": []})
    list(hs.pull_audience({"since": SINCE}))
    assert waits == [0.25, 0.25, 0.25], "at most 4 searches a second"
    clock[0] += 10
    mock.post(SEARCH, json={"results": []})
    list(hs.pull_audience({"since": SINCE}))
    assert waits == [0.25, 0.25, 0.25], "no wait after a quiet second"


def test_search_429_and_5xx_are_retried(
    hs: HubSpotConnector, mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    limited = {
        **fixture("rate_limit.json"),
        "message": "You have reached your secondly limit.",
        "policyName": "SECONDLY",
    }
    mock.post(SEARCH, status=429, json=limited, headers={"Retry-After": "1"})
    mock.post(SEARCH, status=502, json=fixture("error.json"))
    mock.post(SEARCH, json={"results": [contact(1, SINCE + 1)]})
    (batch,) = list(hs.pull_audience({"since": SINCE}))
    assert [c.external_id for c in batch.contacts] == ["1"]
    assert len(mock.calls) == 3 and 1.0 in recorded_sleeps


def test_missing_contacts_scope_names_the_readme(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(CONTACTS, status=403, json={**fixture("error.json"), "category": "MISSING_SCOPES"})
    with pytest.raises(PermanentAPIError, match="scopes listed in the HubSpot connector's README"):
        list(hs.pull_audience(None))


# -- list inspection ----------------------------------------------------------------------------

MEMBERS = f"{LISTS}/123/memberships"


def test_inspect_missing_list_creates_nothing(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, status=404, json=fixture("list_not_found.json"))
    assert hs.inspect_list(ListConfig(name="pressure-marketing")) == RemoteList(exists=False)
    assert hs.inspect_list(ListConfig(name="pressure-marketing"), full=True) == RemoteList(exists=False)
    assert [c.request.method for c in mock.calls] == ["GET", "GET"], "a look, never a create"


def test_inspect_gives_the_size_hubspot_reports(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    found = fixture("list.json")
    found["list"]["size"] = 42
    mock.get(BY_NAME, json=found)
    assert hs.inspect_list(ListConfig(name="pressure-marketing")) == RemoteList(exists=True, size=42)
    assert len(mock.calls) == 1, "without full, one request"


def test_inspect_without_size_says_unknown(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    found = fixture("list.json")
    del found["list"]["size"]
    mock.get(BY_NAME, json=found)
    assert hs.inspect_list(ListConfig(name="pressure-marketing")) == RemoteList(exists=True, size=None)


def test_inspect_full_reads_every_membership_page(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, json=fixture("list.json"))  # size 0: stale, the membership read is what counts
    mock.get(
        MEMBERS,
        json={
            "results": [{"recordId": "11", "membershipTimestamp": "x"}, {"recordId": 12}],
            "paging": {"next": {"after": "m-1", "link": "x"}},
            "total": 3,
        },
        match=[matchers.query_param_matcher({"limit": "250"})],
    )
    mock.get(
        MEMBERS,
        json={"results": [{"recordId": "13"}], "total": 3},
        match=[matchers.query_param_matcher({"limit": "250", "after": "m-1"})],
    )
    got = hs.inspect_list(ListConfig(name="pressure-marketing"), full=True)
    assert got == RemoteList(
        exists=True,
        size=3,
        members=[RemoteMember(external_id="11"), RemoteMember(external_id="12"), RemoteMember(external_id="13")],
    )


def test_inspect_full_of_a_list_deleted_meanwhile(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.get(MEMBERS, status=404, json=fixture("list_not_found.json"))
    assert hs.inspect_list(ListConfig(name="pressure-marketing"), full=True) == RemoteList(exists=False)


def test_membership_without_record_id_is_a_payload_error(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.get(MEMBERS, json={"results": [{"membershipTimestamp": "x"}]})
    with pytest.raises(PayloadError, match="recordId"):
        hs.inspect_list(ListConfig(name="pressure-marketing"), full=True)


def test_list_deleted_by_hand_is_recreated_by_the_next_push(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    lst = ListConfig(name="pressure-marketing")
    mock.get(BY_NAME, json=fixture("list.json"))
    mock.put(MEMBERSHIPS, json={"recordsIdsAdded": ["10001"], "recordIdsRemoved": [], "recordIdsMissing": []})
    list(hs.push(lst, members(1, known=True), [], []))
    # someone deletes the list in HubSpot: inspection sees it, and the push that repairs it creates it again
    mock.get(BY_NAME, status=404, json=fixture("list_not_found.json"))
    assert hs.inspect_list(lst) == RemoteList(exists=False)
    made = fixture("list.json")
    made["list"]["listId"] = "456"
    mock.post(LISTS, json=made)
    mock.put(
        f"{LISTS}/456/memberships/add-and-remove",
        json={"recordsIdsAdded": ["10001"], "recordIdsRemoved": [], "recordIdsMissing": []},
    )
    (batch,) = list(hs.push(lst, members(1, known=True), [], members(1, known=True)))
    assert batch.added == [1]


def test_inspect_uses_the_date_versioned_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path, lists_path_prefix="/crm/lists/2026-03")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(f"{API}/crm/lists/2026-03/object-type-id/0-1/name/pressure-marketing", json=fixture("list.json"))
        mock.get(f"{API}/crm/lists/2026-03/123/memberships", json={"results": [{"recordId": "5"}]})
        got = hs.inspect_list(ListConfig(name="pressure-marketing"), full=True)
    assert got is not None and got.members == [RemoteMember(external_id="5")]


def test_search_cursor_that_does_not_move_is_a_payload_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hs = build(monkeypatch, tmp_path, audience_page_size=2)
    t = SINCE + 1
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        one_date = {"results": [contact(1, t), contact(2, t)], "paging": {"next": {"after": "2"}}}
        mock.post(SEARCH, json=one_date)
        mock.post(SEARCH, json=one_date)  # the same cursor again: HubSpot is not moving on
        with pytest.raises(PayloadError, match="twice"):
            list(hs.pull_audience({"since": SINCE}))


def test_email_the_ledger_refuses_is_left_out(hs: HubSpotConnector, mock: responses.RequestsMock) -> None:
    page = [contact(1, 1_650_000_000_000, email="not-an-address"), contact(2, 1_650_000_000_000)]
    mock.get(CONTACTS, json={"results": page})
    (batch,) = list(hs.pull_audience(None))
    assert [c.external_id for c in batch.contacts] == ["2"] and batch.state == {"since": NOW * 1000}
