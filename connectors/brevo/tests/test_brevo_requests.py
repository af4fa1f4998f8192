"""Every request the connector sends and every answer it reads, against ``responses`` mocks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from pressure_connector_brevo import BrevoConnector
from pressure_connector_brevo.mapping import bucket_of

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.connectors.base import RemoteList, RemoteMember
from pressure_sdk.errors import AuthError, PayloadError, PermanentAPIError, RateLimitError, TransientAPIError
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import ContactUpdate, Engagement, Touch

BASE = "https://api.brevo.test/v3"
KEY = "xkeysib-0123456789abcdef-requests-test"
ENV = "BREVO_TEST_KEY"
#: 2026-03-10T12:00:00Z
NOW = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
LIST = ListConfig(name="pressure-suppression", brand="velo")


def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> BrevoConnector:
    monkeypatch.setenv(ENV, KEY)
    cfg = parse_config(
        {
            "workspace": {"ledger": "ledger.db"},
            "brands": {"velo": {}},
            "accounts": [
                {
                    "name": "velo-brevo",
                    "connector": "brevo",
                    "brand": "velo",
                    "credential_env": ENV,
                    "base_url": BASE,
                    "settings": {"retry": {"backoff": 0.5}, **settings},
                    "lists": [{"name": LIST.name}],
                }
            ],
        },
        base_dir=tmp_path,
    )
    connector = BrevoConnector.from_account(cfg.accounts[0], cfg, 0)
    connector.now = lambda: NOW  # type: ignore[method-assign]
    assert isinstance(connector, BrevoConnector)
    return connector


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def members(n: int, start: int = 1) -> list[Member]:
    return [Member(i, f"user{i:05d}@example.com", None) for i in range(start, start + n)]


def tx(event: str, date: str, n: int, link: str | None = None, email: str = "a@example.com") -> dict[str, Any]:
    row = {"email": email, "date": date, "event": event, "messageId": f"<m{n}@brevo>"}
    if link:
        row["link"] = link
    return row


# -- pull: transactional events ---------------------------------------------------------------------


def test_first_run_reads_the_backfill_window_in_pages_ascending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, events_page_size=2, backfill_days=3, campaigns=False)
    url = f"{BASE}/smtp/statistics/events"
    page1 = [tx("requests", "2026-03-07T10:00:00Z", 1), tx("delivered", "2026-03-07T10:00:05Z", 1)]
    page2 = [tx("opened", "2026-03-08T09:00:00.000+01:00", 1)]
    rsps.get(url, json={"events": page1})
    rsps.get(url, json={"events": page2})
    batches = list(c.pull(None))
    first, second = rsps.calls[0], rsps.calls[1]
    assert query(first) == {
        "startDate": ["2026-03-07"],
        "endDate": ["2026-03-10"],
        "sort": ["asc"],
        "limit": ["2"],
        "offset": ["0"],
    }
    assert query(second)["offset"] == ["2"] and query(second)["startDate"] == ["2026-03-07"]
    assert first.request.headers["api-key"] == KEY
    touches = [t for b in batches for t in b.touches]
    engagements = [e for b in batches for e in b.engagements]
    assert [(t.family, t.channel, t.email) for t in touches] == [("transactional", "email", "a@example.com")]
    assert [e.type for e in engagements] == ["delivered", "open"]
    assert engagements[1].at == int(datetime(2026, 3, 8, 8, tzinfo=UTC).timestamp())
    # pages come in creation order, not by date: no page moves the watermark; each says where to resume
    window = [int(datetime(2026, 3, 7, tzinfo=UTC).timestamp()), NOW]
    resume = {"startDate": "2026-03-07", "endDate": "2026-03-10", "sort": "asc", "limit": 2, "offset": 2}
    assert [b.state["tx"] for b in batches if b.state] == [
        {"until": None, "window": window, "stream": 0, "resume": resume},
        {"until": None, "window": window, "stream": 1},  # the window is read: only its end is left
        "2026-03-10T12:00:00Z",
    ]


def test_a_run_killed_between_pages_resumes_the_window_at_the_next_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    """Creation order is not date order: the newest date of page 1 must not become the watermark."""
    c = make(tmp_path, monkeypatch, events_page_size=2, backfill_days=3, campaigns=False)
    url = f"{BASE}/smtp/statistics/events"
    rsps.get(
        url, json={"events": [tx("requests", "2026-03-09T10:00:00Z", 1), tx("delivered", "2026-03-09T10:00:01Z", 1)]}
    )
    first = next(iter(c.pull(None)))  # the run is killed once page 1 is committed
    # page 2 holds an event created later but dated earlier (a late delivery report of 7 March)
    rsps.get(url, json={"events": [tx("delivered", "2026-03-07T08:00:00Z", 2)]})
    later = make(tmp_path, monkeypatch, events_page_size=2, backfill_days=3, campaigns=False)
    later.now = lambda: NOW + 3600  # type: ignore[method-assign]
    rsps.get(url, json={})
    batches = list(later.pull(first.state))
    resumed = query(rsps.calls[1])
    assert resumed == {
        "startDate": ["2026-03-07"],
        "endDate": ["2026-03-10"],
        "sort": ["asc"],
        "limit": ["2"],
        "offset": ["2"],
    }
    assert [e.at for b in batches for e in b.engagements] == [int(datetime(2026, 3, 7, 8, tzinfo=UTC).timestamp())]
    # then as a new run would: from the day before the resumed window's end, from offset 0
    assert query(rsps.calls[2])["startDate"] == ["2026-03-09"] and query(rsps.calls[2])["offset"] == ["0"]
    assert batches[-1].state == {"tx": "2026-03-10T13:00:00Z", "mk": None}


def test_a_watermark_stored_before_the_kit_is_read_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, campaigns=False)
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    batches = list(c.pull({"tx": "2026-03-08T17:45:00Z", "mk": None}))
    assert query(rsps.calls[0])["startDate"] == ["2026-03-07"]
    assert batches[-1].state == {"tx": "2026-03-10T12:00:00Z", "mk": None}


def test_resume_rereads_the_day_before_and_dedupes_the_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, events_page_size=3, campaigns=False)
    url = f"{BASE}/smtp/statistics/events"
    dup = tx("clicks", "2026-03-09T23:59:59Z", 7, link="https://x/1")
    other_link = tx("clicks", "2026-03-09T23:59:59Z", 7, link="https://x/2")
    # events were appended meanwhile, so the same click shows at the end of one page and the start of the next
    rsps.get(
        url,
        json={"events": [tx("requests", "2026-03-09T23:00:00Z", 7), tx("delivered", "2026-03-09T23:00:01Z", 7), dup]},
    )
    rsps.get(url, json={"events": [dup, other_link]})
    batches = list(c.pull({"tx": "2026-03-10T00:30:00Z", "mk": None}))
    assert query(rsps.calls[0])["startDate"] == ["2026-03-09"]
    assert query(rsps.calls[0])["endDate"] == ["2026-03-10"]
    clicks = [e for b in batches for e in b.engagements if e.type == "click"]
    assert len(clicks) == 2 and len({e.event_id for e in clicks}) == 2
    # the watermark never goes back: re-read events are older than it, and pages keep it
    assert batches[-1].state == {"tx": "2026-03-10T12:00:00Z", "mk": None}
    assert all(b.state and b.state["tx"]["until"] == "2026-03-10T00:30:00Z" for b in batches[:-1])


def test_event_ids_are_stable_across_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = []
    for _ in range(2):
        with responses.RequestsMock() as r:
            r.get(f"{BASE}/smtp/statistics/events", json={"events": [tx("requests", "2026-03-09T10:00:00Z", 1)]})
            c = make(tmp_path, monkeypatch, campaigns=False)
            ids.append([t.event_id for b in c.pull(None) for t in b.touches])
            c.close()
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_ignored_transactional_events_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, campaigns=False)
    kinds = [
        "deferred",
        "blocked",
        "invalid",
        "error",
        "loadedByProxy",
        "bounces",
        "hardBounces",
        "softBounces",
        "spam",
        "unsubscribed",
        "clicks",
    ]
    rsps.get(
        f"{BASE}/smtp/statistics/events",
        json={"events": [tx(k, f"2026-03-09T10:00:{i:02d}Z", i) for i, k in enumerate(kinds)]},
    )
    types = [e.type for b in c.pull(None) for e in b.engagements]
    assert types == ["bounce", "bounce", "complaint", "unsubscribe", "click"]


def test_an_old_watermark_is_read_in_windows_of_at_most_90_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, campaigns=False)
    url = f"{BASE}/smtp/statistics/events"
    for _ in range(3):
        rsps.get(url, json={})  # Brevo answers {} when nothing matches
    states = [b.state for b in c.pull({"tx": "2025-09-01T00:00:00Z"})]
    windows = [(query(call)["startDate"][0], query(call)["endDate"][0]) for call in rsps.calls]
    assert windows == [("2025-08-31", "2025-11-29"), ("2025-11-30", "2026-02-28"), ("2026-03-01", "2026-03-10")]
    for start, end in windows:
        assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days <= 90
    # a window in progress keeps the watermark; each finished window moves it to the window's end
    assert {s["tx"]["until"] for s in states if s and isinstance(s["tx"], dict)} == {
        "2025-09-01T00:00:00Z",
        "2025-11-30T00:00:00Z",
        "2026-03-01T00:00:00Z",
    }
    marks = [s["tx"] for s in states if s and isinstance(s["tx"], str)]
    assert marks == ["2025-11-30T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-10T12:00:00Z"]


def test_a_failed_page_keeps_the_state_of_the_pages_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, events_page_size=1, campaigns=False)
    url = f"{BASE}/smtp/statistics/events"
    rsps.get(url, json={"events": [tx("requests", "2026-03-09T10:00:00Z", 1)]})
    for _ in range(5):
        rsps.get(url, status=503, json={"code": "internal_error", "message": "try later"})
    seen = []
    with pytest.raises(TransientAPIError):
        for batch in c.pull({"tx": "2026-03-09T00:00:00Z"}):
            seen.append(batch.state)
    # the page read is committed with where to resume: the next run asks for offset 1 of the same window
    window = [int(datetime(2026, 3, 8, tzinfo=UTC).timestamp()), NOW]
    resume = {"startDate": "2026-03-08", "endDate": "2026-03-10", "sort": "asc", "limit": 1, "offset": 1}
    assert seen == [
        {"tx": {"until": "2026-03-09T00:00:00Z", "window": window, "stream": 0, "resume": resume}, "mk": None}
    ]


# -- pull: campaign events (campaignStats per contact) ----------------------------------------------


STATS = {
    "messagesSent": [{"campaignId": 12, "eventTime": "2026-03-09T08:00:00Z"}],
    "delivered": [{"campaignId": 12, "eventTime": "2026-03-09T08:00:03Z"}],
    "hardBounces": [{"campaignId": 13, "eventTime": "2026-03-09T08:00:04Z"}],
    "softBounces": [{"campaignId": 14, "eventTime": "2026-03-09T08:00:05Z"}],
    "complaints": [{"campaignId": 12, "eventTime": "2026-03-09T09:00:00Z"}],
    "opened": [{"campaignId": 12, "count": 3, "eventTime": "2026-03-09T08:30:00Z", "ip": "203.0.113.1"}],
    "clicked": [
        {
            "campaignId": 12,
            "links": [
                {"count": 1, "eventTime": "2026-03-09T08:31:00Z", "ip": "203.0.113.1", "url": "https://v/a"},
                {"count": 2, "eventTime": "2026-03-09T08:32:00Z", "ip": "203.0.113.1", "url": "https://v/b"},
            ],
        }
    ],
    "unsubscriptions": {
        "userUnsubscription": [{"campaignId": 12, "eventTime": "2026-03-09T10:00:00Z", "ip": "203.0.113.1"}],
        "adminUnsubscription": [{"eventTime": "2026-03-09T11:00:00Z", "ip": "198.51.100.1"}],
    },
}


def sent(cid: int, lists: list[int], **stats: int) -> dict[str, Any]:
    """A getEmailCampaigns item: its recipient lists and global statistics."""
    return {
        "id": cid,
        "name": f"c{cid}",
        "status": "sent",
        "sentDate": "2026-03-09T08:00:00Z",
        "recipients": {"lists": lists, "exclusionLists": []},
        "statistics": {"globalStats": {"sent": 1, **stats}},
    }


CAMPAIGNS = f"{BASE}/emailCampaigns"


def test_campaign_stats_per_contact_map_every_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=2, backfill_days=2, campaign_list_ids=[4, 9])
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"campaigns": [sent(12, [4, 5]), sent(13, [9, 11])], "count": 2})
    contacts = [{"id": 1, "email": "One@Example.com"}, {"id": 2, "email": "two@example.com"}]
    rsps.get(f"{BASE}/contacts", json={"contacts": contacts, "count": 3})
    rsps.get(f"{BASE}/contacts/1/campaignStats", json=STATS)
    rsps.get(f"{BASE}/contacts/2/campaignStats", status=404, json={"code": "document_not_found", "message": "gone"})
    rsps.get(f"{BASE}/contacts", json={"contacts": [{"id": 3, "email": "three@example.com"}], "count": 3})
    rsps.get(f"{BASE}/contacts/3/campaignStats", json={})
    batches = list(c.pull(None))
    # the campaigns sent from the horizon (90 days) before the window to now, with their statistics only
    assert query(rsps.calls[1]) == {
        "status": ["sent"],
        "startDate": ["2025-12-08T00:00:00.000Z"],
        "endDate": ["2026-03-10T12:00:00.000Z"],
        "statistics": ["globalStats"],
        "excludeHtmlContent": ["true"],
        "sort": ["asc"],
        "limit": ["100"],
        "offset": ["0"],
    }
    contact_calls = [call for call in rsps.calls if urlsplit(call.request.url).path == "/v3/contacts"]
    # contacts of the lists those campaigns went to, within the configured lists
    assert query(contact_calls[0]) == {"listIds": ["4", "9"], "sort": ["asc"], "limit": ["2"], "offset": ["0"]}
    assert query(contact_calls[1])["offset"] == ["2"]
    stats_call = next(call for call in rsps.calls if "/contacts/1/campaignStats" in call.request.url)
    assert query(stats_call) == {"startDate": ["2026-03-08"], "endDate": ["2026-03-10"]}
    touches = [t for b in batches for t in b.touches]
    assert touches == [
        Touch(
            touches[0].event_id,
            "one@example.com",
            "email",
            "",
            "marketing",
            int(datetime(2026, 3, 9, 8, tzinfo=UTC).timestamp()),
            campaign="12",
        )
    ]
    engagements: list[Engagement] = [e for b in batches for e in b.engagements]
    assert sorted(e.type for e in engagements) == sorted(
        ["delivered", "bounce", "bounce", "complaint", "open", "click", "click", "unsubscribe", "unsubscribe"]
    )
    ids = [t.event_id for t in touches] + [e.event_id for e in engagements]
    assert len(ids) == len(set(ids))
    mk_states = [b.state["mk"] for b in batches if b.state and b.state["mk"]]
    digests = mk_states[-1]["stats"]
    assert set(digests) == {"12", "13"} and all(m["stats"] == digests for m in mk_states)
    assert [m.get("resume", {}).get("offset") for m in mk_states] == [2, None, None]
    assert mk_states[-1] == {"until": "2026-03-10", "stats": digests}


def test_campaign_pass_reads_no_contact_when_no_campaign_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"campaigns": [sent(12, [4], viewed=3)], "count": 1})
    rsps.get(f"{BASE}/contacts", json={"contacts": [{"id": 8, "email": "e@x.com"}], "count": 1})
    rsps.get(f"{BASE}/contacts/8/campaignStats", json={})
    state = list(c.pull(None))[-1].state
    assert len(rsps.calls) == 4
    # an hour later, the same statistics: one request for the campaigns, none per contact
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"campaigns": [sent(12, [4], viewed=3)], "count": 1})
    c.now = lambda: NOW + 3600  # type: ignore[method-assign]
    again = list(c.pull(state))
    assert [urlsplit(call.request.url).path for call in rsps.calls[4:]] == [
        "/v3/smtp/statistics/events",
        "/v3/emailCampaigns",
    ]
    assert again[-1].state["mk"]["stats"] == state["mk"]["stats"]
    # one more open: only the contacts of that campaign's lists are read again
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"campaigns": [sent(12, [4], viewed=4), sent(14, [6])], "count": 2})
    rsps.get(f"{BASE}/contacts", json={"contacts": [{"id": 8, "email": "e@x.com"}], "count": 1})
    rsps.get(f"{BASE}/contacts/8/campaignStats", json={})
    list(c.pull(again[-1].state))
    contacts_call = rsps.calls[8]
    assert urlsplit(contacts_call.request.url).path == "/v3/contacts"
    assert query(contacts_call)["listIds"] == ["4", "6"]


def test_a_campaign_sent_to_a_segment_reads_every_contact_and_none_sent_reads_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"campaigns": [sent(12, [])], "count": 1})  # no list: a segment
    rsps.get(f"{BASE}/contacts", json={"contacts": [], "count": 0})
    list(c.pull(None))
    assert "listIds" not in query(rsps.calls[2])
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"count": 0})  # nothing sent within the horizon
    batches = list(c.pull(None))
    assert len(rsps.calls) == 5 and batches[-1].state["mk"] == {"until": "2026-03-10", "stats": {}}


def test_campaign_pass_resumes_at_its_offset_with_the_same_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=5)
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(f"{BASE}/contacts", json={"contacts": [], "count": 40})
    rsps.get(CAMPAIGNS, json={"campaigns": [sent(12, [])], "count": 1})
    rsps.get(f"{BASE}/contacts", json={"contacts": [{"id": 8, "email": "e@x.com"}], "count": 1})
    rsps.get(f"{BASE}/contacts/8/campaignStats", json={})
    # a pass in progress as the connector stored it before the kit: it resumes, no campaign asked
    state = {"tx": "2026-03-10T11:00:00Z", "mk": {"since": "2026-03-01", "until": "2026-03-05", "offset": 40}}
    batches = list(c.pull(state))
    assert query(rsps.calls[1]) == {"sort": ["asc"], "offset": ["40"], "limit": ["5"]}
    marks = [b.state["mk"] for b in batches if b.state]
    assert {"until": "2026-03-05", "stats": {}} in marks
    # the unfinished pass ends first; the next starts the day before it ended, overlapping like a new run
    assert urlsplit(rsps.calls[2].request.url).path == "/v3/emailCampaigns"
    assert query(rsps.calls[3])["offset"] == ["0"]
    assert query(rsps.calls[4]) == {"startDate": ["2026-03-05"], "endDate": ["2026-03-10"]}
    assert batches[-1].state["tx"] == "2026-03-10T12:00:00Z" and batches[-1].state["mk"]["until"] == "2026-03-10"
    # and a finished pass stored before the kit is a watermark
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"count": 0})
    list(c.pull({"tx": "2026-03-10T11:00:00Z", "mk": {"done": "2026-03-07"}}))
    assert query(rsps.calls[6])["startDate"] == ["2025-12-06T00:00:00.000Z"]  # the window from 6 March, less 90 days


# -- push --------------------------------------------------------------------------------------------


def add_reply(emails: list[str], failure: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"contacts": {"success": [e for e in emails if e not in failure], "failure": list(failure)}}


def test_list_found_by_name_across_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, lists_page_size=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 3, "name": "other", "folderId": 1}], "count": 2})
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name, "folderId": 1}], "count": 2})
    adds = members(2)
    rsps.post(f"{BASE}/contacts/lists/7/contacts/add", status=201, json=add_reply([m.email for m in adds]))
    batches = list(c.push(LIST, adds, [], adds))
    assert [query(call)["offset"] for call in rsps.calls[:2]] == [["0"], ["1"]]
    assert query(rsps.calls[0])["limit"] == ["1"]
    assert [b.added for b in batches] == [[1, 2]]


def test_missing_list_is_created_in_a_found_or_created_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [], "count": 0})
    rsps.get(f"{BASE}/contacts/folders", json={"folders": [{"id": 1, "name": "Your first folder"}], "count": 1})
    rsps.post(f"{BASE}/contacts/folders", status=201, json={"id": 5})
    rsps.post(f"{BASE}/contacts/lists", status=201, json={"id": 42})
    rsps.post(f"{BASE}/contacts/lists/42/contacts/add", status=201, json=add_reply(["user00001@example.com"]))
    list(c.push(LIST, members(1), [], members(1)))
    assert body(rsps.calls[2]) == {"name": "pressure-sdk"}
    assert body(rsps.calls[3]) == {"name": LIST.name, "folderId": 5}


def test_folder_from_settings_and_list_id_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=9)
    rsps.get(f"{BASE}/contacts/lists", json={})
    rsps.post(f"{BASE}/contacts/lists", status=201, json={"id": 42})
    rsps.post(f"{BASE}/contacts/lists/42/contacts/remove", status=201, json=add_reply(["user00001@example.com"]))
    rsps.post(f"{BASE}/contacts/lists/42/contacts/remove", status=201, json=add_reply(["user00002@example.com"]))
    list(c.push(LIST, [], members(1), []))
    list(c.push(LIST, [], members(1, start=2), []))  # no second lookup
    assert body(rsps.calls[1]) == {"name": LIST.name, "folderId": 9}


def test_adds_and_removes_go_150_per_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name}], "count": 1})
    adds, removes = members(301), members(151, start=1000)

    def echo(request: Any) -> tuple[int, dict[str, str], str]:
        emails = json.loads(request.body)["emails"]
        return 201, {}, json.dumps(add_reply(emails))

    rsps.add_callback(responses.POST, f"{BASE}/contacts/lists/7/contacts/add", callback=echo)
    rsps.add_callback(responses.POST, f"{BASE}/contacts/lists/7/contacts/remove", callback=echo)
    batches = list(c.push(LIST, adds, removes, adds))
    sizes = [(urlsplit(call.request.url).path.rsplit("/", 1)[1], len(body(call)["emails"])) for call in rsps.calls[1:]]
    assert sizes == [("add", 150), ("add", 150), ("add", 1), ("remove", 150), ("remove", 1)]
    assert set(body(rsps.calls[1])) == {"emails"}
    assert body(rsps.calls[1])["emails"][0] == "user00001@example.com"
    assert [len(b.added) for b in batches] == [150, 150, 1, 0, 0]
    assert [len(b.removed) for b in batches] == [0, 0, 0, 150, 1]


def test_add_failures_are_told_apart_and_unknown_contacts_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=1, import_poll_interval=20)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name}], "count": 1})
    adds = members(4)
    emails = [m.email for m in adds]
    # 2 is already in the list, 3 and 4 are unknown to Brevo
    rsps.post(
        f"{BASE}/contacts/lists/7/contacts/add", status=201, json=add_reply(emails, (emails[1], emails[2], emails[3]))
    )
    rsps.get(
        f"{BASE}/contacts/{emails[1].replace('@', '%40')}", json={"id": 502, "email": emails[1], "listIds": [3, 7]}
    )
    rsps.get(
        f"{BASE}/contacts/{emails[2].replace('@', '%40')}",
        status=404,
        json={"code": "document_not_found", "message": "Contact does not exist"},
    )
    rsps.get(
        f"{BASE}/contacts/{emails[3].replace('@', '%40')}",
        status=404,
        json={"code": "document_not_found", "message": "Contact does not exist"},
    )
    rsps.post(f"{BASE}/contacts/import", status=202, json={"processId": 77})
    rsps.get(f"{BASE}/processes/77", json={"id": 77, "name": "IMPORTUSER", "status": "in_process"})
    rsps.get(f"{BASE}/processes/77", json={"id": 77, "name": "IMPORTUSER", "status": "completed"})
    # only 3 was created (4 was refused by Brevo): it is reported missing, retried next run
    rsps.get(
        f"{BASE}/contacts/lists/7/contacts",
        json={"contacts": [{"id": 503, "email": emails[2], "listIds": [7]}], "count": 1},
    )
    batches = list(c.push(LIST, adds, [], adds))
    assert batches[0].added == [1, 2] and batches[0].external_ids == {2: "502"}
    assert batches[1].added == [3] and batches[1].missing == [4] and batches[1].external_ids == {3: "503"}
    imported = next(body(call) for call in rsps.calls if call.request.url.endswith("/contacts/import"))
    assert imported == {
        "jsonBody": [{"email": emails[2]}, {"email": emails[3]}],
        "listIds": [7],
        "updateExistingContacts": False,
        "emptyContactsAttributes": False,
        "emailBlacklist": False,
        "smsBlacklist": False,
        "disableNotification": True,
    }
    confirm = [call for call in rsps.calls if call.request.url.split("?")[0].endswith("/lists/7/contacts")][0]
    assert query(confirm)["modifiedSince"] == ["2026-03-10T11:50:00.000Z"] and query(confirm)["limit"] == ["500"]
    assert recorded_sleeps == [20, 40]  # sparing polls: the /processes bucket is 100 an hour
    for call in rsps.calls:
        sent = call.request.body
        if sent:
            text = sent.decode() if isinstance(sent, bytes) else sent
            assert "Blacklisted" not in text and '"emailBlacklist": true' not in text


def test_an_import_that_does_not_finish_reports_its_contacts_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=1, import_max_polls=2, import_poll_interval=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name}], "count": 1})
    rsps.post(f"{BASE}/contacts/lists/7/contacts/add", status=201, json=add_reply([], ("user00001@example.com",)))
    rsps.get(
        f"{BASE}/contacts/user00001%40example.com", status=404, json={"code": "document_not_found", "message": "x"}
    )
    rsps.post(f"{BASE}/contacts/import", status=202, json={"processId": 8})
    rsps.get(f"{BASE}/processes/8", json={"id": 8, "name": "IMPORTUSER", "status": "queued"})
    rsps.get(f"{BASE}/processes/8", json={"id": 8, "name": "IMPORTUSER", "status": "in_process"})
    batches = list(c.push(LIST, members(1), [], members(1)))
    assert [(b.added, b.missing) for b in batches] == [([], []), ([], [1])]


def test_remove_failures_mean_not_in_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name}], "count": 1})
    rsps.post(
        f"{BASE}/contacts/lists/7/contacts/remove",
        status=201,
        json={"contacts": {"success": ["user00001@example.com"], "failure": ["user00002@example.com"]}},
    )
    batches = list(c.push(LIST, [], members(3), []))
    # user 3 is in neither array: not confirmed, so it is retried next run
    assert batches[0].removed == [1, 2]


# -- errors, rate limits, secrets -------------------------------------------------------------------


def test_401_is_an_auth_error_without_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/contacts/lists", status=401, json={"code": "unauthorized", "message": "Key not found"})
    with pytest.raises(AuthError) as err:
        c.check()
    assert len(rsps.calls) == 1 and recorded_sleeps == []
    assert "Key not found (unauthorized)" in str(err.value) and KEY not in str(err.value)
    assert KEY not in repr(c) and KEY not in str(err.value.body)


def virtual_time(c: BrevoConnector, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record waits and let them pass on the pacer's clock (recorded sleeps alone leave it still)."""
    clock = [1000.0]
    waits: list[float] = []
    pacer = c.client.pacer
    assert pacer is not None
    pacer.clock = lambda: clock[0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("pressure_sdk.http.client.sleep", sleep)
    return waits


def test_429_waits_for_the_bucket_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    recorded_sleeps = virtual_time(c, monkeypatch)
    limited = {"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "12"}
    rsps.get(f"{BASE}/contacts/lists", status=429, headers=limited, json={"code": "too_many_requests", "message": "x"})
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [], "count": 0})
    assert "0 contact lists" in c.check()
    assert recorded_sleeps == [12]


