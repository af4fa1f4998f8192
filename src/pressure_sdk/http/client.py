"""``HttpClient``: session, auth, pacing, the retry policy and typed errors, layered once.

Connectors call ``request``/``json``/``paginate`` and never see a retry loop. Every request
has a timeout. GET, PUT and DELETE are retried on 429, 5xx and transport failures; POST only
when the caller says the operation is idempotent (otherwise only on 429 or a connect
timeout, when the platform surely did not act on it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

from ..errors import APIError, AuthError, PayloadError, PermanentAPIError, RateLimitError, TransientAPIError
from ..progress import report_wait
from .auth import Auth
from .pagination import NextLinkPaginator, Paginator, dig
from .ratelimit import HeaderPacer
from .redaction import redact, sanitize_url
from .resolution import Action, Resolution, classify, classify_exception
from .retry import RetryPolicy, RetrySignal, make_wait, parse_retry_after, request_id
from .session import build_session

log = logging.getLogger("pressure_sdk.http")

#: headers platforms use for a request or correlation id
REQUEST_ID_HEADERS = ("X-Request-Id", "X-HubSpot-Correlation-Id", "X-Correlation-Id", "X-Sib-Request-Id")
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def sleep(seconds: float) -> None:
    """Every wait of the toolkit goes through here, so tests can record waits instead of sleeping."""
    time.sleep(seconds)


@dataclass
class ClientStats:
    """What a client did, for reports and benchmarks."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0
    by_path: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Page:
    """One page of a paginated read: its items, the whole decoded body and the request's parameters."""

    items: list[Any]
    payload: Any
    params: dict[str, Any]


