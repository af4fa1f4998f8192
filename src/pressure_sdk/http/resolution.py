"""One table that says what to do with each response, before anything acts on it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import requests


class Action(enum.Enum):
    """What to do with a response."""

    SUCCESS = "success"
    #: a transient failure: retry with backoff (if the request may be repeated)
    RETRY = "retry"
    #: 429 or a platform's equivalent: wait as the platform says, then retry
    RATE_LIMITED = "rate_limited"
    #: the access token may have expired: get a new one, retry once
    REFRESH_AUTH = "refresh_auth"
    #: the credential is refused: stop, never retry
    AUTH_FAILED = "auth_failed"
    #: a request the platform will keep refusing
    FAIL = "fail"
    #: an error the caller treats as an empty answer (e.g. 404 on a lookup)
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class Resolution:
    """An action and the human explanation that goes with it."""

    action: Action
    message: str


SUCCESS = Resolution(Action.SUCCESS, "ok")

#: the default resolution per status code; anything else is decided by its class (2xx, 4xx, 5xx)
DEFAULT_RESOLUTIONS: Mapping[int, Resolution] = {
    401: Resolution(Action.AUTH_FAILED, "the platform refused the credential; check it and its scopes"),
    403: Resolution(Action.FAIL, "the credential lacks a permission this call needs"),
    404: Resolution(Action.FAIL, "not found"),
    408: Resolution(Action.RETRY, "the platform timed out"),
    409: Resolution(Action.FAIL, "conflict"),
    429: Resolution(Action.RATE_LIMITED, "rate limit reached"),
    500: Resolution(Action.RETRY, "platform error"),
    502: Resolution(Action.RETRY, "bad gateway"),
    503: Resolution(Action.RETRY, "platform unavailable"),
    504: Resolution(Action.RETRY, "gateway timeout"),
}

#: transport failures, by exception class (first match wins; subclasses first)
EXCEPTION_RESOLUTIONS: tuple[tuple[type[BaseException], Resolution], ...] = (
    (requests.exceptions.ConnectTimeout, Resolution(Action.RETRY, "connection timed out")),
    (requests.exceptions.ReadTimeout, Resolution(Action.RETRY, "no answer within the timeout")),
    (requests.exceptions.ChunkedEncodingError, Resolution(Action.RETRY, "connection broken mid-answer")),
    (requests.exceptions.ConnectionError, Resolution(Action.RETRY, "cannot connect")),
)


def classify(response: requests.Response, overrides: Mapping[int, Resolution] | None = None) -> Resolution:
    """What to do with ``response``: the connector's overrides first, then the default table."""
    status = response.status_code
    if overrides and status in overrides:
        return overrides[status]
    if status in DEFAULT_RESOLUTIONS:
        return DEFAULT_RESOLUTIONS[status]
    if 200 <= status < 300:
        return SUCCESS
    if status >= 500:
        return Resolution(Action.RETRY, f"platform error {status}")
    return Resolution(Action.FAIL, f"request refused ({status})")


def classify_exception(exc: BaseException) -> Resolution | None:
    """The resolution of a transport failure, or None if it is not one."""
    for cls, resolution in EXCEPTION_RESOLUTIONS:
        if isinstance(exc, cls):
            return resolution
    return None