def test_429_storm_ends_in_rate_limit_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    recorded_sleeps = virtual_time(c, monkeypatch)
    limited = {"x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "3"}
    for _ in range(5):
        rsps.get(
            f"{BASE}/contacts/lists", status=429, headers=limited, json={"code": "too_many_requests", "message": "x"}
        )
    with pytest.raises(RateLimitError):
        c.check()
    assert recorded_sleeps == [3, 3, 3, 3]


def test_pacer_waits_per_bucket_before_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=1)
    low = {"x-sib-ratelimit-limit": "300", "x-sib-ratelimit-remaining": "1", "x-sib-ratelimit-reset": "1800"}
    rsps.get(f"{BASE}/smtp/statistics/events", headers=low, json={})
    # campaigns answers come from another bucket: the smtp budget must not slow them
    rsps.get(CAMPAIGNS, json={"count": 0})
    list(c.pull(None))
    assert recorded_sleeps == []
    rsps.get(f"{BASE}/smtp/statistics/events", json={})
    rsps.get(CAMPAIGNS, json={"count": 0})
    list(c.pull(None))
    assert len(recorded_sleeps) == 1 and 1790 < recorded_sleeps[0] <= 1800
    assert bucket_of("/smtp/statistics/events") == "smtp" and bucket_of("/contacts/lists/1/contacts/add") == "contacts"
    assert bucket_of("/processes/3") == "other" and bucket_of("/smtp/email") == "smtp-send"
    # vendor-apis §2.4: GET /smtp/emails has a budget of its own (2/s), not the sending one
    assert bucket_of("/smtp/emails") == "smtp-emails" and bucket_of("/smtp/blockedContacts") == "smtp-send"
    assert bucket_of("/emailCampaigns") == "other" and bucket_of("/contacts") == "contacts"


