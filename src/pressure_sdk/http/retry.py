"""The one retry policy on the transport (tenacity), and how long to wait."""

from __future__ import annotations

import email.utils
import time

import requests
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState


class RetryPolicy(BaseModel):
    """Bounds on retrying one logical request. Configurable per account under ``settings.retry``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: tries in all, the first included
    max_attempts: int = Field(default=5, ge=1, le=20)
    #: give up once this many seconds have passed since the first try
    max_time: float = Field(default=300.0, gt=0)
    #: first backoff wait in seconds (doubled per attempt, with jitter)
    backoff: float = Field(default=1.0, ge=0)
    #: longest backoff wait
    max_backoff: float = Field(default=30.0, ge=0)
    #: longest wait a platform's Retry-After (or reset header) may impose
    max_retry_after: float = Field(default=120.0, ge=0)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetrySignal(Exception):
    """Raised inside one attempt to ask tenacity for another, carrying the final error if none is left."""

    def __init__(self, error: Exception, wait: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        #: what the platform asked for (capped by the policy); None means use the backoff
        self.wait = wait


def backoff_wait(policy: RetryPolicy, attempt: int) -> float:
    """Exponential backoff with full jitter over the upper half: ``base·2^(n-1)``, capped."""
    import random

    ceiling = min(policy.max_backoff, policy.backoff * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 - jitter, not crypto


def make_wait(policy: RetryPolicy):  # type: ignore[no-untyped-def]
    """tenacity ``wait=``: the platform's wait when it gave one (capped), else the backoff."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetrySignal) and exc.wait is not None:
            return min(exc.wait, policy.max_retry_after)
        return backoff_wait(policy, state.attempt_number)

    return wait


def request_id(response: requests.Response, names: tuple[str, ...]) -> str | None:
    """The platform's request or correlation id, from the first header present."""
    for name in names:
        value = response.headers.get(name)
        if value:
            return value
    return None
