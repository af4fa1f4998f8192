"""The sandbox itself: it must refuse what Brevo refuses, or the connector tests prove nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from pressure_connector_brevo.testing import BrevoSandbox

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo" / "data" / "velo"


def call(sb: BrevoSandbox, method: str, path: str, key: str | None = "ok", **kw: Any) -> requests.Response:
    headers = {"api-key": sb.credential if key == "ok" else key} if key else {}
    return requests.request(method, f"{sb.url}{path}", headers=headers, timeout=5, **kw)


def test_key_is_required(sandbox: BrevoSandbox) -> None:
    for key in (None, "xkeysib-wrong"):
        r = call(sandbox, "GET", "/contacts/lists", key=key)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert call(sandbox, "GET", "/contacts/lists").status_code == 200


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/smtp/statistics/events", {"limit": 5001}),
        ("/smtp/statistics/events", {"startDate": "2026-01-01", "endDate": "2026-04-02"}),
        ("/contacts", {"limit": 1001}),
        ("/contacts/lists", {"limit": 51}),
        ("/contacts/folders", {"limit": 51}),
    ],
)
def test_spec_limits_are_out_of_range(sandbox: BrevoSandbox, path: str, params: dict[str, Any]) -> None:
    r = call(sandbox, "GET", path, params=params)
    assert r.status_code == 400 and r.json()["code"] == "out_of_range" and r.json()["message"]


def test_limits_at_the_maximum_are_accepted(sandbox: BrevoSandbox) -> None:
    assert call(sandbox, "GET", "/smtp/statistics/events", params={"limit": 5000}).status_code == 200
    ok = {"startDate": "2026-01-01", "endDate": "2026-04-01"}  # exactly 90 days apart
    assert call(sandbox, "GET", "/smtp/statistics/events", params=ok).status_code == 200
    r = call(sandbox, "GET", "/smtp/statistics/events", params={"startDate": "2026-01-01"})
    assert r.status_code == 400 and r.json()["code"] == "missing_parameter"


def test_list_add_remove_shape_and_150_maximum(sandbox: BrevoSandbox) -> None:
    folder = call(sandbox, "POST", "/contacts/folders", json={"name": "f"}).json()["id"]
    assert call(sandbox, "POST", "/contacts/lists", json={"name": "x"}).status_code == 400  # folderId required
    lst = call(sandbox, "POST", "/contacts/lists", json={"name": "sup", "folderId": folder})
    assert lst.status_code == 201
    list_id = lst.json()["id"]
    sandbox.add_contact("a@x.com")
    r = call(sandbox, "POST", f"/contacts/lists/{list_id}/contacts/add", json={"emails": ["a@x.com", "b@x.com"]})
    assert r.status_code == 201 and r.json() == {"contacts": {"success": ["a@x.com"], "failure": ["b@x.com"]}}
    again = call(sandbox, "POST", f"/contacts/lists/{list_id}/contacts/add", json={"emails": ["a@x.com"]})
    assert again.json()["contacts"]["failure"] == ["a@x.com"]  # already in the list
    too_many = {"emails": [f"u{i}@x.com" for i in range(151)]}
    r = call(sandbox, "POST", f"/contacts/lists/{list_id}/contacts/add", json=too_many)
    assert r.status_code == 400 and r.json()["code"] == "out_of_range"
    assert sandbox.list_members("sup") == {"a@x.com"}
    r = call(sandbox, "POST", f"/contacts/lists/{list_id}/contacts/remove", json={"emails": ["a@x.com"]})
    assert r.status_code == 201 and sandbox.list_members("sup") == set()
    assert call(sandbox, "POST", "/contacts/lists/999/contacts/add", json={"emails": ["a@x.com"]}).status_code == 404


def test_import_completes_after_polls_and_never_blocklists_unasked(sandbox: BrevoSandbox) -> None:
    list_id = sandbox.add_list("sup")
    body = {"jsonBody": [{"email": "new@x.com"}], "listIds": [list_id], "updateExistingContacts": False}
    r = call(sandbox, "POST", "/contacts/import", json=body)
    assert r.status_code == 202
    process = r.json()["processId"]
    assert call(sandbox, "GET", f"/processes/{process}").json()["status"] == "in_process"
    assert sandbox.list_members("sup") == set()
    assert call(sandbox, "GET", f"/processes/{process}").json()["status"] == "completed"
    assert sandbox.list_members("sup") == {"new@x.com"}
    contact = call(sandbox, "GET", "/contacts/new%40x.com").json()
    assert contact["emailBlacklisted"] is False and contact["listIds"] == [list_id]


def test_budget_answers_429_with_brevo_headers(sandbox: BrevoSandbox) -> None:
    sandbox.limits = {"contacts": (2, 60.0), "smtp": (300, 3600.0)}
    first = call(sandbox, "GET", "/contacts/lists")
    assert first.headers["x-sib-ratelimit-limit"] == "2" and first.headers["x-sib-ratelimit-remaining"] == "1"
    assert 0 < int(first.headers["x-sib-ratelimit-reset"]) <= 60
    call(sandbox, "GET", "/contacts")
    limited = call(sandbox, "GET", "/contacts/lists")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.headers["x-sib-ratelimit-remaining"] == "0" and limited.json()["code"]
    # another bucket has its own budget
    other = call(sandbox, "GET", "/smtp/statistics/events")
    assert other.status_code == 200 and other.headers["x-sib-ratelimit-limit"] == "300"


def test_faults(sandbox: BrevoSandbox) -> None:
    sandbox.inject("status", status=503, path="/contacts/lists")
    r = call(sandbox, "GET", "/contacts/lists")
    assert r.status_code == 503 and set(r.json()) == {"code", "message"}
    sandbox.inject("malformed", path="/contacts/lists")
    with pytest.raises(ValueError):
        call(sandbox, "GET", "/contacts/lists").json()
    sandbox.inject("rate_limit", retry_after=7)
    r = call(sandbox, "GET", "/account")
    assert r.status_code == 429 and r.headers["x-sib-ratelimit-reset"] == "7"
    sandbox.inject("revoke", path="/account")
    assert call(sandbox, "GET", "/account").status_code == 401
    assert call(sandbox, "GET", "/contacts/lists").status_code == 401


def test_campaign_stats_window_and_aggregation(sandbox: BrevoSandbox) -> None:
    t = 1_772_000_000  # 2026-02-25
    cid = sandbox.campaign("spring")
    sandbox.add_event("a@x.com", "messagesSent", t, campaign=cid)
    sandbox.add_event("a@x.com", "opened", t + 60, campaign=cid)
    sandbox.add_event("a@x.com", "opened", t + 120, campaign=cid)
    r = call(
        sandbox, "GET", "/contacts/a%40x.com/campaignStats", params={"startDate": "2026-02-25", "endDate": "2026-02-25"}
    )
    stats = r.json()
    assert stats["messagesSent"] == [{"campaignId": cid, "eventTime": "2026-02-25T06:13:20Z"}]
    assert stats["opened"][0]["count"] == 2 and stats["opened"][0]["eventTime"] == "2026-02-25T06:14:20Z"
    outside = {"startDate": "2026-02-26", "endDate": "2026-03-01"}
    assert call(sandbox, "GET", "/contacts/1/campaignStats", params=outside).json() == {}
    assert call(sandbox, "GET", "/contacts/nobody%40x.com/campaignStats").status_code == 404


@pytest.mark.skipif(not DEMO.is_dir(), reason="demo exports not in this checkout")
def test_seed_from_demo_exports_is_deterministic() -> None:
    a, b = BrevoSandbox(), BrevoSandbox()
    a.seed(str(DEMO))
    b.seed(str(DEMO))
    requests_ = [e for e in a.tx_events if e["event"] == "requests"]
    assert len(requests_) == 586 + 819  # transactional and service email touches of velo
    sends = sum(1 for evs in a.campaign_events.values() for e in evs if e.kind == "messagesSent")
    assert sends == 22080  # marketing email touches
    assert len(a.contacts) >= 2697 and a.campaigns == b.campaigns
    assert a.tx_events == b.tx_events
    assert {k: [vars(e) for e in v] for k, v in a.campaign_events.items()} == {
        k: [vars(e) for e in v] for k, v in b.campaign_events.items()
    }
    kinds = {e.kind for evs in a.campaign_events.values() for e in evs}
    assert {"messagesSent", "opened", "clicked"} <= kinds


def test_contacts_modified_since_and_modified_at_moving(sandbox: BrevoSandbox) -> None:
    t = 1_772_000_000  # 2026-02-25T06:13:20Z
    clock = [t]
    sandbox.clock = lambda: clock[0]
    sandbox.add_contact("old@x.com", at=t - 3600)
    sandbox.add_contact("new@x.com", at=t)
    list_id = sandbox.add_list("sup")
    since = {"modifiedSince": "2026-02-25T06:00:00.000Z", "sort": "asc"}
    r = call(sandbox, "GET", "/contacts", params=since)
    assert [c["email"] for c in r.json()["contacts"]] == ["new@x.com"] and r.json()["count"] == 1
    # a list addition moves modifiedAt, as does blocklisting
    clock[0] = t + 60
    call(sandbox, "POST", f"/contacts/lists/{list_id}/contacts/add", json={"emails": ["old@x.com"]})
    old = call(sandbox, "GET", "/contacts/old%40x.com").json()
    assert old["modifiedAt"] == "2026-02-25T06:14:20Z" and old["listIds"] == [list_id]
    r = call(sandbox, "GET", "/contacts", params=since)
    assert [c["email"] for c in r.json()["contacts"]] == ["old@x.com", "new@x.com"]  # still creation order
    sandbox.modify_contact("new@x.com", blacklisted=True, at=t + 120)
    later = call(sandbox, "GET", "/contacts", params={"modifiedSince": "2026-02-25T07:14:30+01:00"}).json()
    assert [(c["email"], c["emailBlacklisted"]) for c in later["contacts"]] == [("new@x.com", True)]
    bad = call(sandbox, "GET", "/contacts", params={"modifiedSince": "yesterday"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"


def test_list_counts_hand_edits_and_deletion(sandbox: BrevoSandbox) -> None:
    list_id = sandbox.add_list("sup")
    sandbox.add_list("other")
    sandbox.edit_list("sup", add=("a@x.com", "b@x.com", "c@x.com"))
    sandbox.modify_contact("c@x.com", blacklisted=True)
    sandbox.edit_list("sup", remove=("b@x.com",))
    found = {item["name"]: item for item in call(sandbox, "GET", "/contacts/lists").json()["lists"]}
    # the spec's examples: uniqueSubscribers = totalSubscribers (not blocklisted) + totalBlacklisted
    assert {k: found["sup"][k] for k in ("totalSubscribers", "totalBlacklisted", "uniqueSubscribers")} == {
        "totalSubscribers": 1,
        "totalBlacklisted": 1,
        "uniqueSubscribers": 2,
    }
    assert found["other"]["uniqueSubscribers"] == 0
    assert sandbox.list_members("sup") == {"a@x.com", "c@x.com"}
    members = call(sandbox, "GET", f"/contacts/lists/{list_id}/contacts", params={"sort": "asc"}).json()
    assert [c["email"] for c in members["contacts"]] == ["a@x.com", "c@x.com"] and members["count"] == 2
    r = call(sandbox, "DELETE", f"/contacts/lists/{list_id}")
    assert r.status_code == 204 and not r.content
    assert call(sandbox, "DELETE", f"/contacts/lists/{list_id}").status_code == 404
    assert call(sandbox, "GET", f"/contacts/lists/{list_id}/contacts").status_code == 404
    assert [item["name"] for item in call(sandbox, "GET", "/contacts/lists").json()["lists"]] == ["other"]
    assert call(sandbox, "GET", "/contacts/a%40x.com").json()["listIds"] == []
    sandbox.add_list("gone")
    sandbox.delete_list("gone")  # by hand, as in Brevo's app
    assert "gone" not in {lst["name"] for lst in sandbox.lists.values()}
    with pytest.raises(KeyError):
        sandbox.edit_list("gone", add=("a@x.com",))


def test_email_campaigns_recipients_statistics_and_sent_date_filter(sandbox: BrevoSandbox) -> None:
    t = 1_772_000_000  # 2026-02-25T06:13:20Z
    newsletter = sandbox.add_list("newsletter")
    cid = sandbox.campaign("spring", lists=(newsletter,))
    draft = sandbox.campaign("never sent")
    for who in ("a@x.com", "b@x.com"):
        sandbox.add_event(who, "messagesSent", t, campaign=cid)
    sandbox.add_event("a@x.com", "opened", t + 60, campaign=cid)
    assert sandbox.list_members("newsletter") == {"a@x.com", "b@x.com"}, "recipients are on the campaign's list"
    window = {"status": "sent", "startDate": "2026-02-25T00:00:00.000Z", "endDate": "2026-02-26T00:00:00.000Z"}
    r = call(sandbox, "GET", "/emailCampaigns", params={**window, "statistics": "globalStats", "limit": 100})
    body = r.json()
    assert r.status_code == 200 and body["count"] == 1 and [c["id"] for c in body["campaigns"]] == [cid]
    campaign = body["campaigns"][0]
    assert campaign["sentDate"] == "2026-02-25T06:13:20Z" and campaign["recipients"]["lists"] == [newsletter]
    stats = campaign["statistics"]["globalStats"]
    assert (stats["sent"], stats["uniqueViews"], stats["viewed"]) == (2, 1, 1)
    sandbox.add_event("a@x.com", "opened", t + 120, campaign=cid)
    again = call(sandbox, "GET", "/emailCampaigns", params=window).json()["campaigns"][0]
    assert again["statistics"]["globalStats"]["viewed"] == 2, "statistics move with every event"
    later = {"status": "sent", "startDate": "2026-02-26T00:00:00.000Z", "endDate": "2026-03-01T00:00:00.000Z"}
    assert call(sandbox, "GET", "/emailCampaigns", params=later).json() == {"count": 0}
    assert draft not in [c["id"] for c in call(sandbox, "GET", "/emailCampaigns").json()["campaigns"]]
    r = call(sandbox, "GET", "/emailCampaigns", params={"limit": 101})
    assert r.status_code == 400 and r.json()["code"] == "out_of_range"
    r = call(sandbox, "GET", "/emailCampaigns", params={"startDate": "2026-02-25T00:00:00.000Z"})
    assert r.status_code == 400 and r.json()["code"] == "missing_parameter"


def test_rate_buckets_follow_brevos_table_not_the_connector() -> None:
    with BrevoSandbox(limits={"other": (1, 3600.0), "contacts": (10, 1.0)}) as sb:
        assert [sb.bucket(f"/v3{p}") for p in ("/smtp/email", "/smtp/emails", "/smtp/statistics/events")] == [
            "smtp-send",
            "smtp-emails",
            "smtp",
        ]
        assert [sb.bucket(f"/v3{p}") for p in ("/contacts", "/contacts/lists/3", "/events", "/processes/1")] == [
            "contacts",
            "contacts",
            "events",
            "other",
        ]
        assert call(sb, "GET", "/emailCampaigns").status_code == 200
        limited = call(sb, "GET", "/emailCampaigns")
        assert limited.status_code == 429 and limited.headers["x-sib-ratelimit-limit"] == "1"
        assert call(sb, "GET", "/contacts").status_code == 200, "another bucket is not limited"


def test_the_sandbox_imports_nothing_from_the_connector() -> None:
    """An independent model of Brevo: a wrong bucket map in the connector cannot be copied into its fake."""
    import ast

    import pressure_connector_brevo.testing as kit

    for path in Path(kit.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level <= 1, f"{path.name} imports from the connector package: {module}"
                assert not module.startswith("pressure_connector_"), f"{path.name} imports {module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("pressure_connector_") for a in node.names), path.name