def test_5xx_is_retried_then_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name}], "count": 1})
    for _ in range(5):
        rsps.post(f"{BASE}/contacts/lists/7/contacts/add", status=502, body="<html>bad gateway</html>")
    with pytest.raises(TransientAPIError) as err:
        list(c.push(LIST, members(1), [], members(1)))
    assert err.value.status == 502 and len(recorded_sleeps) == 4
    assert "the next run resumes" in str(err.value)


def test_4xx_error_body_is_in_the_message_and_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 7, "name": LIST.name}], "count": 1})
    rsps.post(
        f"{BASE}/contacts/lists/7/contacts/add",
        status=400,
        json={"code": "invalid_parameter", "message": f"bad emails (key {KEY})"},
    )
    with pytest.raises(PermanentAPIError) as err:
        list(c.push(LIST, members(1), [], members(1)))
    text = str(err.value)
    assert "bad emails" in text and "(invalid_parameter)" in text and "→ 400" in text
    assert KEY not in text and KEY not in (err.value.body or "")
    assert recorded_sleeps == []


def test_missing_credential_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = make(tmp_path, monkeypatch)
    monkeypatch.delenv(ENV)
    with pytest.raises(AuthError, match=ENV):
        c.check()


# -- audience: GET /contacts --------------------------------------------------------------------------

