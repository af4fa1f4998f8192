"""The Mailchimp sandbox itself: auth, problem documents, paging, limits, reports, segments, batches, seed.

Requests here are written as the official client sends them (HTTP Basic with any user
name, ``count``/``offset`` paging, JSON bodies), never through the connector.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from pressure_connector_mailchimp.testing import MailchimpSandbox, subscriber_hash

from pressure_sdk.testing.exports import find_demo, read_export

T0 = 1_780_000_000  # 2026-05-28T20:26:40Z


def call(sb: MailchimpSandbox, method: str, path: str, *, key: str | None = None, **kw: Any) -> requests.Response:
    auth = ("user", sb.credential if key is None else key)
    return requests.request(method, f"{sb.url}{path}", auth=auth, timeout=5, **kw)


def campaign_with(sb: MailchimpSandbox, n: int, at: float = T0, title: str = "spring") -> str:
    return sb.add_campaign(title, at, [f"r{i:03d}@example.com" for i in range(n)])


# -- auth and errors ------------------------------------------------------------------------------


def test_basic_auth_with_any_user_name(sandbox: MailchimpSandbox) -> None:
    assert sandbox.credential.endswith("-us1")
    ok = requests.get(f"{sandbox.url}/campaigns", auth=("anystring", sandbox.credential), timeout=5)
    assert ok.status_code == 200 and ok.json()["total_items"] == 0
    assert ok.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("key", ["", "0123456789abcdef0123456789abcdef-us1", "wrong"])
def test_a_bad_key_is_a_401_problem_document(sandbox: MailchimpSandbox, key: str) -> None:
    r = call(sandbox, "GET", "/campaigns", key=key)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    body = r.json()
    assert body["title"] == "API Key Invalid" and body["status"] == 401
    assert body["type"] == "https://mailchimp.com/developer/marketing/docs/errors/"
    assert body["instance"] == r.headers["X-Request-Id"] and body["detail"]
    assert (
        r.headers["Link"] == '<https://us1.api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"'
    )
    assert requests.get(f"{sandbox.url}/campaigns", timeout=5).status_code == 401


def test_unknown_resources_and_methods(sandbox: MailchimpSandbox) -> None:
    r = call(sandbox, "GET", "/lists/nosuchlist/members")
    assert r.status_code == 404 and r.json()["title"] == "Resource Not Found"
    assert call(sandbox, "GET", "/reports/nosuchcamp/sent-to").status_code == 404
    assert call(sandbox, "GET", "/no/such/endpoint").status_code == 404
    r = call(sandbox, "PUT", "/campaigns")
    assert r.status_code == 405 and r.json()["title"] == "Method Not Allowed"


def test_count_is_10_by_default_and_at_most_1000(sandbox: MailchimpSandbox) -> None:
    campaign_with(sandbox, 25)
    cid = next(iter(sandbox.campaigns))
    r = call(sandbox, "GET", f"/reports/{cid}/sent-to")
    assert len(r.json()["sent_to"]) == 10 and r.json()["total_items"] == 25
    bad = call(sandbox, "GET", f"/reports/{cid}/sent-to", params={"count": 1001})
    assert bad.status_code == 400 and bad.json()["title"] == "Invalid Resource"
    assert bad.json()["errors"][0]["field"] == "count"
    assert call(sandbox, "GET", f"/reports/{cid}/sent-to", params={"count": 1000}).status_code == 200
    pages = [
        call(sandbox, "GET", f"/reports/{cid}/sent-to", params={"count": 10, "offset": o}).json()["sent_to"]
        for o in (0, 10, 20, 30)
    ]
    assert [len(p) for p in pages] == [10, 10, 5, 0]
    emails = [row["email_address"] for p in pages for row in p]
    assert emails == [f"r{i:03d}@example.com" for i in range(25)]


def test_fields_and_exclude_fields_trim_answers(sandbox: MailchimpSandbox) -> None:
    campaign_with(sandbox, 3)
    cid = next(iter(sandbox.campaigns))
    r = call(
        sandbox, "GET", f"/reports/{cid}/sent-to", params={"fields": "sent_to.email_address,total_items", "count": 2}
    )
    assert r.json() == {
        "sent_to": [{"email_address": "r000@example.com"}, {"email_address": "r001@example.com"}],
        "total_items": 3,
    }
    r = call(sandbox, "GET", "/campaigns", params={"exclude_fields": "campaigns.recipients,_links"})
    assert "_links" not in r.json() and "recipients" not in r.json()["campaigns"][0]


# -- campaigns and reports -----------------------------------------------------------------------------


def test_campaigns_filter_and_sort(sandbox: MailchimpSandbox) -> None:
    old = campaign_with(sandbox, 1, T0 - 86400, "old")
    new = campaign_with(sandbox, 1, T0 + 60, "new")
    mid = campaign_with(sandbox, 1, T0, "mid")
    draft = sandbox.add_campaign("draft", T0 + 120, status="save")
    other = sandbox.add_list("Other audience")
    sandbox.add_campaign("elsewhere", T0 + 30, ["x@example.com"], list_id=other)

    def ids(**params: Any) -> list[str]:
        r = call(sandbox, "GET", "/campaigns", params=params)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["campaigns"]]

    base = {"status": "sent", "list_id": sandbox.list_id, "sort_field": "send_time"}
    assert ids(**base, sort_dir="ASC") == [old, mid, new]
    assert ids(**base, sort_dir="DESC") == [new, mid, old]
    # "sent after the set time": strictly after
    assert ids(**base, since_send_time="2026-05-28T20:26:40+00:00") == [new]
    assert ids(**base, before_send_time="2026-05-28T20:26:40+00:00") == [old]
    assert draft not in ids(status="sent") and draft in ids() and len(ids(count=100)) == 5
    assert call(sandbox, "GET", "/campaigns", params={"status": "done"}).status_code == 400
    assert call(sandbox, "GET", "/campaigns", params={"since_send_time": "yesterday"}).status_code == 400
    sent = call(sandbox, "GET", "/campaigns", params=base).json()["campaigns"][0]
    assert sent["send_time"] == "2026-05-27T20:26:40+00:00" and sent["recipients"]["list_id"] == sandbox.list_id


def test_reports_of_a_campaign(sandbox: MailchimpSandbox) -> None:
    cid = campaign_with(sandbox, 4)
    sandbox.add_activity(cid, "r000@example.com", "open", T0 + 10)
    sandbox.add_activity(cid, "r000@example.com", "click", T0 + 20, url="https://shop.example/a")
    sandbox.add_activity(cid, "r001@example.com", "bounce", T0 + 5, bounce="soft")
    sandbox.add_unsubscribe(cid, "r002@example.com", T0 + 30, "too many emails")
    report = sandbox.add_abuse(cid, "r003@example.com", T0 + 40)

    sent = call(sandbox, "GET", f"/reports/{cid}/sent-to", params={"count": 1000}).json()
    assert sent["campaign_id"] == cid and sent["total_items"] == 4
    row = sent["sent_to"][0]
    assert row["email_id"] == subscriber_hash("r000@example.com") and row["open_count"] == 1
    assert {r["email_address"]: r["status"] for r in sent["sent_to"]}["r001@example.com"] == "soft"

    everything = call(sandbox, "GET", f"/reports/{cid}/email-activity", params={"count": 1000}).json()
    assert everything["total_items"] == 4  # without since, every recipient, activity or not
    acts = {e["email_address"]: e["activity"] for e in everything["emails"]}
    assert [a["action"] for a in acts["r000@example.com"]] == ["open", "click"]
    assert acts["r000@example.com"][1]["url"] == "https://shop.example/a"
    assert acts["r001@example.com"] == [
        {"action": "bounce", "timestamp": "2026-05-28T20:26:45+00:00", "ip": "203.0.113.7", "type": "soft"}
    ]
    later = call(sandbox, "GET", f"/reports/{cid}/email-activity", params={"since": "2026-05-28T20:26:50+00:00"})
    assert [(e["email_address"], [a["action"] for a in e["activity"]]) for e in later.json()["emails"]] == [
        ("r000@example.com", ["click"])
    ]
    one = call(sandbox, "GET", f"/reports/{cid}/email-activity/{subscriber_hash('r000@example.com')}").json()
    assert len(one["activity"]) == 2

    unsubs = call(sandbox, "GET", f"/reports/{cid}/unsubscribed").json()
    assert unsubs["unsubscribes"][0]["reason"] == "too many emails" and unsubs["total_items"] == 1
    assert unsubs["unsubscribes"][0]["timestamp"] == "2026-05-28T20:27:10+00:00"
    abuse = call(sandbox, "GET", f"/reports/{cid}/abuse-reports", params={"count": 1, "offset": 5}).json()
    # no paging: every report, whatever count and offset say
    assert [a["id"] for a in abuse["abuse_reports"]] == [report] and isinstance(report, int)
    assert abuse["abuse_reports"][0]["date"] == "2026-05-28T20:27:20+00:00"
    assert sandbox.member("r002@example.com").status == "unsubscribed"  # type: ignore[union-attr]


# -- members -------------------------------------------------------------------------------------------


def test_members_since_last_changed_and_status(sandbox: MailchimpSandbox) -> None:
    sandbox.add_member("early@example.com", at=T0 - 100)
    sandbox.add_member("late@example.com", at=T0 + 100)
    sandbox.add_member("gone@example.com", at=T0 - 100)
    sandbox.set_status("gone@example.com", "unsubscribed", at=T0 + 200)
    path = f"/lists/{sandbox.list_id}/members"
    got = call(sandbox, "GET", path, params={"since_last_changed": "2026-05-28T20:26:40+00:00"}).json()
    assert sorted(m["email_address"] for m in got["members"]) == ["gone@example.com", "late@example.com"]
    assert got["total_items"] == 2 and got["list_id"] == sandbox.list_id
    gone = next(m for m in got["members"] if m["email_address"] == "gone@example.com")
    assert gone["status"] == "unsubscribed" and gone["last_changed"] == "2026-05-28T20:30:00+00:00"
    assert gone["id"] == subscriber_hash("gone@example.com") and gone["contact_id"]
    assert len(call(sandbox, "GET", path, params={"status": "subscribed"}).json()["members"]) == 2
    assert (
        call(sandbox, "GET", path, params={"status": "subscribed", "unsubscribed_since": "2026-01-01"}).status_code
        == 400
    )
    assert call(sandbox, "GET", path, params={"since_last_campaign": "true"}).status_code == 400


def test_batch_subscribe(sandbox: MailchimpSandbox) -> None:
    sandbox.add_member("there@example.com")
    path = f"/lists/{sandbox.list_id}"
    body = {
        "members": [
            {"email_address": "New@Example.com", "status": "transactional"},
            {"email_address": "there@example.com", "status": "transactional"},
            {"email_address": "not-an-email", "status": "transactional"},
        ],
        "update_existing": False,
    }
    r = call(sandbox, "POST", path, json=body).json()
    assert [m["email_address"] for m in r["new_members"]] == ["new@example.com"]
    assert r["new_members"][0]["status"] == "transactional" and r["total_created"] == 1
    assert {e["email_address"]: e["error_code"] for e in r["errors"]} == {
        "there@example.com": "ERROR_CONTACT_EXISTS",
        "not-an-email": "ERROR_GENERIC",
    }
    assert sandbox.member("there@example.com").status == "subscribed"  # type: ignore[union-attr]
    updated = call(sandbox, "POST", path, json={**body, "update_existing": True}).json()
    assert [m["email_address"] for m in updated["updated_members"]] == ["new@example.com", "there@example.com"]
    too_many = {"members": [{"email_address": f"m{i}@example.com", "status": "subscribed"} for i in range(501)]}
    assert call(sandbox, "POST", path, json=too_many).status_code == 400


# -- segments ------------------------------------------------------------------------------------------


def test_static_segment_create_batch_and_read(sandbox: MailchimpSandbox) -> None:
    for i in range(3):
        sandbox.add_member(f"m{i}@example.com")
    sandbox.set_status("m2@example.com", "unsubscribed")
    base = f"/lists/{sandbox.list_id}/segments"
    assert call(sandbox, "POST", base, json={"static_segment": []}).json()["errors"][0]["field"] == "name"
    neither = call(sandbox, "POST", base, json={"name": "x"})
    assert neither.status_code == 400 and "static_segment" in neither.json()["detail"]
    both = call(sandbox, "POST", base, json={"name": "x", "static_segment": [], "options": {}})
    assert both.status_code == 400
    seg = call(
        sandbox, "POST", base, json={"name": "pause", "static_segment": ["m0@example.com", "nobody@x.io"]}
    ).json()
    assert isinstance(seg["id"], int) and seg["type"] == "static" and seg["member_count"] == 1

    r = call(
        sandbox,
        "POST",
        f"{base}/{seg['id']}",
        json={
            "members_to_add": ["m1@example.com", "m2@example.com", "nobody@x.io"],
            "members_to_remove": ["m0@example.com"],
        },
    ).json()
    assert sorted(m["email_address"] for m in r["members_added"]) == ["m1@example.com", "m2@example.com"]
    assert [m["email_address"] for m in r["members_removed"]] == ["m0@example.com"]
    assert (r["total_added"], r["total_removed"], r["error_count"], r["errors"]) == (2, 1, 0, [])
    # member_count counts active subscribers only
    listed = call(sandbox, "GET", base, params={"type": "static"}).json()
    assert listed["segments"][0]["member_count"] == 1 and listed["total_items"] == 1
    plain = call(sandbox, "GET", f"{base}/{seg['id']}/members").json()
    assert [m["email_address"] for m in plain["members"]] == ["m1@example.com"]
    every = call(
        sandbox,
        "GET",
        f"{base}/{seg['id']}/members",
        params={"include_unsubscribed": "true", "include_cleaned": "true", "include_transactional": "true"},
    ).json()
    assert every["total_items"] == 2
    over = call(sandbox, "POST", f"{base}/{seg['id']}", json={"members_to_add": [f"{i}@x.io" for i in range(501)]})
    assert over.status_code == 400
    assert over.json()["detail"].startswith("Maximum allowed member items exceeded, please provide at most 500")
    saved = sandbox.add_segment("saved one", kind="saved")
    assert call(sandbox, "POST", f"{base}/{saved}", json={"members_to_add": []}).status_code == 400
    assert call(sandbox, "DELETE", f"{base}/{seg['id']}").status_code == 204
    assert call(sandbox, "GET", f"{base}/{seg['id']}").status_code == 404


def test_tags_are_static_segments(sandbox: MailchimpSandbox) -> None:
    mid = sandbox.add_member("t@example.com")
    path = f"/lists/{sandbox.list_id}/members/{mid}/tags"
    r = call(sandbox, "POST", path, json={"tags": [{"name": "pause", "status": "active"}], "is_syncing": True})
    assert r.status_code == 204 and r.content == b""
    assert sandbox.segment_members("pause") == {"t@example.com"}
    call(sandbox, "POST", path, json={"tags": [{"name": "pause", "status": "inactive"}]})
    assert sandbox.segment_members("pause") == set()


# -- limits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [True, False])
def test_more_than_max_connections_at_once_answer_429(retry_after: bool) -> None:
    with MailchimpSandbox(max_connections=2, latency=0.3, retry_after=retry_after) as sb:
        answers: list[requests.Response] = []
        threads = [threading.Thread(target=lambda: answers.append(call(sb, "GET", "/campaigns"))) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    limited = [r for r in answers if r.status_code == 429]
    assert len(limited) == 3 and sum(r.status_code == 200 for r in answers) == 2
    assert sb.peak_connections >= 3 and sb.refused_connections == 3
    assert limited[0].json()["title"] == "Too Many Requests"
    assert ("Retry-After" in limited[0].headers) is retry_after


# -- batch operations ------------------------------------------------------------------------------------


def read_archive(data: bytes) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
        for member in tar.getmembers():
            f = tar.extractfile(member)
            assert f is not None
            out += json.load(f)
    return out


def test_batch_operations_run_when_polled_and_results_are_an_archive() -> None:
    with MailchimpSandbox(batch_polls=2, results_per_file=2) as sb:
        cid = campaign_with(sb, 3)
        ops = [
            {
                "method": "GET",
                "path": f"/reports/{cid}/sent-to",
                "params": {"count": 2, "offset": 0},
                "operation_id": "a",
            },
            {
                "method": "GET",
                "path": f"/reports/{cid}/sent-to",
                "params": {"count": 2, "offset": 2},
                "operation_id": "b",
            },
            {"method": "GET", "path": "/reports/nosuch/sent-to", "operation_id": "c"},
            {
                "method": "POST",
                "path": f"/lists/{sb.list_id}/segments",
                "body": json.dumps({"name": "via batch", "static_segment": ["r000@example.com"]}),
                "operation_id": "d",
            },
        ]
        started = call(sb, "POST", "/batches", json={"operations": ops}).json()
        assert started["status"] == "pending" and started["total_operations"] == 4
        assert started["response_body_url"] == "" and started["completed_at"] == ""
        first = call(sb, "GET", f"/batches/{started['id']}").json()
        assert first["status"] == "started" and sb.segment_members("via batch") == set()
        done = call(sb, "GET", f"/batches/{started['id']}").json()
        assert done["status"] == "finished" and done["finished_operations"] == 4 and done["errored_operations"] == 1
        # the results link is a storage link: no credential
        archive = requests.get(done["response_body_url"], timeout=5)
        assert archive.status_code == 200
        results = {r["operation_id"]: r for r in read_archive(archive.content)}
        assert [results[k]["status_code"] for k in "abcd"] == [200, 200, 404, 200]
        assert isinstance(results["a"]["response"], str)
        assert [row["email_address"] for row in json.loads(results["b"]["response"])["sent_to"]] == ["r002@example.com"]
        assert json.loads(results["c"]["response"])["title"] == "Resource Not Found"
        assert sb.segment_members("via batch") == {"r000@example.com"}
        assert requests.get(done["response_body_url"] + "x", timeout=5).status_code == 404
        assert call(sb, "GET", "/batches").json()["total_items"] == 1


def test_batch_operations_are_validated(sandbox: MailchimpSandbox) -> None:
    assert call(sandbox, "POST", "/batches", json={}).status_code == 400
    bad = call(sandbox, "POST", "/batches", json={"operations": [{"method": "GET", "path": "https://x/lists"}]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "operations.item:0"
    body_not_string = {"operations": [{"method": "POST", "path": "/batches", "body": {"a": 1}}]}
    assert call(sandbox, "POST", "/batches", json=body_not_string).status_code == 400


# -- faults from the base ------------------------------------------------------------------------------


def test_injected_faults_use_mailchimp_bodies(sandbox: MailchimpSandbox) -> None:
    sandbox.inject("status", status=503)
    r = call(sandbox, "GET", "/campaigns")
    assert r.status_code == 503 and r.json()["title"] == "Service Unavailable"
    sandbox.inject("rate_limit", retry_after=7)
    r = call(sandbox, "GET", "/campaigns")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    sandbox.inject("revoke")
    r = call(sandbox, "GET", "/campaigns")
    assert r.status_code == 401 and r.json()["title"] == "API Key Invalid"


# -- seed ----------------------------------------------------------------------------------------------


def test_demo_seed_builds_campaigns_and_reports() -> None:
    folder = find_demo("maison-outlet", Path(__file__).resolve())
    touches = [r for r in read_export(folder, "touches") if r["channel"] == "email" and r["family"] == "marketing"]
    with MailchimpSandbox() as sb:
        sb.seed(str(folder))
        assert sorted(c.title for c in sb.campaigns.values()) == sorted({r["campaign"] for r in touches})
        assert sum(len(c.recipients) for c in sb.campaigns.values()) == len(touches)
        members = call(sb, "GET", f"/lists/{sb.list_id}/members", params={"count": 1}).json()["total_items"]
        assert members == len({r["email"].lower() for r in read_export(folder, "touches") if r["channel"] == "email"})
        opens = sum(
            1 for c in sb.campaigns.values() for acts in c.activity.values() for a in acts if a.action == "open"
        )
        assert opens > 0
        unsubs = sum(len(c.unsubscribes) for c in sb.campaigns.values())
        engaged = [
            r for r in read_export(folder, "engagements") if r["channel"] == "email" and r["type"] == "unsubscribe"
        ]
        assert 0 < unsubs <= len(engaged)
