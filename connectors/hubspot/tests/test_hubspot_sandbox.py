"""The HubSpot sandbox itself: shapes, limits, paging, faults and the demo seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pressure_connector_hubspot.testing import HubSpotSandbox

from pressure_sdk.testing.exports import find_demo, read_export


def call(sb: HubSpotSandbox, method: str, path: str, *, auth: bool = True, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {sb.credential}"} if auth else {}
    return requests.request(method, f"{sb.url}{path}", headers=headers, timeout=5, **kw)


def test_bearer_token_required(sandbox: HubSpotSandbox) -> None:
    r = call(sandbox, "GET", "/email/public/v1/events", auth=False)
    assert r.status_code == 401
    body = r.json()
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION" and body["correlationId"]
    assert r.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_events_newest_first_with_offset_paging(sandbox: HubSpotSandbox) -> None:
    for i in range(5):
        sandbox.add_event("OPEN", f"p{i}@x.io", 1_000_000 + i)
    sandbox.add_event("CLICK", "late@x.io", 9_000_000)
    params = {"startTimestamp": 1_000_000, "endTimestamp": 1_000_004, "limit": 2}
    first = call(sandbox, "GET", "/email/public/v1/events", params=params).json()
    assert [e["created"] for e in first["events"]] == [1_000_004, 1_000_003] and first["hasMore"] is True
    second = call(sandbox, "GET", "/email/public/v1/events", params={**params, "offset": first["offset"]}).json()
    assert [e["created"] for e in second["events"]] == [1_000_002, 1_000_001]
    third = call(sandbox, "GET", "/email/public/v1/events", params={**params, "offset": second["offset"]}).json()
    assert [e["created"] for e in third["events"]] == [1_000_000] and third["hasMore"] is False
    # the offset is only valid with the same other parameters
    bad = call(sandbox, "GET", "/email/public/v1/events", params={**params, "limit": 3, "offset": first["offset"]})
    assert bad.status_code == 400


def test_events_limit_and_filters(sandbox: HubSpotSandbox) -> None:
    assert call(sandbox, "GET", "/email/public/v1/events", params={"limit": 1001}).status_code == 400
    assert call(sandbox, "GET", "/email/public/v1/events", params={"limit": 1000}).status_code == 200
    sandbox.add_event("OPEN", "a@x.io", 5, filteredEvent=True)
    sandbox.add_event("CLICK", "a@x.io", 6)
    got = call(sandbox, "GET", "/email/public/v1/events", params={"excludeFilteredEvents": "true"}).json()
    assert [e["type"] for e in got["events"]] == ["CLICK"]
    got = call(sandbox, "GET", "/email/public/v1/events", params={"eventType": "OPEN"}).json()
    assert [e["type"] for e in got["events"]] == ["OPEN"]


def test_default_budget_then_429_with_hubspot_headers() -> None:
    assert HubSpotSandbox.default_limits == {"default": (190, 10.0), "search": (5, 1.0)}
    with HubSpotSandbox(limits={"default": (3, 10.0)}) as sb:
        answers = [call(sb, "GET", "/email/public/v1/events") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert all(r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000" for r in answers)
    limited = answers[-1]
    assert limited.json()["errorType"] == "RATE_LIMIT" and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert 1 <= int(limited.headers["Retry-After"]) <= 10


def test_budget_resets_after_the_window() -> None:
    now = [1000.0]
    with HubSpotSandbox(limits={"default": (1, 10.0)}, clock=lambda: now[0]) as sb:
        assert call(sb, "GET", "/email/public/v1/events").status_code == 200
        assert call(sb, "GET", "/email/public/v1/events").status_code == 429
        now[0] += 10
        assert call(sb, "GET", "/email/public/v1/events").status_code == 200


def test_batch_read_207_and_input_cap(sandbox: HubSpotSandbox) -> None:
    cid = sandbox.add_contact("Known@Example.com")
    body = {"idProperty": "email", "inputs": [{"id": "known@example.com"}, {"id": "nobody@example.com"}]}
    r = call(sandbox, "POST", "/crm/v3/objects/contacts/batch/read", json=body)
    assert r.status_code == 207
    assert [x["id"] for x in r.json()["results"]] == [cid]
    assert r.json()["numErrors"] == 1 and r.json()["errors"][0]["context"]["ids"] == ["nobody@example.com"]
    ok = call(sandbox, "POST", "/crm/v3/objects/contacts/batch/read", json={**body, "inputs": body["inputs"][:1]})
    assert ok.status_code == 200 and "errors" not in ok.json()
    many = {"idProperty": "email", "inputs": [{"id": f"{i}@x.io"} for i in range(101)]}
    assert call(sandbox, "POST", "/crm/v3/objects/contacts/batch/read", json=many).status_code == 400


def test_lists_create_lookup_duplicate_and_memberships(sandbox: HubSpotSandbox) -> None:
    missing = call(sandbox, "GET", "/crm/v3/lists/object-type-id/0-1/name/supp")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    made = call(
        sandbox, "POST", "/crm/v3/lists", json={"name": "Supp", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    lid = made.json()["list"]["listId"]
    dup = call(
        sandbox, "POST", "/crm/v3/lists", json={"name": "supp", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    assert dup.status_code == 400
    assert call(sandbox, "GET", "/crm/v3/lists/object-type-id/0-1/name/SUPP").json()["list"]["listId"] == lid
    ids = [sandbox.add_contact(f"m{i}@x.io") for i in range(5)]
    change = {"recordIdsToAdd": [*ids, "999999"], "recordIdsToRemove": []}
    r = call(sandbox, "PUT", f"/crm/v3/lists/{lid}/memberships/add-and-remove", json=change).json()
    assert r == {"recordsIdsAdded": ids, "recordIdsRemoved": [], "recordIdsMissing": ["999999"]}
    again = call(sandbox, "PUT", f"/crm/v3/lists/{lid}/memberships/add-and-remove", json=change).json()
    assert again["recordsIdsAdded"] == [], "existing members are ignored"
    page = call(sandbox, "GET", f"/crm/v3/lists/{lid}/memberships", params={"limit": 2}).json()
    assert [m["recordId"] for m in page["results"]] == sorted(ids, key=int)[:2] and page["total"] == 5
    nxt = call(
        sandbox,
        "GET",
        f"/crm/v3/lists/{lid}/memberships",
        params={"limit": 2, "after": page["paging"]["next"]["after"]},
    )
    assert [m["recordId"] for m in nxt.json()["results"]] == sorted(ids, key=int)[2:4]
    assert call(sandbox, "GET", f"/crm/v3/lists/{lid}/memberships", params={"limit": 251}).status_code == 400
    assert sandbox.list_members("supp") == {f"m{i}@x.io" for i in range(5)}
    # the date-versioned root serves the same list
    assert call(sandbox, "GET", "/crm/lists/2026-03/object-type-id/0-1/name/supp").status_code == 200


def test_dynamic_list_memberships_refused(sandbox: HubSpotSandbox) -> None:
    hl = sandbox.add_list("auto", "DYNAMIC")
    r = call(sandbox, "PUT", f"/crm/v3/lists/{hl.list_id}/memberships/add-and-remove", json={"recordIdsToAdd": ["1"]})
    assert r.status_code == 400 and "MANUAL" in r.json()["message"]


def test_faults_use_hubspot_bodies(sandbox: HubSpotSandbox) -> None:
    sandbox.inject("status", status=503, path="/email/public/v1/events")
    r = call(sandbox, "GET", "/email/public/v1/events")
    assert r.status_code == 503 and r.json()["status"] == "error" and r.json()["correlationId"]
    assert call(sandbox, "GET", "/email/public/v1/events").status_code == 200
    sandbox.inject("revoke")
    assert call(sandbox, "GET", "/email/public/v1/events").status_code == 401
    assert call(sandbox, "GET", "/email/public/v1/events").status_code == 401, "a revoked token stays revoked"


def test_seed_from_the_demo_exports() -> None:
    folder = find_demo("maison-paris", Path(__file__).resolve())
    sb = HubSpotSandbox()
    sb.load_exports(folder)
    touches = [
        r for r in read_export(folder, "touches") if r["channel"] == "email" and r["family"] in ("marketing", "trigger")
    ]
    sent = [e for e in sb.events if e["type"] == "SENT"]
    assert len(sent) == len(touches) > 1000
    assert sum(1 for e in sb.events if e["type"] == "DELIVERED") == len(sent)
    kinds = {e["type"] for e in sb.events}
    assert {"OPEN", "CLICK", "BOUNCE", "SPAMREPORT", "STATUSCHANGE"} <= kinds
    spam = sum(1 for e in sb.events if e["type"] == "SPAMREPORT")
    unsub = sum(1 for e in sb.events if e["type"] == "STATUSCHANGE")
    assert len(sb.timeline) == spam + unsub
    # deterministic: a second seed gives the same ids
    again = HubSpotSandbox()
    again.load_exports(folder)
    assert [e["id"] for e in again.events] == [e["id"] for e in sb.events]
    assert sb.by_email == again.by_email


def test_unknown_route_is_404(sandbox: HubSpotSandbox) -> None:
    r = call(sandbox, "GET", "/crm/v3/objects/deals")
    assert r.status_code == 404 and r.json()["category"] == "OBJECT_NOT_FOUND"


@pytest.mark.parametrize("limit", ["0", "x"])
def test_bad_limit_is_400(sandbox: HubSpotSandbox, limit: str) -> None:
    assert call(sandbox, "GET", "/email/public/v1/events", params={"limit": limit}).status_code == 400


# -- contacts: list, search, changes ----------------------------------------------------------


@pytest.fixture
def unlimited() -> Iterator[HubSpotSandbox]:
    """A sandbox without rate budgets, for tests that search more than 5 times a second."""
    sb = HubSpotSandbox(limits={})
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


def test_contacts_list_pages_in_id_order(sandbox: HubSpotSandbox) -> None:
    ids = [sandbox.add_contact(f"p{i}@x.io", optout=i == 1) for i in range(5)]
    nomail = sandbox.add_contact_without_email()
    params = {"limit": 4, "properties": "email,hs_email_optout"}
    first = call(sandbox, "GET", "/crm/v3/objects/contacts", params=params).json()
    assert [r["id"] for r in first["results"]] == ids[:4]
    props = first["results"][1]["properties"]
    assert props["email"] == "p1@x.io" and props["hs_email_optout"] == "true" and props["hs_object_id"] == ids[1]
    assert set(props) == {"email", "hs_email_optout", "hs_object_id", "createdate", "lastmodifieddate"}
    assert props["lastmodifieddate"].endswith("Z")
    nxt = first["paging"]["next"]["after"]
    second = call(sandbox, "GET", "/crm/v3/objects/contacts", params={**params, "after": nxt}).json()
    assert [r["id"] for r in second["results"]] == [ids[4], nomail] and "paging" not in second
    assert second["results"][1]["properties"]["email"] is None
    assert call(sandbox, "GET", "/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400
    assert call(sandbox, "GET", "/crm/v3/objects/contacts", params={"after": "%%"}).status_code == 400


def test_contact_changes_move_lastmodifieddate() -> None:
    now = [1_000.0]
    sb = HubSpotSandbox(clock=lambda: now[0])
    cid = sb.add_contact("a@x.io")
    assert sb.modified_at[cid] == sb.created_at[cid] == 1_000_000 and cid not in sb.optouts
    now[0] = 2_000.0
    sb.add_contact("A@x.io")  # already there: not a change
    assert sb.modified_at[cid] == 1_000_000
    sb.modify_contact("a@x.io", optout=True)
    assert sb.modified_at[cid] == 2_000_000 and cid in sb.optouts
    sb.modify_contact("a@x.io", optout=False, at=2_500_000)
    assert sb.modified_at[cid] == 2_500_000 and cid not in sb.optouts
    now[0] = 3_000.0
    sb.unsubscribe("a@x.io", 2_900_000)  # a portal unsubscribe opts the contact out
    assert sb.modified_at[cid] == 2_900_000 and cid in sb.optouts


def test_search_filters_sorts_and_pages(unlimited: HubSpotSandbox) -> None:
    sandbox = unlimited
    ids = [sandbox.add_contact(f"s{i}@x.io") for i in range(6)]
    for n in range(len(ids)):
        sandbox.modify_contact(f"s{n}@x.io", at=5_000 - n * 10, optout=n == 2)  # later ids modified earlier
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "4970"}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "hs_email_optout"],
        "limit": 2,
    }
    first = call(sandbox, "POST", "/crm/v3/objects/contacts/search", json=body).json()
    assert first["total"] == 4 and [r["id"] for r in first["results"]] == [ids[3], ids[2]]
    assert first["results"][1]["properties"]["hs_email_optout"] == "true"
    assert first["results"][0]["properties"]["lastmodifieddate"] == "1970-01-01T00:00:04.970Z"
    after = first["paging"]["next"]["after"]
    second = call(sandbox, "POST", "/crm/v3/objects/contacts/search", json={**body, "after": after}).json()
    assert [r["id"] for r in second["results"]] == [ids[1], ids[0]] and "paging" not in second
    iso = {
        **body,
        "filterGroups": [{"filters": [{**body["filterGroups"][0]["filters"][0], "value": "1970-01-01T00:00:04.990Z"}]}],
    }
    assert [r["id"] for r in call(sandbox, "POST", "/crm/v3/objects/contacts/search", json=iso).json()["results"]] == [
        ids[1],
        ids[0],
    ]
    desc = {**body, "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], "limit": 1}
    assert call(sandbox, "POST", "/crm/v3/objects/contacts/search", json=desc).json()["results"][0]["id"] == ids[0]
    for bad in (
        {"limit": 101},
        {"sorts": ["a", "b"]},
        {"filterGroups": [{"filters": [{"propertyName": "zz", "operator": "EQ", "value": "1"}]}]},
    ):
        assert call(sandbox, "POST", "/crm/v3/objects/contacts/search", json={**body, **bad}).status_code == 400


def test_search_refuses_to_page_past_10000_results(unlimited: HubSpotSandbox) -> None:
    sandbox = unlimited
    for i in range(10_050):
        sandbox.add_contact(f"k{i}@x.io")
    body = {"limit": 100, "after": "9900", "properties": ["email"]}
    last = call(sandbox, "POST", "/crm/v3/objects/contacts/search", json=body).json()
    assert last["total"] == 10_050 and len(last["results"]) == 100
    assert last["paging"]["next"]["after"] == "10000", "HubSpot still offers the next page"
    refused = call(sandbox, "POST", "/crm/v3/objects/contacts/search", json={**body, "after": "10000"})
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"
    clipped = call(sandbox, "POST", "/crm/v3/objects/contacts/search", json={**body, "after": "9950"}).json()
    assert len(clipped["results"]) == 50


def test_search_has_its_own_budget_without_headers() -> None:
    with HubSpotSandbox(limits={"default": (100, 10.0), "search": (2, 1.0)}) as sb:
        assert isinstance(sb, HubSpotSandbox)
        searches = [call(sb, "POST", "/crm/v3/objects/contacts/search", json={}) for _ in range(3)]
        other = call(sb, "GET", "/crm/v3/objects/contacts")
    assert [r.status_code for r in searches] == [200, 200, 429]
    assert not any("X-HubSpot-RateLimit-Remaining" in r.headers for r in searches[:2])
    assert searches[2].json()["policyName"] == "SECONDLY" and searches[2].headers["Retry-After"] == "1"
    assert other.status_code == 200 and other.headers["X-HubSpot-RateLimit-Remaining"] == "99"


def test_lists_deleted_and_edited_by_hand(sandbox: HubSpotSandbox) -> None:
    hl = sandbox.add_list("supp")
    sandbox.edit_list("supp", add=["a@x.io", "b@x.io", "c@x.io"])
    sandbox.edit_list("supp", remove=["b@x.io", "nobody@x.io"])
    assert sandbox.list_members("supp") == {"a@x.io", "c@x.io"}
    found = call(sandbox, "GET", "/crm/v3/lists/object-type-id/0-1/name/supp").json()["list"]
    assert found["size"] == 2
    assert sandbox.delete_list("SUPP") and not sandbox.delete_list("supp")
    assert call(sandbox, "GET", "/crm/v3/lists/object-type-id/0-1/name/supp").status_code == 404
    assert call(sandbox, "GET", f"/crm/v3/lists/{hl.list_id}/memberships").status_code == 404
    with pytest.raises(KeyError):
        sandbox.edit_list("supp", add=["a@x.io"])


def test_the_sandbox_imports_nothing_from_the_connector() -> None:
    """An independent model of HubSpot: a mistake of the connector cannot be copied into its fake."""
    import ast
    from pathlib import Path

    import pressure_connector_hubspot.testing as kit

    for path in Path(kit.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level <= 1, f"{path.name} imports from the connector package: {module}"
                assert not module.startswith("pressure_connector_"), f"{path.name} imports {module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("pressure_connector_") for a in node.names), path.name


def test_a_trailing_slash_is_answered_as_hubspot_does(sandbox: HubSpotSandbox) -> None:
    import requests

    headers = {"Authorization": f"Bearer {sandbox.credential}"}
    body = {"name": "slashed", "objectTypeId": "0-1", "processingType": "MANUAL"}
    r = requests.post(f"{sandbox.url}/crm/v3/lists/", json=body, headers=headers, timeout=5)
    assert r.status_code == 200 and r.json()["list"]["name"] == "slashed"
    found = requests.get(f"{sandbox.url}/crm/v3/lists/object-type-id/0-1/name/slashed/", headers=headers, timeout=5)
    assert found.status_code == 200 and found.json()["list"]["listId"] == r.json()["list"]["listId"]
