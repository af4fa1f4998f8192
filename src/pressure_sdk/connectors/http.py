"""``HttpConnector``: the base of connectors that talk to a platform's HTTP API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import requests
from pydantic import BaseModel, ConfigDict, Field

from ..errors import AuthError
from ..http import Auth, HeaderPacer, HttpClient, Resolution, RetryPolicy
from ..http.client import default_error_message
from .base import Connector

if TYPE_CHECKING:
    from ..testing.sandbox import Sandbox


class HttpSettings(BaseModel):
    """Settings every HTTP connector accepts, besides its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: seconds to wait for an answer (the connection itself gets at most 10)
    timeout: float = Field(default=30.0, gt=0, le=600)
    #: how failed requests are retried
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class HttpConnector(Connector):
    """A connector over HTTP: one :class:`HttpClient` built from a few hooks.

    A subclass sets :attr:`default_base_url` and implements :meth:`auth`; it may override
    :meth:`pacer`, :attr:`resolutions`, :meth:`retry_after` and :meth:`error_message`.
    The credential comes from the environment variable the account names in
    ``credential_env``; it is never read from the file.
    """

    #: the platform's API root; an account's ``base_url`` replaces it (EU hosts, sandboxes)
    default_base_url: ClassVar[str]
    #: what the credential is, for messages ("a private-app token")
    credential_hint: ClassVar[str] = "the API credential"
    #: connector-specific overrides of the response classification table
    resolutions: ClassVar[Mapping[int, Resolution]] = {}

    settings: HttpSettings
    _client: HttpClient | None = None

    @property
    def base_url(self) -> str:
        return (self.account.base_url or self.default_base_url).rstrip("/")

    def credential(self) -> str:
        """The credential from the account's environment variable; AuthError names what to set."""
        env = self.account.credential_env
        if not env:
            msg = (
                f"account {self.account.name!r}: set credential_env to the name of the environment "
                f"variable that holds {self.credential_hint}"
            )
            raise AuthError(msg, connector=self.name)
        value = os.environ.get(env, "").strip()
        if not value:
            msg = (
                f"account {self.account.name!r}: environment variable {env} is not set; "
                f"export it with {self.credential_hint}"
            )
            raise AuthError(msg, connector=self.name)
        return value

    # -- hooks ---------------------------------------------------------------------------

    def auth(self, credential: str) -> Auth:
        """The auth object for ``credential``."""
        raise NotImplementedError

    def pacer(self) -> HeaderPacer | None:
        """Reads the platform's rate-limit headers; None if it sends none."""
        return None

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds a 429 asks to wait, from platform-specific headers; None falls back to Retry-After."""
        return None

    def error_message(self, response: requests.Response) -> str | None:
        """The human part of the platform's error body."""
        return default_error_message(response)

    @classmethod
    def sandbox_class(cls) -> type[Sandbox] | None:
        """The platform's local sandbox (``pressure-sync sandbox <name>``), if the connector ships one."""
        return None

    # -- the client ------------------------------------------------------------------------

    @property
    def client(self) -> HttpClient:
        """Built on first use, so a missing credential fails that account only, when it runs."""
        if self._client is None:
            self._client = HttpClient(
                self.base_url,
                connector=self.name,
                auth=self.auth(self.credential()),
                timeout=self.settings.timeout,
                retry=self.settings.retry,
                pacer=self.pacer(),
                resolutions=self.resolutions,
                retry_after=self.retry_after,
                error_message=self.error_message,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(account={self.account.name!r}, base_url={self.base_url!r})"