#: query parameters of each operation in swagger_definition_v3.yml, with ``limit``'s maximum and ``sort``'s enum
SPEC_QUERY: dict[str, dict[str, Any]] = {
    # getContacts
    "/contacts": {
        "limit": 1000,
        "offset": None,
        "modifiedSince": None,
        "createdSince": None,
        "sort": ("asc", "desc"),
        "segmentId": None,
        "listIds": None,
        "filter": None,
    },
    # getLists
    "/contacts/lists": {"limit": 50, "offset": None, "sort": ("asc", "desc")},
    # getContactsFromList
    "/contacts/lists/{listId}/contacts": {"limit": 500, "offset": None, "modifiedSince": None, "sort": ("asc", "desc")},
}
#: the spec's date-time format for ``modifiedSince``: YYYY-MM-DDTHH:mm:ss.SSSZ
SPEC_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def spec_query(call: Any, operation: str) -> dict[str, list[str]]:
    """The call's query, after checking it is a GET on ``operation`` with parameters the spec defines."""
    assert call.request.method == "GET"
    pattern = "^/v3" + re.sub(r"\{[^}]+\}", r"\\d+", operation) + "$"
    assert re.match(pattern, urlsplit(call.request.url).path), call.request.url
    q = query(call)
    allowed = SPEC_QUERY[operation]
    assert set(q) <= set(allowed), set(q) - set(allowed)
    if "limit" in q:
        assert 1 <= int(q["limit"][0]) <= allowed["limit"]
    if "sort" in q:
        assert q["sort"][0] in allowed["sort"]
    if "modifiedSince" in q:
        assert SPEC_DATE_TIME.match(q["modifiedSince"][0]), q["modifiedSince"]
    return q