def json_object(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (error bodies are often HTML or empty)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def default_error_message(response: requests.Response) -> str | None:
    """The human part of a platform's error body (``message``, ``detail``, ``error_description``)."""
    body = json_object(response)
    if body is not None:
        for key in ("message", "detail", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


class HttpClient:
    """One platform account's HTTP access. Thread-safe enough for one sync at a time."""

    def __init__(
        self,
        base_url: str,
        *,
        connector: str,
        auth: Auth | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pacer: HeaderPacer | None = None,
        resolutions: Mapping[int, Resolution] | None = None,
        retry_after: Callable[[requests.Response], float | None] | None = None,
        error_message: Callable[[requests.Response], str | None] = default_error_message,
        request_id_headers: Sequence[str] = REQUEST_ID_HEADERS,
        session: requests.Session | None = None,
        auth_hint: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: what to check when the platform refuses the credential (e.g. the variable holding it)
        self.auth_hint = auth_hint
        self.connector = connector
        self.auth = auth
        # connect quickly or not at all; reads get the configured time
        self.timeout = (min(10.0, timeout), timeout)
        self.retry = retry or RetryPolicy()
        self.pacer = pacer
        self.resolutions = dict(resolutions or {})
        self.retry_after_hook = retry_after
        self.error_message = error_message
        self.request_id_headers = tuple(request_id_headers)
        self.session = session or build_session(connector)
        self.stats = ClientStats()

    # -- public calls ---------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        accept: Collection[int] = (),
    ) -> requests.Response:
        """Send one logical request (retried as the policy allows); return the successful response.

        ``accept`` lists error statuses the caller handles itself (e.g. 404 on a lookup by name).
        """
        method = method.upper()
        repeatable = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        retrying = Retrying(
            retry=retry_if_exception_type(RetrySignal),
            wait=make_wait(self.retry),
            stop=stop_after_attempt(self.retry.max_attempts) | stop_after_delay(self.retry.max_time),
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._before_sleep,
        )
        refreshed = [False]
        try:
            return retrying(
                self._attempt, method, url, path, params, json, data, headers, repeatable, accept, refreshed
            )
        except RetrySignal as signal:
            raise signal.error from None

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """``request`` and decode its JSON body; a body that is not JSON is a ``PayloadError``."""
        response = self.request(method, path, **kw)
        return self.decode(response)

    def decode(self, response: requests.Response) -> Any:
        """The response's JSON body (None when empty or 204); a body that is not JSON is a PayloadError."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            msg = (
                f"{response.request.method} {sanitize_url(response.url)} answered {response.status_code} "
                f"with a body that is not JSON: {redact(response.text[:200])!r}"
            )
            raise PayloadError(
                msg,
                connector=self.connector,
                status=response.status_code,
                body=redact(response.text[:1000]),
                request_id=request_id(response, self.request_id_headers),
            ) from None

    def paginate(
        self,
        path: str,
        paginator: Paginator,
        *,
        items: Sequence[str] | Callable[[Any], list[Any]],
        params: Mapping[str, Any] | None = None,
        method: str = "GET",
        json: Any = None,
    ) -> Iterator[Page]:
        """Yield each page with its items until the paginator says the last one was read."""
        current: dict[str, Any] | None = paginator.first_params(dict(params or {}))
        url = path
        while current is not None:
            payload = self.json(method, url, params=current, json=json)
            found = items(payload) if callable(items) else dig(payload, items)
            if found is None:
                found = []
            if not isinstance(found, list):
                where = "the items" if callable(items) else ".".join(items)
                msg = f"{method} {path}: expected a list at {where}, got {type(found).__name__}"
                raise PayloadError(msg, connector=self.connector)
            yield Page(found, payload, current)
            nxt = paginator.update(payload, found, current)
            if nxt is not None and isinstance(paginator, NextLinkPaginator) and paginator.next_url:
                url, nxt = paginator.next_url, {}
            current = nxt

    def close(self) -> None:
        """Close the session and its connections."""
        self.session.close()

    # -- one attempt ----------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        self.stats.waited += seconds
        sleep(seconds)

    def _before_sleep(self, state: Any) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        cause = exc.error if isinstance(exc, RetrySignal) else exc
        log.info("%s: retry %d after: %s", self.connector, state.attempt_number, cause)
        upcoming = state.next_action.sleep if state.next_action else 0.0
        report_wait(upcoming, "rate limited" if isinstance(cause, RateLimitError) else "retrying")

    def _attempt(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        repeatable: bool,
        accept: Collection[int],
        refreshed: list[bool],
    ) -> requests.Response:
        if self.pacer is not None:
            wait = self.pacer.delay(path)
            if wait > 0:
                log.info("%s: pacing %.1fs before the platform's rate limit", self.connector, wait)
                report_wait(wait, "rate limit")
                self._sleep(wait)
                self.pacer.waited(path)
        self.stats.requests += 1
        self.stats.by_path[f"{method} {path.split('?')[0]}"] += 1
        where = f"{method} {sanitize_url(url)}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=headers,
                auth=self.auth,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            resolution = classify_exception(exc)
            failure = TransientAPIError(
                f"{where}: {resolution.message if resolution else 'request failed'} ({redact(type(exc).__name__)})",
                connector=self.connector,
            )
            # A POST that never connected was not acted on; after that, only idempotent calls repeat.
            safe = repeatable or isinstance(exc, requests.exceptions.ConnectTimeout)
            if resolution is not None and safe:
                raise RetrySignal(failure) from None
            raise failure from None
        if self.pacer is not None:
            self.pacer.observe(path, response)
        if response.status_code in accept:
            return response
        resolution = classify(response, self.resolutions)
        if resolution.action in (Action.SUCCESS, Action.IGNORE):
            return response
        error = self._error(response, resolution, where)
        if resolution.action is Action.RATE_LIMITED:
            if self.pacer is not None:
                # the retry wait below is this bucket's reset: the pacer must not wait it again
                self.pacer.waited(path)
            # a 429 was refused before any work: safe to repeat whatever the method
            raise RetrySignal(error, self._rate_limit_wait(response))
        if resolution.action is Action.RETRY and repeatable:
            raise RetrySignal(error)
        if resolution.action is Action.REFRESH_AUTH and not refreshed[0] and self.auth and self.auth.invalidate():
            refreshed[0] = True
            return self._attempt(method, url, path, params, json, data, headers, repeatable, accept, refreshed)
        raise error

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        if self.retry_after_hook is not None:
            hinted = self.retry_after_hook(response)
            if hinted is not None:
                return hinted
        hinted = parse_retry_after(response.headers.get("Retry-After"))
        if hinted is None and self.pacer is not None:
            hinted = self.pacer.reset_after(response)
        return hinted

    def _error(self, response: requests.Response, resolution: Resolution, where: str) -> APIError:
        status = response.status_code
        detail = self.error_message(response)
        rid = request_id(response, self.request_id_headers)
        message = f"{where} → {status}: {redact(detail) if detail else resolution.message}"
        if rid:
            message += f" (request id {rid})"
        kw: dict[str, Any] = {
            "connector": self.connector,
            "status": status,
            "body": redact(response.text[:1000]),
            "request_id": rid,
        }
        action = resolution.action
        if action in (Action.AUTH_FAILED, Action.REFRESH_AUTH):
            what = self.auth_hint or "the credential"
            return AuthError(f"{message}; check {what} and its permissions", **kw)
        if action is Action.RATE_LIMITED:
            return RateLimitError(f"{message}; still limited after retries, the next run resumes", **kw)
        if action is Action.RETRY:
            return TransientAPIError(f"{message}; the next run resumes where this one stopped", **kw)
        return PermanentAPIError(message, **kw)
