"""Audience pulls and list inspection over HTTP, against the stateful sandbox, and what they cost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_brevo import BrevoConnector
from pressure_connector_brevo.testing import GENEROUS_LIMITS, BrevoSandbox

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.connectors.base import RemoteList, RemoteMember
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Batch, ContactUpdate

ENV = "BREVO_AUDIENCE_KEY"
LIST = ListConfig(name="velo-marketing-pause", brand="velo")
#: 2026-03-10T12:00:00Z: the sandbox and the connector share this clock, moved by the tests
T = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
HOUR = 3600


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    """A sandbox and a connector to it, on one clock."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limits: Any = GENEROUS_LIMITS) -> None:
        self.time = float(T)
        self.sb = BrevoSandbox(limits=limits, import_polls=1, clock=lambda: self.time)
        self.sb.start()
        self.sb.add_list("unrelated")  # folder 1 exists, and inspection must skip other lists
        monkeypatch.setenv(ENV, self.sb.credential)
        self.tmp_path = tmp_path

    def connector(self, **settings: Any) -> BrevoConnector:
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
                        "base_url": self.sb.url,
                        "settings": {"folder_id": 1, "import_poll_interval": 0, **settings},
                        "lists": [{"name": LIST.name}],
                    }
                ],
            },
            base_dir=self.tmp_path,
        )
        connector = BrevoConnector.from_account(cfg.accounts[0], cfg, 0)
        assert isinstance(connector, BrevoConnector)
        connector.now = lambda: self.time  # type: ignore[method-assign]
        return connector

    def contacts_requests(self) -> int:
        return sum(1 for r in self.sb.requests if r.method == "GET" and r.path == "/v3/contacts")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path, monkeypatch)
    try:
        yield w
    finally:
        w.sb.stop()


def pull(connector: BrevoConnector, state: dict[str, Any] | None) -> tuple[list[ContactUpdate], list[Batch]]:
    batches = list(connector.pull_audience(state))
    return [u for b in batches for u in b.contacts], batches


# -- audience ------------------------------------------------------------------------------------------