def contact(cid: int, email: str | None, modified: str, *, blacklisted: bool = False) -> dict[str, Any]:
    """One ``getContactDetails`` object, with the fields the spec requires."""
    row: dict[str, Any] = {
        "id": cid,
        "emailBlacklisted": blacklisted,
        "smsBlacklisted": False,
        "createdAt": "2025-01-01T00:00:00Z",
        "modifiedAt": modified,
        "listIds": [],
        "attributes": {},
    }
    if email is not None:
        row["email"] = email
    return row


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def test_first_audience_pull_reads_every_contact_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=2)
    url = f"{BASE}/contacts"
    rsps.get(
        url,
        json={
            "contacts": [
                contact(1, " One@Example.com", "2026-03-01T10:00:00Z"),
                contact(2, "two@example.com", "2026-03-02T11:00:00.000+01:00", blacklisted=True),
            ],
            "count": 5,
        },
    )
    # an SMS-only contact: no email at all, or Brevo's placeholder address
    rsps.get(
        url,
        json={
            "contacts": [contact(3, None, "2026-03-03T00:00:00Z"), contact(4, "33612345678@mailin-sms.com", "x")],
            "count": 5,
        },
    )
    rsps.get(url, json={"contacts": [contact(5, "five@example.com", "2026-03-05T00:00:00Z")], "count": 5})
    batches = list(c.pull_audience(None))
    queries = [spec_query(call, "/contacts") for call in rsps.calls]
    assert queries == [
        {"limit": ["2"], "offset": ["0"], "sort": ["asc"]},
        {"limit": ["2"], "offset": ["2"], "sort": ["asc"]},
        {"limit": ["2"], "offset": ["4"], "sort": ["asc"]},
    ]
    assert [u for b in batches for u in b.contacts] == [
        ContactUpdate("one@example.com", external_id="1", status="subscribed", status_at=epoch("2026-03-01T10:00:00Z")),
        ContactUpdate(
            "two@example.com", external_id="2", status="unsubscribed", status_at=epoch("2026-03-02T10:00:00Z")
        ),
        ContactUpdate(
            "five@example.com", external_id="5", status="subscribed", status_at=epoch("2026-03-05T00:00:00Z")
        ),
    ]
    assert all(u.channel == "email" for b in batches for u in b.contacts)
    # each page carries the pass so far; the watermark (the pass's start) only comes once all is read
    started = "2026-03-10T12:00:00Z"
    assert [b.state for b in batches] == [
        {"since": None, "started": started, "offset": 2},
        {"since": None, "started": started, "offset": 4},
        {"since": None, "started": started, "offset": 5},
        {"watermark": started},
    ]
    assert batches[-1].contacts == []


