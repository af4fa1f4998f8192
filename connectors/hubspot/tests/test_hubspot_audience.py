"""The audience pull and list inspection over real HTTP against the HubSpot sandbox, and their request counts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_hubspot import HubSpotConnector
from pressure_connector_hubspot.testing import HubSpotSandbox

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.connectors.base import RemoteList, RemoteMember
from pressure_sdk.ledger import Member
from pressure_sdk.models import Batch

ENV = "HUBSPOT_AUDIENCE_TOKEN"
LIST = ListConfig(name="pressure-marketing")
DAY = 86400


class Clock:
    """Real time shifted into the past, moved forward by hand: rate windows stay real, dates are chosen."""

    def __init__(self, days_ago: float) -> None:
        self.shift = days_ago * DAY

    def __call__(self) -> float:
        return time.time() - self.shift

    def forward(self, seconds: float) -> None:
        self.shift -= seconds


def connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sb: HubSpotSandbox, clock: Clock, **settings: Any
) -> HubSpotConnector:
    monkeypatch.setenv(ENV, sb.credential)
    data = {
        "workspace": {"name": "hs", "ledger": "ledger.db"},
        "brands": {"maison": {}},
        "accounts": [
            {
                "name": "maison-hubspot",
                "connector": "hubspot",
                "brand": "maison",
                "credential_env": ENV,
                "base_url": sb.url,
                "settings": settings,
                "lists": [{"name": LIST.name}],
            }
        ],
    }
    cfg = parse_config(data, source="hs.toml", base_dir=tmp_path)
    hs = HubSpotConnector.from_account(cfg.accounts[0], cfg, 0)
    assert isinstance(hs, HubSpotConnector)
    hs.now = clock  # type: ignore[method-assign]
    return hs


@pytest.fixture
def clock() -> Clock:
    return Clock(days_ago=30)


@pytest.fixture
def sb(clock: Clock) -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(clock=clock)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def hs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sb: HubSpotSandbox, clock: Clock) -> HubSpotConnector:
    # small pages, so a few dozen contacts already take several pages and queries
    return connector(tmp_path, monkeypatch, sb, clock, audience_page_size=10, search_rate=10)


def seed(sb: HubSpotSandbox, clock: Clock, n: int = 45) -> None:
    for i in range(n):
        sb.add_contact(f"client{i:03d}@example.com", optout=i % 9 == 0)
        clock.forward(60)
    sb.add_contact_without_email()


def rows(batches: list[Batch]) -> dict[str, tuple[str, str | None]]:
    got: dict[str, tuple[str, str | None]] = {}
    for b in batches:
        for c in b.contacts:
            got[c.email] = (c.external_id or "", c.status)
    return got


def test_first_pull_returns_every_seeded_contact(hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock) -> None:
    seed(sb, clock)
    begun = int(clock() * 1000)
    batches = list(hs.pull_audience(None))
    ended = int(clock() * 1000)
    got = rows(batches)
    assert got == {
        email: (cid, "unsubscribed" if cid in sb.optouts else "subscribed")
        for cid, email in sb.contacts.items()
        if email
    }
    assert len(got) == 45 and sum(1 for s in got.values() if s[1] == "unsubscribed") == 5
    assert sb.count(path="/crm/v3/objects/contacts") == 5, "46 contacts, 10 per page"
    assert sb.count(path="/search") == 0, "the first pull lists, it does not search"
    last = batches[-1].state
    assert last is not None and set(last) == {"since"} and begun <= last["since"] <= ended, "when the read began"
    assert all(b.state and set(b.state) == {"started", "after"} for b in batches[:-1])


def test_incremental_pull_returns_only_the_modified_contacts(
    hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock
) -> None:
    seed(sb, clock)
    clock.forward(DAY)
    state = list(hs.pull_audience(None))[-1].state
    clock.forward(3600)
    sb.modify_contact("client007@example.com", optout=True)
    clock.forward(5)
    sb.modify_contact("client012@example.com")
    clock.forward(600)
    batches = list(hs.pull_audience(state))
    assert rows(batches) == {
        "client007@example.com": (sb.by_email["client007@example.com"], "unsubscribed"),
        "client012@example.com": (sb.by_email["client012@example.com"], "subscribed"),
    }
    assert batches[-1].state == {"since": sb.modified_at[sb.by_email["client012@example.com"]]}
    # nothing changed since: the next pull re-reads only the overlap (the same two) and keeps the watermark
    clock.forward(3600)
    again = list(hs.pull_audience(batches[-1].state))
    assert rows(again) == rows(batches) and again[-1].state == batches[-1].state
    clock.forward(3600)
    sb.modify_contact("client020@example.com")
    clock.forward(3600)
    third = list(hs.pull_audience(again[-1].state))
    assert set(rows(third)) == {"client007@example.com", "client012@example.com", "client020@example.com"}
    assert third[-1].state == {"since": sb.modified_at[sb.by_email["client020@example.com"]]}
    assert set(rows(list(hs.pull_audience(third[-1].state)))) == {"client020@example.com"}


def test_unsubscribe_in_hubspot_comes_through_as_unsubscribed(
    hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock
) -> None:
    seed(sb, clock, n=5)
    clock.forward(DAY)
    state = list(hs.pull_audience(None))[-1].state
    clock.forward(3600)
    sb.unsubscribe("client003@example.com", int(clock() * 1000))
    got = rows(list(hs.pull_audience(state)))
    assert got == {"client003@example.com": (sb.by_email["client003@example.com"], "unsubscribed")}


def test_many_changes_at_one_date_cross_page_boundaries(hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock) -> None:
    """35 contacts modified at the same millisecond (a bulk edit) with 10 per page: none lost, none twice."""
    seed(sb, clock)
    clock.forward(DAY)
    state = list(hs.pull_audience(None))[-1].state
    clock.forward(3600)
    at = int(clock() * 1000)
    changed = [f"client{i:03d}@example.com" for i in range(3, 38)]
    for email in changed:
        sb.modify_contact(email, at=at)
    batches = list(hs.pull_audience(state))
    emails = [c.email for b in batches for c in b.contacts]
    assert sorted(emails) == sorted(changed) and len(emails) == len(set(emails))
    assert batches[-1].state == {"since": at}


def test_killed_first_pull_resumes_where_it_stopped(hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock) -> None:
    seed(sb, clock)
    pages = hs.pull_audience(None)
    first, second = next(pages), next(pages)  # the run is killed after two pages were committed
    del pages
    before = sb.count(path="/crm/v3/objects/contacts")
    rest = list(hs.pull_audience(second.state))
    assert sb.count(path="/crm/v3/objects/contacts") - before == 3, "only the pages not read yet"
    assert len(rows([first, second, *rest])) == 45
    assert first.state is not None and rest[-1].state == {"since": first.state["started"]}


def test_inspect_missing_then_existing_list(hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock) -> None:
    seed(sb, clock, n=5)
    assert hs.inspect_list(LIST) == RemoteList(exists=False)
    assert hs.inspect_list(LIST, full=True) == RemoteList(exists=False)
    assert sb.list_by_name(LIST.name) is None, "inspection never creates"
    sb.add_list(LIST.name)
    sb.edit_list(LIST.name, add=["client001@example.com", "client002@example.com", "client004@example.com"])
    assert hs.inspect_list(LIST) == RemoteList(exists=True, size=3)


def test_full_membership_after_hand_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sb: HubSpotSandbox, clock: Clock
) -> None:
    hs = connector(tmp_path, monkeypatch, sb, clock)
    emails = [f"m{i:03d}@example.com" for i in range(600)]
    for e in emails:
        sb.add_contact(e)
    pushed = [Member(i, e, None) for i, e in enumerate(emails[:520])]
    list(hs.push(LIST, pushed, [], pushed))
    # by hand in HubSpot: two members removed, one contact added
    sb.edit_list(LIST.name, remove=[emails[5], emails[300]], add=[emails[599]])
    got = hs.inspect_list(LIST, full=True)
    expected = {sb.by_email[e] for e in emails[:520]} - {sb.by_email[emails[5]], sb.by_email[emails[300]]}
    expected.add(sb.by_email[emails[599]])
    assert got is not None and got.exists and got.size == 519 and got.members is not None
    assert {m.external_id for m in got.members} == expected and len(got.members) == 519
    assert all(isinstance(m, RemoteMember) and m.email is None for m in got.members)
    assert sb.count(path="/memberships", method="GET") == 3, "519 members, 250 per page"


def test_list_deleted_by_hand_is_seen_and_created_again(hs: HubSpotConnector, sb: HubSpotSandbox, clock: Clock) -> None:
    seed(sb, clock, n=5)
    members = [Member(i, f"client{i:03d}@example.com", None) for i in range(3)]
    list(hs.push(LIST, members, [], members))
    first = sb.list_by_name(LIST.name)
    assert first is not None and hs.inspect_list(LIST) == RemoteList(exists=True, size=3)
    assert sb.delete_list(LIST.name)
    assert hs.inspect_list(LIST) == RemoteList(exists=False)
    list(hs.push(LIST, members, [], members))  # the repair: everything pushed again
    again = sb.list_by_name(LIST.name)
    assert again is not None and again.list_id != first.list_id
    assert sb.list_members(LIST.name) == {m.email for m in members}


# -- request counts -----------------------------------------------------------------------------


def audience_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, contacts: int, changed: int, bulk: bool
) -> dict[str, int]:
    """Requests of a first pull of ``contacts`` and of the incremental pull after ``changed`` of them changed.

    The sandbox keeps HubSpot's search budget (5 a second) and the connector its default pace
    and page size; the ten-second budget is left out (pacing it would only make the test wait).
    """
    clock = Clock(days_ago=30)
    with HubSpotSandbox(clock=clock, limits={"search": (5, 1.0)}) as sb:
        assert isinstance(sb, HubSpotSandbox)
        for i in range(contacts):
            sb.add_contact(f"c{i:06d}@example.com")
        hs = connector(tmp_path, monkeypatch, sb, clock)
        clock.forward(10 * DAY)
        first = list(hs.pull_audience(None))
        first_requests = len(sb.requests)
        assert len(rows(first)) == contacts
        clock.forward(DAY)
        step = contacts // changed
        bulk_at = int(clock() * 1000)
        for k in range(changed):
            sb.modify_contact(f"c{k * step:06d}@example.com", at=bulk_at if bulk else None)
            if not bulk:
                clock.forward(1)
        clock.forward(600)
        later = list(hs.pull_audience(first[-1].state))
        assert len(rows(later)) == changed
        return {
            "first": first_requests,
            "incremental": len(sb.requests) - first_requests,
            "rate_limited": sb.count(status=429),
        }


def test_request_counts_for_100000_contacts_and_1000_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = audience_counts(tmp_path, monkeypatch, contacts=100_000, changed=1_000, bulk=False)
    # 100 contacts per list page; 1,000 changes at distinct times: each query restarts at the last
    # date read and re-reads that one contact, so 100 + 99 x 9 + 10 (the last 10, plus the re-read one)
    assert counts == {"first": 1_000, "incremental": 11, "rate_limited": 0}


def test_request_count_for_1000_changes_at_one_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = audience_counts(tmp_path, monkeypatch, contacts=5_000, changed=1_000, bulk=True)
    # one bulk edit: every page shares one date, so the query goes on with HubSpot's cursor
    assert counts == {"first": 50, "incremental": 10, "rate_limited": 0}
