"""Paginators: cursor, offset and next-link; a repeated token raises."""

from __future__ import annotations

import pytest
import responses

from pressure_sdk.errors import PayloadError
from pressure_sdk.http import CursorPaginator, HttpClient, NextLinkPaginator, OffsetPaginator

BASE = "https://api.example.test"


def c() -> HttpClient:
    return HttpClient(BASE, connector="demo")


@responses.activate
def test_cursor_with_has_more() -> None:
    responses.get(f"{BASE}/ev", json={"events": [1, 2], "hasMore": True, "offset": "a"})
    responses.get(f"{BASE}/ev", json={"events": [3], "hasMore": False, "offset": "b"})
    pages = list(c().paginate("/ev", CursorPaginator(["offset"], "offset", more_path=["hasMore"]), items=["events"]))
    assert [p.items for p in pages] == [[1, 2], [3]]
    assert "offset=a" in (responses.calls[1].request.url or "")
    assert "offset" not in (responses.calls[0].request.url or "")


@responses.activate
def test_cursor_repeated_token_raises() -> None:
    responses.get(f"{BASE}/ev", json={"results": [1], "paging": {"next": {"after": "x"}}})
    responses.get(f"{BASE}/ev", json={"results": [2], "paging": {"next": {"after": "x"}}})
    with pytest.raises(PayloadError, match="twice"):
        list(c().paginate("/ev", CursorPaginator(["paging", "next", "after"], "after"), items=["results"]))


@responses.activate
def test_offset_stops_on_short_page_and_total() -> None:
    responses.get(f"{BASE}/c", json={"contacts": [1, 2], "count": 5})
    responses.get(f"{BASE}/c", json={"contacts": [3, 4], "count": 5})
    responses.get(f"{BASE}/c", json={"contacts": [5], "count": 5})
    pager = OffsetPaginator(2, total_path=["count"])
    pages = list(c().paginate("/c", pager, items=["contacts"]))
    assert [p.items for p in pages] == [[1, 2], [3, 4], [5]]
    assert [p.params["offset"] for p in pages] == [0, 2, 4]
    assert pager.stop_reason.startswith("short page")


@responses.activate
def test_offset_stops_at_total_without_an_empty_request() -> None:
    responses.get(f"{BASE}/c", json={"contacts": [1, 2], "count": 2})
    assert len(list(c().paginate("/c", OffsetPaginator(2, total_path=["count"]), items=["contacts"]))) == 1
    assert len(responses.calls) == 1


@responses.activate
def test_next_link() -> None:
    responses.get(f"{BASE}/m", json={"results": [1], "next": f"{BASE}/m?page=2"})
    responses.get(f"{BASE}/m", json={"results": [2]})
    pages = list(c().paginate("/m", NextLinkPaginator(["next"]), items=["results"]))
    assert [p.items for p in pages] == [[1], [2]]
    assert responses.calls[1].request.url == f"{BASE}/m?page=2"


@responses.activate
def test_items_not_a_list_is_a_payload_error() -> None:
    responses.get(f"{BASE}/ev", json={"events": {"oops": 1}})
    with pytest.raises(PayloadError, match="expected a list at events"):
        list(c().paginate("/ev", CursorPaginator(["offset"], "offset"), items=["events"]))