def test_audience_paging_stops_once_count_contacts_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=2)
    page = [contact(1, "a@x.com", "2026-03-01T00:00:00Z"), contact(2, "b@x.com", "2026-03-01T00:00:00Z")]
    rsps.get(f"{BASE}/contacts", json={"contacts": page, "count": 4})
    rsps.get(f"{BASE}/contacts", json={"contacts": page, "count": 4})
    # no third request: responses would refuse it
    batches = list(c.pull_audience(None))
    assert len(rsps.calls) == 2 and sum(len(b.contacts) for b in batches) == 4


def test_audience_leaves_out_addresses_the_ledger_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    c = make(tmp_path, monkeypatch)
    odd = [contact(1, "root@localhost", "2026-03-01T00:00:00Z"), contact(2, "  ", "2026-03-01T00:00:00Z")]
    rsps.get(f"{BASE}/contacts", json={"contacts": [*odd, contact(3, "ok@x.com", "2026-03-01T00:00:00Z")]})
    with caplog.at_level("WARNING", logger="pressure_connector_brevo"):
        got = [u.email for b in c.pull_audience(None) for u in b.contacts]
    assert got == ["ok@x.com"]
    assert [r.getMessage() for r in caplog.records] == [
        "brevo: contact 1 has an email the ledger cannot take; left out"
    ]


