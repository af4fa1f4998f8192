"""Request counts for the README, measured, not computed.

Pulls: an audience of 100,000 contacts sent one campaign a week for 90 days (13 campaigns,
each to every contact), a first pull of those 90 days, then an hourly pull. Served at full
scale by ``responses`` callbacks that cut pages from totals (rows are not parsed there: the
count depends on pages, not rows; rows are tested elsewhere), and cross-checked on the
sandbox at one hundredth of the scale with a page size a hundredth too, which pages the same.
Pushes: 10,000 list changes on the sandbox, at full scale.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from pressure_connector_mailchimp import MailchimpConnector
from pressure_connector_mailchimp.streams import Report
from pressure_connector_mailchimp.testing import MailchimpSandbox

from pressure_sdk.config import ListConfig, parse_config
from pressure_sdk.ledger.store import Member

DAY = 86400
NOW = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
ENV = "MAILCHIMP_COUNT_KEY"
KEY = "0123456789abcdef0123456789abcdef-us6"
BASE = "https://us6.api.mailchimp.com/3.0"
LIST_ID = "a1b2c3d4e5"
WEEKS = 13
#: campaign send times: weekly, the first 89 days before now
SENDS = [NOW - 89 * DAY + w * 7 * DAY for w in range(WEEKS)]
#: campaigns sent less than activity_days (30) before an hourly pull one hour later: weeks 9 to 12
ACTIVE = [t for t in SENDS if t >= NOW + 3600 - 30 * DAY]

#: what the README reports; every measurement below must find exactly these
FIRST_PULL_DIRECT = 1 + WEEKS * (100 + 100 + 1 + 1)  # listing + sent-to, email-activity, unsubscribed, abuse-reports
FIRST_PULL_BATCHED = 1 + 3 + 13 * 3  # listing + a batch of 52 first pages + 13 batches of ≤ 200 remaining pages
HOURLY_PULL = 1 + len(ACTIVE) * 3  # listing + email-activity since, unsubscribed, abuse-reports per active campaign
AUDIENCE_FIRST, AUDIENCE_HOURLY = 100, 1


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_url: str, **settings: Any) -> MailchimpConnector:
    monkeypatch.setenv(ENV, settings.pop("key", KEY))
    account = {
        "name": "outlet-mailchimp",
        "connector": "mailchimp",
        "brand": "outlet",
        "credential_env": ENV,
        "base_url": base_url,
        "settings": {"list_id": settings.pop("list_id", LIST_ID), "backfill_days": 90, **settings},
        "lists": [{"name": "outlet-pause"}],
    }
    cfg = parse_config({"brands": {"outlet": {}}, "accounts": [account]}, base_dir=tmp_path)
    c = MailchimpConnector.from_account(cfg.accounts[0], cfg, 0)
    assert isinstance(c, MailchimpConnector)
    c.now = lambda: NOW  # type: ignore[method-assign]
    return c


def last_state(c: MailchimpConnector, pull: Iterator[Any]) -> Any:
    state = None
    for batch in pull:
        state = batch.state if batch.state is not None else state
    return state


# -- full scale, through responses ---------------------------------------------------------------------


class Virtual:
    """100,000 contacts and 13 weekly campaigns, answered by callbacks; every page cut from its total."""

    contacts = 100_000
    opens_last_hour = 500
    unsubscribes = 150
    abuse = 20

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.cids = [f"c{w:09d}" for w in range(WEEKS)]
        self.batches: dict[str, list[dict[str, Any]]] = {}
        self.pages: dict[tuple[Any, ...], str] = {}
        rsps.add_callback("GET", f"{BASE}/campaigns", self._answer(self._campaigns))
        rsps.add_callback("GET", re.compile(rf"{BASE}/reports/\w+/[\w-]+"), self._answer(self._report))
        rsps.add_callback("GET", re.compile(rf"{BASE}/lists/{LIST_ID}/members"), self._answer(self._members))
        rsps.add_callback("POST", f"{BASE}/batches", self._start)
        rsps.add_callback("GET", re.compile(rf"{BASE}/batches/\w+"), self._status)
        rsps.add_callback("GET", re.compile(r"https://storage\.example/\w+\.tar\.gz"), self._archive)

    def _answer(self, fn: Any) -> Any:
        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            split = urlsplit(request.url)
            params = {k: v[-1] for k, v in parse_qs(split.query).items()}
            return 200, {}, fn(split.path.removeprefix("/3.0"), params)

        return callback

    @staticmethod
    def _cut(total: int, params: dict[str, Any], row: Any) -> tuple[list[Any], int]:
        offset, count = int(params.get("offset", 0)), int(params.get("count", 10))
        return [row(i) for i in range(offset, min(total, offset + count))], total

    def _campaigns(self, path: str, params: dict[str, Any]) -> str:
        since = datetime.fromisoformat(params["since_send_time"]).timestamp()
        found = [{"id": cid, "send_time": iso(at)} for cid, at in zip(self.cids, SENDS, strict=True) if at > since]
        return json.dumps({"campaigns": found, "total_items": len(found)})

    def _report(self, path: str, params: dict[str, Any]) -> str:
        kind = path.rsplit("/", 1)[1]
        page = (kind, "since" in params, params.get("offset"), params.get("count"))
        if page not in self.pages:  # every campaign went to the same contacts: a page is the same for all
            self.pages[page] = json.dumps(self._page(kind, params))
        return self.pages[page]

    def _page(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        email = lambda i: {"email_address": f"c{i:06d}@example.com"}  # noqa: E731
        if kind == "abuse-reports":
            return {"abuse_reports": [email(i) for i in range(self.abuse)], "total_items": self.abuse}
        key, total = {
            "sent-to": ("sent_to", self.contacts),
            # without since every recipient; since the last hour, those who opened in it
            "email-activity": ("emails", self.opens_last_hour // len(ACTIVE) if "since" in params else self.contacts),
            "unsubscribed": ("unsubscribes", self.unsubscribes),
        }[kind]
        rows, total = self._cut(total, params, email)
        return {key: rows, "total_items": total}

    def _members(self, path: str, params: dict[str, Any]) -> str:
        total = 1000 if "since_last_changed" in params else self.contacts
        member = lambda i: {  # noqa: E731
            "id": f"h{i}",
            "email_address": f"c{i:06d}@example.com",
            "status": "subscribed",
            "last_changed": iso(NOW - DAY),
        }
        rows, total = self._cut(total, params, member)
        return json.dumps({"members": rows, "total_items": total})

    def _start(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        batch_id = f"b{len(self.batches)}"
        self.batches[batch_id] = json.loads(request.body or b"{}")["operations"]
        return 200, {}, json.dumps({"id": batch_id, "status": "pending"})

    def _status(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        batch_id = urlsplit(request.url).path.rsplit("/", 1)[1]
        url = f"https://storage.example/{batch_id}.tar.gz"
        return 200, {}, json.dumps({"id": batch_id, "status": "finished", "response_body_url": url})

    def _archive(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        batch_id = urlsplit(request.url).path.strip("/").removesuffix(".tar.gz")
        results = [
            {
                "status_code": 200,
                "operation_id": op["operation_id"],
                "response": self._report(op["path"], {k: str(v) for k, v in op["params"].items()}),
            }
            for op in self.batches[batch_id]
        ]
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            data = json.dumps(results).encode()
            info = tarfile.TarInfo("0.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return 200, {}, gzip.compress(raw.getvalue(), compresslevel=1)


@pytest.fixture
def virtual(monkeypatch: pytest.MonkeyPatch) -> Iterator[Virtual]:
    # the count depends on pages, not on the rows in them
    monkeypatch.setattr(Report, "parse", lambda self, record, parent: [])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield Virtual(rsps)


def test_pulls_of_100000_contacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, virtual: Virtual, recorded_sleeps: list[float]
) -> None:
    direct = connector(tmp_path / "a", monkeypatch, BASE, batch_min_operations=0)
    state = last_state(direct, direct.pull(None))
    assert len(virtual.rsps.calls) == FIRST_PULL_DIRECT == 2627
    # every campaign was read whole; those past activity_days are forgotten once read
    assert len(state["done"]) == len(ACTIVE) == 4

    before = len(virtual.rsps.calls)
    batched = connector(tmp_path / "b", monkeypatch, BASE)  # the defaults: batches from 50 pages, 200 a batch
    assert last_state(batched, batched.pull(None)) == state
    assert len(virtual.rsps.calls) - before == FIRST_PULL_BATCHED == 43
    assert [len(ops) for ops in virtual.batches.values()] == [52] + [200] * 12 + [174]

    before = len(virtual.rsps.calls)
    batched.now = lambda: NOW + 3600  # type: ignore[method-assign]
    last_state(batched, batched.pull(state))
    assert len(virtual.rsps.calls) - before == HOURLY_PULL == 13  # 12 reads: below 50, read directly
    assert len(virtual.batches) == 14

    before = len(virtual.rsps.calls)
    audience = last_state(batched, batched.pull_audience(None))
    assert len(virtual.rsps.calls) - before == AUDIENCE_FIRST
    before = len(virtual.rsps.calls)
    last_state(batched, batched.pull_audience(audience))
    assert len(virtual.rsps.calls) - before == AUDIENCE_HOURLY


# -- the same on the sandbox, at one hundredth of the scale ------------------------------------------------


def test_the_sandbox_pages_the_same_at_one_hundredth_of_the_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_sleeps: list[float]
) -> None:
    with MailchimpSandbox() as sb:
        emails = [f"c{i:04d}@example.com" for i in range(1000)]
        for email in emails:
            sb.add_member(email, at=NOW - 200 * DAY)
        cids = [sb.add_campaign(f"week-{w}", at, emails) for w, at in enumerate(SENDS)]
        for cid, at in zip(cids, SENDS, strict=True):
            for email in emails[::5]:
                sb.add_activity(cid, email, "open", at + 3600)
            sb.add_unsubscribe(cid, emails[WEEKS + SENDS.index(at)], at + 7200)
        settings = {"key": sb.credential, "list_id": sb.list_id, "page_size": 10}
        direct = connector(tmp_path / "a", monkeypatch, sb.url, batch_min_operations=0, **settings)
        state = last_state(direct, direct.pull(None))
        # one request more than at full scale each time campaigns are listed: 13 campaigns are two pages of 10
        assert len(sb.requests) == FIRST_PULL_DIRECT + 1

        before = len(sb.requests)
        batched = connector(tmp_path / "b", monkeypatch, sb.url, batch_poll_interval=0, **settings)
        assert last_state(batched, batched.pull(None)) == state
        assert len(sb.requests) - before == FIRST_PULL_BATCHED + 1

        # an hour of activity on the active campaigns, then the hourly pull
        for cid in cids[-len(ACTIVE) :]:
            for email in emails[1:6]:
                sb.add_activity(cid, email, "click", NOW + 600, url="https://outlet.example/x")
        before = len(sb.requests)
        batched.now = lambda: NOW + 3600  # type: ignore[method-assign]
        last_state(batched, batched.pull(state))
        assert len(sb.requests) - before == HOURLY_PULL

        before = len(sb.requests)
        audience = last_state(batched, batched.pull_audience(None))
        assert len(sb.requests) - before == AUDIENCE_FIRST
        for email in emails[:10]:
            sb.set_status(email, "unsubscribed", at=NOW + 1800)
        before = len(sb.requests)
        last_state(batched, batched.pull_audience(audience))
        assert len(sb.requests) - before == AUDIENCE_HOURLY


# -- pushes: 10,000 list changes on the sandbox -----------------------------------------------------------


def measure_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adds: int, removes: int, unknown: int) -> int:
    """Requests to push ``adds`` and ``removes`` (the first ``unknown`` adds without a Mailchimp id)."""
    with MailchimpSandbox() as sb:
        add = [Member(i, f"a{i:05d}@example.com", None if i <= unknown else f"id{i}") for i in range(1, adds + 1)]
        remove = [Member(100_000 + i, f"r{i:05d}@example.com", f"rid{i}") for i in range(1, removes + 1)]
        for m in add:
            sb.add_member(m.email)
        sb.add_segment("outlet-pause", [m.email for m in remove])
        c = connector(tmp_path, monkeypatch, sb.url, key=sb.credential, list_id=sb.list_id)
        batches = list(c.push(ListConfig(name="outlet-pause", brand="outlet"), add, remove, add))
        c.close()
        assert sorted(x for b in batches for x in b.added) == [m.contact_id for m in add]
        assert sorted(x for b in batches for x in b.removed) == [m.contact_id for m in remove]
        assert sb.segment_members("outlet-pause") == {m.email for m in add}
        return len(sb.requests)


@pytest.mark.parametrize(
    ("adds", "removes", "unknown", "expected"),
    [
        # 10 calls of 500 adds + 500 removes (the floor: 10,000 / 1,000 per call) + the segment lookup
        (5000, 5000, 0, 1 + 10),
        # 20 calls of 500 (the floor: 10,000 / 500) + the lookup
        (10_000, 0, 0, 1 + 20),
        # the 200 adds without a Mailchimp id fit in the first call's 500: one batch subscribe
        (5000, 5000, 200, 1 + 10 + 1),
        # no add has a Mailchimp id (the audience never pulled): one batch subscribe per segment call
        (5000, 5000, 5000, 1 + 10 + 10),
    ],
)
def test_push_10000_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adds: int, removes: int, unknown: int, expected: int
) -> None:
    assert measure_push(tmp_path, monkeypatch, adds, removes, unknown) == expected
