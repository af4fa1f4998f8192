"""Auth objects: ``requests.auth.AuthBase`` subclasses that register their secrets for redaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from ..errors import AuthError
from .redaction import redact, register_secret


class Auth(AuthBase):
    """Base of the auth objects; ``invalidate`` is called when the platform says the token expired."""

    def invalidate(self) -> bool:
        """Forget a cached token; return True if a retry may now succeed."""
        return False

    def __repr__(self) -> str:  # never the secret
        return f"{type(self).__name__}(***)"


class BearerToken(Auth):
    """``Authorization: Bearer <token>`` (HubSpot private apps, OAuth access tokens)."""

    def __init__(self, token: str) -> None:
        register_secret(token)
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r


class ApiKeyHeader(Auth):
    """The key in a named header (Brevo's ``api-key``)."""

    def __init__(self, header: str, key: str) -> None:
        register_secret(key)
        self.header = header
        self._key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = self._key
        return r


@dataclass(slots=True)
class _Token:
    access_token: str
    expires_at: float


class OAuth2ClientCredentials(Auth):
    """OAuth 2.0 client credentials: a cached access token, refreshed before it expires.

    ``build_token_request`` and ``parse_token`` are the hooks a platform overrides
    (SFMC takes a JSON body and returns its instance URLs with the token).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        register_secret(client_secret)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.session = session or requests.Session()
        self.timeout = timeout
        self.leeway = leeway
        self.clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()
        #: the whole token answer, for platforms that return more than the token
        self.token_response: dict[str, Any] = {}

    def build_token_request(self) -> dict[str, Any]:
        """Keyword arguments of the token POST (form-encoded by default)."""
        data = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._client_secret}
        if self.scope:
            data["scope"] = self.scope
        return {"data": data}

    def parse_token(self, payload: dict[str, Any]) -> _Token:
        """The token and its expiry from the token endpoint's answer; AuthError when either is missing."""
        try:
            token = str(payload["access_token"])
            ttl = float(payload.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError):
            msg = f"token endpoint {self.token_url} answered without access_token/expires_in"
            raise AuthError(msg) from None
        return _Token(token, self.clock() + ttl)

    def token(self) -> str:
        """A valid access token: the cached one, or a new one when it is about to expire."""
        with self._lock:
            if self._token is None or self._token.expires_at - self.leeway <= self.clock():
                self._token = self._fetch()
            return self._token.access_token

    def _fetch(self) -> _Token:
        try:
            resp = self.session.post(self.token_url, timeout=self.timeout, **self.build_token_request())
        except requests.RequestException as exc:
            msg = f"cannot reach token endpoint {self.token_url}: {redact(str(exc))}"
            raise AuthError(msg) from None
        if resp.status_code != 200:
            msg = f"token endpoint {self.token_url} refused the client credentials ({resp.status_code})"
            raise AuthError(msg, status=resp.status_code, body=redact(resp.text[:500]))
        try:
            payload = resp.json()
        except ValueError:
            msg = f"token endpoint {self.token_url} answered with invalid JSON"
            raise AuthError(msg, status=resp.status_code) from None
        token = self.parse_token(payload)
        register_secret(token.access_token)
        self.token_response = payload
        return token

    def invalidate(self) -> bool:
        """Drop the cached token so the next request fetches a new one; True: worth a retry."""
        with self._lock:
            self._token = None
        return True

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r