@pytest.mark.parametrize(("overlap", "since"), [(None, "2026-03-09T07:50:00.000Z"), (60, "2026-03-09T07:00:00.000Z")])
def test_incremental_audience_pull_asks_modified_since_the_watermark_minus_the_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, overlap: int | None, since: str
) -> None:
    settings = {} if overlap is None else {"audience_overlap_minutes": overlap}
    c = make(tmp_path, monkeypatch, **settings)
    rsps.get(f"{BASE}/contacts", json={"contacts": [contact(9, "n@x.com", "2026-03-09T09:00:00Z")], "count": 1})
    batches = list(c.pull_audience({"watermark": "2026-03-09T08:00:00Z"}))
    assert spec_query(rsps.calls[0], "/contacts") == {
        "limit": ["1000"],
        "offset": ["0"],
        "sort": ["asc"],
        "modifiedSince": [since],
    }
    assert [u.email for b in batches for u in b.contacts] == ["n@x.com"]
    assert [b.state for b in batches] == [
        {"since": "2026-03-09T08:00:00Z", "started": "2026-03-10T12:00:00Z", "offset": 1},
        {"watermark": "2026-03-10T12:00:00Z"},
    ]


def test_a_killed_audience_pass_resumes_at_its_offset_and_keeps_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=3)
    rsps.get(f"{BASE}/contacts", json={"contacts": [contact(7, "s@x.com", "2026-03-10T10:00:00Z")], "count": 5})
    state = {"since": "2026-03-09T08:00:00Z", "started": "2026-03-10T11:00:00Z", "offset": 4}
    batches = list(c.pull_audience(state))
    q = spec_query(rsps.calls[0], "/contacts")
    assert q["offset"] == ["4"] and q["modifiedSince"] == ["2026-03-09T07:50:00.000Z"]
    # the watermark is when the pass began, not now: what changed during it is read again next time
    assert batches[-1].state == {"watermark": "2026-03-10T11:00:00Z"}
    # a first pass killed midway resumes without modifiedSince
    rsps.get(f"{BASE}/contacts", json={"contacts": [], "count": 3})
    list(c.pull_audience({"since": None, "started": "2026-03-10T11:00:00Z", "offset": 3}))
    assert "modifiedSince" not in spec_query(rsps.calls[1], "/contacts")


