"""Pacing from the platform's rate-limit headers, kept apart from retry.

Before each request the pacer is asked how long to wait; after it, the pacer reads the
platform's ``remaining`` and ``reset`` headers. When the remaining budget of a bucket falls
to the reserve, the next request of that bucket waits for the window to reset, so a 429
becomes rare instead of being the flow control.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests


@dataclass(slots=True)
class _Bucket:
    remaining: int | None = None
    #: monotonic time at which the window resets
    resets_at: float = 0.0


@dataclass
class HeaderPacer:
    """Reads ``remaining`` and ``reset`` headers; slows down before the limit.

    ``reset_unit`` converts the reset header to seconds (``0.001`` for milliseconds).
    When a platform sends only a window length (HubSpot's interval) instead of the time
    left, name that header as ``reset_header``: the pacer then waits one whole window,
    the safe reading.
    """

    remaining_header: str
    reset_header: str | None = None
    reset_unit: float = 1.0
    #: requests kept in hand per window, for other processes sharing the account
    reserve: int = 1
    #: seconds to wait when the reset header is missing
    default_window: float = 10.0
    #: which limit a request counts against (e.g. Brevo's contacts vs smtp buckets)
    bucket_of: Callable[[str], str] = field(default=lambda path: "default")
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def delay(self, path: str) -> float:
        """Seconds to wait before sending a request to ``path``."""
        with self._lock:
            b = self._buckets.get(self.bucket_of(path))
            if b is None or b.remaining is None or b.remaining > self.reserve:
                return 0.0
            wait = b.resets_at - self.clock()
            if wait <= 0:
                b.remaining = None  # a new window: unknown until the next answer says
                return 0.0
            return wait

    def waited(self, path: str) -> None:
        """The caller slept out the window of ``path``'s bucket."""
        with self._lock:
            b = self._buckets.get(self.bucket_of(path))
            if b is not None:
                b.remaining = None

    def observe(self, path: str, response: requests.Response) -> None:
        """Read the rate-limit headers of an answer."""
        raw = response.headers.get(self.remaining_header)
        if raw is None:
            return
        try:
            remaining = int(float(raw))
        except ValueError:
            return
        window = self.default_window
        if self.reset_header:
            try:
                window = float(response.headers.get(self.reset_header, "")) * self.reset_unit
            except ValueError:
                window = self.default_window
        with self._lock:
            b = self._buckets.setdefault(self.bucket_of(path), _Bucket())
            b.remaining = remaining
            b.resets_at = self.clock() + max(0.0, window)

    def reset_after(self, response: requests.Response) -> float | None:
        """Seconds until the window resets, as a 429 without ``Retry-After`` tells it; None if unknown."""
        if not self.reset_header or self.reset_header not in response.headers:
            return None
        try:
            return max(0.0, float(response.headers[self.reset_header]) * self.reset_unit)
        except ValueError:
            return None
