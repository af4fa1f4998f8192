"""The HTTP toolkit every connector shares: session, auth, retry, pacing, pagination, errors."""

from .auth import ApiKeyHeader, Auth, BearerToken, OAuth2ClientCredentials
from .client import ClientStats, HttpClient, Page
from .pagination import CursorPaginator, NextLinkPaginator, OffsetPaginator, Paginator, dig
from .ratelimit import HeaderPacer
from .redaction import redact, register_secret, sanitize_url
from .resolution import DEFAULT_RESOLUTIONS, Action, Resolution, classify
from .retry import RetryPolicy, parse_retry_after
from .session import build_session, user_agent

__all__ = [
    "DEFAULT_RESOLUTIONS",
    "Action",
    "ApiKeyHeader",
    "Auth",
    "BearerToken",
    "ClientStats",
    "CursorPaginator",
    "HeaderPacer",
    "HttpClient",
    "NextLinkPaginator",
    "OAuth2ClientCredentials",
    "OffsetPaginator",
    "Page",
    "Paginator",
    "Resolution",
    "RetryPolicy",
    "build_session",
    "classify",
    "dig",
    "parse_retry_after",
    "redact",
    "register_secret",
    "sanitize_url",
    "user_agent",
]
