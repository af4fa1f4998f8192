"""``HttpConnector``: the base of connectors that talk to a platform's HTTP API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from pydantic import BaseModel, ConfigDict, Field

from ..config import ListConfig
from ..errors import AuthError
from ..http import Auth, HeaderPacer, HttpClient, Resolution, RetryPolicy
from ..http.client import default_error_message
from ..ledger.store import Member
from .base import Connector, PushBatch
from .credentials import ApiCredential, Credentials
from .sinks import ListSink

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

    A subclass sets :attr:`default_base_url` and implements :meth:`auth` (one secret) or
    :meth:`authenticate` (a :attr:`credentials_model` of several); it may override
    :meth:`after_auth`, :meth:`pacer`, :attr:`resolutions`, :meth:`retry_after` and
    :meth:`error_message`. Credentials come from environment variables named after the
    account's ``credential_env``; they are never read from the file. Declaring
    :attr:`sink_class` gives :meth:`push`; pulls are declared as streams
    (:mod:`pressure_sdk.connectors.streams`).
    """

    #: the platform's API root; an account's ``base_url`` replaces it (EU hosts, sandboxes)
    default_base_url: ClassVar[str]
    #: what the credential is, for messages ("a private-app token")
    credential_hint: ClassVar[str] = "the API credential"
    #: connector-specific overrides of the response classification table
    resolutions: ClassVar[Mapping[int, Resolution]] = {}
    #: the credentials and the variables they are read from (default: one secret in ``credential_env``)
    credentials_model: ClassVar[type[Credentials]] = ApiCredential
    #: the suppression lists as a sink; declaring one gives :meth:`push`
    sink_class: ClassVar[type[ListSink[Any]] | None] = None

    settings: HttpSettings
    _client: HttpClient | None = None
    _sink: ListSink[Any] | None = None

    @property
    def base_url(self) -> str:
        """The API root: the account's ``base_url``, else the platform's default, without a trailing slash."""
        return (self.account.base_url or self.default_base_url).rstrip("/")

    def credentials(self) -> Credentials:
        """The account's credentials from their environment variables; AuthError names what to set."""
        env = self.account.credential_env
        if not env:
            msg = (
                f"account {self.account.name!r}: set credential_env to the name of the environment "
                f"variable that holds {self.credential_hint}"
            )
            raise AuthError(msg, connector=self.name)
        return self.credentials_model.from_env(
            env, account=self.account.name, hint=self.credential_hint, connector=self.name
        )

    def credential(self) -> str:
        """The primary secret (the one of a single-secret platform); AuthError names what to set."""
        return self.credentials().secret()

    # -- hooks ---------------------------------------------------------------------------

    def auth(self, credential: str) -> Auth:
        """The auth object for a single-secret platform's ``credential``."""
        raise NotImplementedError

    def authenticate(self, credentials: Credentials) -> Auth:
        """The auth object for the account's credentials (default: :meth:`auth` of the primary secret)."""
        return self.auth(credentials.secret())

    def after_auth(self, auth: Auth) -> str | None:
        """The base URL to use once authenticated, for platforms that hand it out with the token.

        Called once, when the client is built; None keeps :attr:`base_url`. SFMC, say, fetches
        its token here and returns the token answer's ``rest_instance_url``.
        """
        return None

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
            auth = self.authenticate(self.credentials())
            base_url = self.after_auth(auth) or self.base_url
            self._client = HttpClient(
                base_url,
                connector=self.name,
                auth=auth,
                timeout=self.settings.timeout,
                retry=self.settings.retry,
                pacer=self.pacer(),
                resolutions=self.resolutions,
                retry_after=self.retry_after,
                error_message=self.error_message,
                auth_hint=self.auth_hint(),
            )
        return self._client

    def auth_hint(self) -> str | None:
        """What a refused credential asks the user to check: the variables that hold it."""
        env = self.account.credential_env
        if not env:
            return None
        names = ", ".join(self.credentials_model.variables(env).values())
        return f"{names} ({self.credential_hint})"

    @property
    def sink(self) -> ListSink[Any]:
        """The suppression lists' sink, built once from :attr:`sink_class`."""
        if self._sink is None:
            if self.sink_class is None:
                msg = f"connector {self.name!r} declares no sink_class and does not override push"
                raise NotImplementedError(msg)
            self._sink = self.sink_class(self)
        return self._sink

    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Apply adds and removes through :attr:`sink`; each confirmed call is yielded at once."""
        yield from self.sink.push(lst, adds, removes)

    def close(self) -> None:
        """Close the HTTP client, if one was built."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(account={self.account.name!r}, base_url={self.base_url!r})"