def test_first_pull_returns_every_seeded_contact_then_only_the_modified(world: World) -> None:
    sb = world.sb
    seeded = {
        f"rider{i:02d}@velo.example": sb.add_contact(f"rider{i:02d}@velo.example", at=T - 48 * HOUR) for i in range(23)
    }
    sb.modify_contact("rider03@velo.example", blacklisted=True, at=T - 24 * HOUR)
    # changed just before the first pull: five minutes (inside the overlap) and fifteen (outside)
    sb.modify_contact("rider05@velo.example", at=T - 300)
    sb.modify_contact("rider06@velo.example", at=T - 900)
    sb.add_contact("33612345678@mailin-sms.com", at=T - 48 * HOUR)  # an SMS-only contact
    c = world.connector(contacts_page_size=5)

    first, batches = pull(c, None)
    assert {u.email: u.external_id for u in first} == {e: str(cid) for e, cid in seeded.items()}
    assert len(first) == 23  # each contact once, the SMS placeholder left out
    by_email = {u.email: u for u in first}
    assert by_email["rider03@velo.example"].status == "unsubscribed"
    assert by_email["rider03@velo.example"].status_at == T - 24 * HOUR
    assert {u.status for e, u in by_email.items() if e != "rider03@velo.example"} == {"subscribed"}
    assert by_email["rider00@velo.example"].status_at == T - 48 * HOUR
    assert batches[-1].state == {"watermark": iso(T)}
    assert world.contacts_requests() == 5  # 24 contacts, 5 a page: the fifth page ends the count

    # half an hour later, two contacts change: one is blocklisted, the other edited
    world.time = T + HOUR // 2
    sb.modify_contact("rider10@velo.example", blacklisted=True)
    sb.modify_contact("rider20@velo.example")
    world.time = T + HOUR
    second, batches = pull(c, batches[-1].state)
    got = {u.email: (u.status, u.status_at) for u in second}
    assert got == {
        "rider05@velo.example": ("subscribed", T - 300),  # within the overlap: read again, harmlessly
        "rider10@velo.example": ("unsubscribed", T + HOUR // 2),
        "rider20@velo.example": ("subscribed", T + HOUR // 2),
    }
    assert batches[-1].state == {"watermark": iso(T + HOUR)}
    last = sb.requests[-1]
    assert last.path == "/v3/contacts" and last.query["modifiedSince"] == ["2026-03-10T11:50:00.000Z"]

    # nothing changed since, and nothing in the ten minutes before the watermark: nothing comes back
    world.time = T + 2 * HOUR
    third, _ = pull(c, batches[-1].state)
    assert {u.email for u in third} == set()
    c.close()


def test_a_contact_modified_during_a_pass_is_read_by_the_next(world: World) -> None:
    sb = world.sb
    for i in range(10):
        sb.add_contact(f"c{i}@velo.example", at=T - 48 * HOUR)
    c = world.connector(contacts_page_size=3, audience_overlap_minutes=0)
    passes = c.pull_audience(None)
    first_page = next(passes)
    assert [u.email for u in first_page.contacts] == ["c0@velo.example", "c1@velo.example", "c2@velo.example"]
    # while the pass goes on, a contact it already read changes
    world.time = T + 60
    sb.modify_contact("c1@velo.example", blacklisted=True)
    rest = list(passes)
    assert rest[-1].state == {"watermark": iso(T)}  # when the pass began, not when it ended
    world.time = T + HOUR
    again, _ = pull(c, rest[-1].state)
    assert [(u.email, u.status) for u in again] == [("c1@velo.example", "unsubscribed")]
    c.close()


def test_audience_pull_keeps_to_the_contacts_pace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Brevo's general tier (10 a second on /contacts): the pull waits for the reset and never meets a 429."""
    world = World(tmp_path, monkeypatch, limits=BrevoSandbox.default_limits)
    try:
        for i in range(30):
            world.sb.add_contact(f"p{i:02d}@velo.example", at=T - HOUR)
        c = world.connector(contacts_page_size=1)
        pacer = c.client.pacer
        assert pacer is not None
        pacer.clock = lambda: world.time
        waits: list[float] = []
        after: list[int] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            after.append(len(world.sb.requests))
            world.time += seconds

        monkeypatch.setattr("pressure_sdk.http.client.sleep", sleep)
        got, _ = pull(c, None)
        assert len(got) == 30 and world.contacts_requests() == 30
        assert [r.status for r in world.sb.requests] == [200] * 30
        # the pacer keeps one request in hand: it waits out the second each time nine are spent
        assert after == [9, 18, 27] and all(0 < w <= 1 for w in waits)
        c.close()
    finally:
        world.sb.stop()


# -- list inspection -------------------------------------------------------------------------------------


def push(c: BrevoConnector, adds: list[Member]) -> None:
    list(c.push(LIST, adds, [], adds))


def test_inspect_missing_existing_and_full_after_hand_edits(world: World) -> None:
    sb = world.sb
    c = world.connector(members_page_size=2)
    assert c.inspect_list(LIST) == RemoteList(exists=False)
    assert LIST.name not in {lst["name"] for lst in sb.lists.values()}  # inspecting creates nothing
    assert sb.count(method="POST") == 0

    riders = [Member(i, f"rider{i}@velo.example", None) for i in range(1, 6)]
    for m in riders:
        sb.add_contact(m.email)
    push(c, riders)
    assert c.inspect_list(LIST) == RemoteList(exists=True, size=5)

    # by hand in Brevo's app: one member taken out, an outsider put in, a member blocklisted
    sb.edit_list(LIST.name, add=("intruder@velo.example",), remove=("rider2@velo.example",))
    sb.modify_contact("rider4@velo.example", blacklisted=True)
    quick = c.inspect_list(LIST)
    assert quick is not None and quick.size == 5 and quick.members is None  # a blocklisted member still counts
    full = c.inspect_list(LIST, full=True)
    assert full is not None and full.size == 5 and full.members is not None
    assert {m.email for m in full.members} == sb.list_members(LIST.name)
    assert {m.email for m in full.members} == {
        "rider1@velo.example",
        "rider3@velo.example",
        "rider4@velo.example",
        "rider5@velo.example",
        "intruder@velo.example",
    }
    assert RemoteMember("intruder@velo.example", str(sb.by_email["intruder@velo.example"])) in full.members
    assert all(m.external_id == str(sb.by_email[m.email or ""]) for m in full.members)
    list_id = next(i for i, lst in sb.lists.items() if lst["name"] == LIST.name)
    pages = [r for r in sb.requests if r.path == f"/v3/contacts/lists/{list_id}/contacts"]
    assert [r.query["offset"] for r in pages] == [["0"], ["2"], ["4"]]  # 5 members, 2 a page
    c.close()


def test_a_list_deleted_by_hand_is_seen_and_the_next_push_repairs_it(world: World) -> None:
    sb = world.sb
    c = world.connector()
    riders = [Member(i, f"rider{i}@velo.example", None) for i in range(1, 4)]
    for m in riders:
        sb.add_contact(m.email)
    push(c, riders)
    sb.delete_list(LIST.name)
    assert c.inspect_list(LIST) == RemoteList(exists=False)
    # the sync pushes the whole list again after such a finding: the list comes back under a new id
    push(c, riders)
    assert sb.list_members(LIST.name) == {m.email for m in riders}
    assert c.inspect_list(LIST, full=True) == RemoteList(
        exists=True,
        size=3,
        members=[RemoteMember(m.email, str(sb.by_email[m.email])) for m in riders],
    )
    c.close()


# -- request counts --------------------------------------------------------------------------------------


def test_audience_request_counts_100000_contacts(world: World) -> None:
    sb = world.sb
    for i in range(100_000):
        sb.add_contact(f"m{i:06d}@velo.example", at=T - 48 * HOUR)
    c = world.connector()
    before = len(sb.requests)
    first, batches = pull(c, None)
    first_requests = len(sb.requests) - before
    assert len(first) == 100_000 and len({u.external_id for u in first}) == 100_000
    # 100,000 contacts at the spec's 1,000 a page; the answer's count ends the pass without an empty page
    assert first_requests == 100

    world.time = T + HOUR
    changed = [f"m{i:06d}@velo.example" for i in range(0, 100_000, 100)]
    for email in changed:
        sb.modify_contact(email)
    before = len(sb.requests)
    second, _ = pull(c, batches[-1].state)
    assert sorted(u.email for u in second) == changed
    assert len(sb.requests) - before == 1  # 1,000 changed: one full page
    assert {r.path for r in sb.requests} == {"/v3/contacts"}
    c.close()
