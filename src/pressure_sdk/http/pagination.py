"""Paginators: small state machines over a request's query parameters and each JSON page.

``update(payload)`` reads a page; ``has_next`` says whether another is needed; ``next_params``
gives the parameters of the next request. A paginator raises when a platform hands back a
token it already gave, so a pagination bug can never loop forever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import PayloadError

log = logging.getLogger("pressure_sdk.http")


def dig(payload: Any, path: Sequence[str]) -> Any:
    """``payload[path[0]][path[1]]…``, or None where a key is missing."""
    for key in path:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    return payload


class Paginator:
    """Base class: subclasses set ``has_next`` and ``next_params`` in ``update``."""

    def __init__(self) -> None:
        self.has_next = True
        self.pages = 0
        self.stop_reason = ""
        self._seen: set[Any] = set()

    def first_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The first request's parameters."""
        return dict(params)

    def update(self, payload: Any, items: Sequence[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """Read one page; return the next request's parameters, or None when done."""
        raise NotImplementedError

    def _token(self, token: Any) -> None:
        if token in self._seen:
            msg = f"the platform returned page token {token!r} twice; stopping instead of looping"
            raise PayloadError(msg)
        self._seen.add(token)

    def _stop(self, reason: str) -> None:
        self.has_next = False
        self.stop_reason = reason
        log.debug("pagination stopped after %d pages: %s", self.pages, reason)


class CursorPaginator(Paginator):
    """An opaque token in the body (``offset`` with ``hasMore``, or ``paging.next.after``)."""

    def __init__(self, token_path: Sequence[str], param: str, *, more_path: Sequence[str] | None = None) -> None:
        super().__init__()
        self.token_path = tuple(token_path)
        self.param = param
        self.more_path = tuple(more_path) if more_path else None

    def update(self, payload: Any, items: Sequence[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """Read one page; the next request's parameters with the token, or None when done."""
        self.pages += 1
        token = dig(payload, self.token_path)
        if self.more_path is not None and not dig(payload, self.more_path):
            self._stop(f"{'.'.join(self.more_path)} is false")
            return None
        if token in (None, ""):
            self._stop("no next token")
            return None
        self._token(token)
        return {**params, self.param: token}


class OffsetPaginator(Paginator):
    """``offset``/``limit`` parameters; stops on a short page or when ``total`` is reached."""

    def __init__(
        self,
        limit: int,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        total_path: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.total_path = tuple(total_path) if total_path else None

    def first_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The first request's parameters, with the limit and the starting offset."""
        return {**params, self.limit_param: self.limit, self.offset_param: params.get(self.offset_param, 0)}

    def update(self, payload: Any, items: Sequence[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """Read one page; the next request's parameters with the next offset, or None when done."""
        self.pages += 1
        offset = int(params.get(self.offset_param, 0)) + len(items)
        if len(items) < self.limit:
            self._stop(f"short page ({len(items)} < {self.limit})")
            return None
        if self.total_path is not None:
            total = dig(payload, self.total_path)
            if isinstance(total, int) and offset >= total:
                self._stop(f"all {total} items read")
                return None
        self._token(offset)
        return {**params, self.offset_param: offset}


class NextLinkPaginator(Paginator):
    """A full URL of the next page in the body; the next request uses it as is."""

    def __init__(self, link_path: Sequence[str]) -> None:
        super().__init__()
        self.link_path = tuple(link_path)
        self.next_url: str | None = None

    def update(self, payload: Any, items: Sequence[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """Read one page; keep its next link in :attr:`next_url`, or return None when done."""
        self.pages += 1
        link = dig(payload, self.link_path)
        if not link:
            self.next_url = None
            self._stop("no next link")
            return None
        self._token(link)
        self.next_url = str(link)
        return {}
