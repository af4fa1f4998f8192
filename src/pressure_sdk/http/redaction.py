"""Keep secrets out of logs, errors and reports.

Every credential an auth object holds is registered here once; ``redact`` replaces any
registered value (and credential-looking query parameters) wherever text leaves the
process: error messages, error bodies, log records.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: query parameters and JSON keys whose values are always masked
SECRET_NAME = re.compile(r"(?i)(api[-_]?key|apikey|token|secret|password|passwd|authorization|hapikey|partner[-_]?key)")
# a registered secret shorter than this would mask ordinary words
_MIN_SECRET = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever ``redact`` sees it from now on."""
    global _pattern
    if not value or len(value) < _MIN_SECRET:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # longest first, so a secret containing another is masked whole
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


_JSON_SECRET = re.compile(
    r'(?i)("(?:[a-z_-]*(?:api[-_]?key|token|secret|password|authorization)[a-z_-]*)"\s*:\s*")[^"]*(")'
)


def redact(text: str) -> str:
    """``text`` with every registered secret and every JSON value under a secret-looking key masked."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _JSON_SECRET.sub(rf"\g<1>{MASK}\g<2>", text)


def sanitize_url(url: str) -> str:
    """``url`` with the values of credential-looking query parameters masked."""
    parts = urlsplit(url)
    if not parts.query:
        return redact(url)
    query = [(k, MASK if SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return redact(urlunsplit(parts._replace(query=urlencode(query, safe="*"))))


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the record's message; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Mask secrets in the records of ``logger`` (default: the ``pressure_sdk`` logger and its handlers)."""
    target = logger or logging.getLogger("pressure_sdk")
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())