def test_a_failed_audience_page_keeps_the_state_of_the_pages_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    c = make(tmp_path, monkeypatch, contacts_page_size=1)
    rsps.get(f"{BASE}/contacts", json={"contacts": [contact(1, "a@x.com", "2026-03-01T00:00:00Z")], "count": 3})
    for _ in range(5):
        rsps.get(f"{BASE}/contacts", status=503, json={"code": "internal_error", "message": "try later"})
    seen = []
    with pytest.raises(TransientAPIError):
        for batch in c.pull_audience({"watermark": "2026-03-01T00:00:00Z"}):
            seen.append(batch.state)
    assert seen == [{"since": "2026-03-01T00:00:00Z", "started": "2026-03-10T12:00:00Z", "offset": 1}]


def test_audience_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/contacts", status=401, json={"code": "unauthorized", "message": "Key not found"})
    with pytest.raises(AuthError) as err:
        list(c.pull_audience(None))
    assert ENV in str(err.value) and KEY not in str(err.value)
    rsps.get(f"{BASE}/contacts", status=400, json={"code": "invalid_parameter", "message": "modifiedSince is invalid"})
    with pytest.raises(PermanentAPIError, match="modifiedSince is invalid"):
        list(c.pull_audience({"watermark": "2026-03-09T08:00:00Z"}))
    # modifiedAt is required by the spec: without it the status has no date, and the pull says so
    rsps.get(f"{BASE}/contacts", json={"contacts": [{"id": 1, "email": "a@x.com", "emailBlacklisted": False}]})
    with pytest.raises(PayloadError, match="modifiedAt"):
        list(c.pull_audience(None))


# -- list inspection ---------------------------------------------------------------------------------


def lst(list_id: int, name: str, total: int = 0, blocked: int = 0) -> dict[str, Any]:
    """One ``getLists`` item; ``uniqueSubscribers`` adds up as in the spec's examples."""
    return {
        "id": list_id,
        "name": name,
        "folderId": 1,
        "totalSubscribers": total,
        "totalBlacklisted": blocked,
        "uniqueSubscribers": total + blocked,
    }


def test_inspect_a_missing_list_does_not_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [lst(3, "other", 10)], "count": 1})
    assert c.inspect_list(LIST) == RemoteList(exists=False)
    assert spec_query(rsps.calls[0], "/contacts/lists") == {"limit": ["50"], "offset": ["0"], "sort": ["asc"]}
    assert len(rsps.calls) == 1  # no folder, no POST /contacts/lists


def test_inspect_finds_the_list_by_name_with_its_size_and_stops_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, lists_page_size=1)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [lst(3, "other", 10)], "count": 3})
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [lst(7, LIST.name, total=3, blocked=2)], "count": 3})
    # the third page is never asked for (responses would refuse it)
    found = c.inspect_list(LIST)
    assert found == RemoteList(exists=True, size=5, members=None)  # blocklisted members are members too
    assert [spec_query(call, "/contacts/lists")["offset"] for call in rsps.calls] == [["0"], ["1"]]


def test_inspect_full_pages_the_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, members_page_size=2)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [lst(7, LIST.name, total=3)], "count": 1})
    url = f"{BASE}/contacts/lists/7/contacts"
    two = [contact(45, "Alex.Pain@example.com", "2026-03-01T00:00:00Z"), contact(32, "j@example.com", "x")]
    rsps.get(url, json={"contacts": two, "count": 3})
    rsps.get(url, json={"contacts": [contact(65, "33612345678@mailin-sms.com", "x")], "count": 3})
    found = c.inspect_list(LIST, full=True)
    assert found is not None and found.exists and found.size == 3
    assert found.members == [
        RemoteMember("alex.pain@example.com", "45"),
        RemoteMember("j@example.com", "32"),
        RemoteMember(None, "65"),  # a member without a mailbox is still a member
    ]
    member_calls = rsps.calls[1:]
    assert [spec_query(call, "/contacts/lists/{listId}/contacts") for call in member_calls] == [
        {"limit": ["2"], "offset": ["0"], "sort": ["asc"]},
        {"limit": ["2"], "offset": ["2"], "sort": ["asc"]},
    ]


def test_a_list_found_deleted_is_created_again_by_the_next_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    c = make(tmp_path, monkeypatch, folder_id=9)
    one, two = members(1), members(1, start=2)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [lst(7, LIST.name)], "count": 1})
    rsps.post(f"{BASE}/contacts/lists/7/contacts/add", status=201, json=add_reply([one[0].email]))
    list(c.push(LIST, one, [], one))
    # deleted by hand: inspection says so, and the push after it does not write to the old id
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [], "count": 0})
    assert c.inspect_list(LIST) == RemoteList(exists=False)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [], "count": 0})
    rsps.post(f"{BASE}/contacts/lists", status=201, json={"id": 8})
    rsps.post(f"{BASE}/contacts/lists/8/contacts/add", status=201, json=add_reply([two[0].email]))
    assert [b.added for b in c.push(LIST, two, [], two)] == [[2]]
    assert body(rsps.calls[-2]) == {"name": LIST.name, "folderId": 9}


def test_inspect_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock) -> None:
    c = make(tmp_path, monkeypatch)
    rsps.get(f"{BASE}/contacts/lists", status=401, json={"code": "unauthorized", "message": "Key not found"})
    with pytest.raises(AuthError) as err:
        c.inspect_list(LIST)
    assert ENV in str(err.value) and KEY not in str(err.value)
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [lst(7, LIST.name, total=1)], "count": 1})
    rsps.get(
        f"{BASE}/contacts/lists/7/contacts",
        status=404,
        json={"code": "document_not_found", "message": "List ID does not exist"},
    )
    with pytest.raises(PermanentAPIError, match="List ID does not exist"):
        c.inspect_list(LIST, full=True)
