"""SFMC's OAuth 2.0 client credentials: a JSON token request, instance URLs with the token, SOAP envelopes.

The token answer carries ``rest_instance_url`` and ``soap_instance_url`` besides the token
(FuelSDK-Python ``refresh_token_with_oAuth2``); every later call goes to those hosts. A token
lasts about 20 minutes and there is no refresh token: a new one is asked for with the client
credentials, before the cached one expires (``leeway``) or when the platform says it expired
(REST 401, or a SOAP fault about the token).

REST calls carry ``Authorization: Bearer``. SOAP calls carry the token inside the envelope's
header (``<fueloauth>``), so the envelope is built with :data:`TOKEN_MARK` in its place and
this object writes the current token in at each send, including retries.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import requests

from pressure_sdk.errors import AuthError, ConnectorError
from pressure_sdk.http import HttpClient, OAuth2ClientCredentials, register_secret
from pressure_sdk.http.client import json_object
from pressure_sdk.http.redaction import redact

#: where the token goes in a SOAP envelope; replaced at each send
TOKEN_MARK = "\x00pressure-sfmc-token\x00"
#: a SOAP fault about the credential rather than the request (SFMC does not document its fault codes)
_AUTH_FAULT = re.compile(r"(?i)token|login|security|authenticat|unauthori[sz]ed")
_FAULT = re.compile(
    r"<(?:\w+:)?Fault\b.*?<faultcode[^>]*>(.*?)</faultcode>.*?<faultstring[^>]*>(.*?)</faultstring>", re.S
)


def soap_fault(text: str) -> tuple[str, str] | None:
    """(faultcode, faultstring) of a SOAP 1.1 fault body, or None."""
    match = _FAULT.search(text)
    return (match.group(1).strip(), match.group(2).strip()) if match else None


def is_auth_fault(response: requests.Response) -> bool:
    """A SOAP answer saying the token is refused (expired, unknown): a new token may help."""
    if response.status_code != 500 or "Fault" not in response.text:
        return False
    fault = soap_fault(response.text)
    return fault is not None and bool(_AUTH_FAULT.search(f"{fault[0]} {fault[1]}"))


class SfmcAuth(OAuth2ClientCredentials):
    """Client credentials on ``{auth host}/v2/token``, with the tenant's account id (MID).

    The token request goes through ``http`` (an :class:`HttpClient` without auth), so a 429 or
    5xx of the auth host is retried like any other call; a 400 or 401 is an :class:`AuthError`.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        account_id: str | None,
        *,
        http: HttpClient,
        scope: str | None = None,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
        hint: str = "the client id, secret and account id (MID)",
    ) -> None:
        super().__init__(token_url, client_id, client_secret, scope=scope, leeway=leeway, clock=clock)
        register_secret(client_id)
        register_secret(account_id)
        self.account_id = account_id
        self.http = http
        #: what a refusal asks the user to check (the variables holding the credentials)
        self.hint = hint
        self.rest_url = ""
        self.soap_url = ""
        #: tokens fetched so far (reports and tests)
        self.fetched = 0

    def build_token_request(self) -> dict[str, Any]:
        # SF-D-S2S: a JSON body; account_id is the MID of the business unit the token is for
        body: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if self.account_id:
            body["account_id"] = self.account_id
        if self.scope:
            body["scope"] = self.scope
        return {"json": body}

    def _fetch(self):  # type: ignore[no-untyped-def]
        response = self.http.request(
            "POST", self.token_url, idempotent=True, accept=(400, 401, 403), **self.build_token_request()
        )
        if response.status_code != 200:
            body = json_object(response) or {}
            said = body.get("error_description") or body.get("error") or body.get("message") or "no reason given"
            msg = (
                f"token endpoint {self.token_url} refused the client credentials ({response.status_code}: "
                f"{redact(str(said))}); check {self.hint} and the package's scopes"
            )
            raise AuthError(msg, connector="sfmc", status=response.status_code, body=redact(response.text[:500]))
        payload = json_object(response)
        if payload is None:
            msg = f"token endpoint {self.token_url} answered with a body that is not a JSON object"
            raise AuthError(msg, connector="sfmc", status=response.status_code)
        token = self.parse_token(payload)
        register_secret(token.access_token)
        self.token_response = {k: v for k, v in payload.items() if k != "access_token"}
        self.fetched += 1
        return token

    def parse_token(self, payload: dict[str, Any]):  # type: ignore[no-untyped-def]
        token = super().parse_token(payload)
        rest, soap = payload.get("rest_instance_url"), payload.get("soap_instance_url")
        for name, value in (("rest_instance_url", rest), ("soap_instance_url", soap)):
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                msg = f"token endpoint {self.token_url} answered without a usable {name}: {value!r}"
                raise ConnectorError(msg, connector="sfmc")
        assert isinstance(rest, str) and isinstance(soap, str)
        self.rest_url = rest.rstrip("/")
        # FuelSDK appends Service.asmx to soap_instance_url, which ends with a slash
        self.soap_url = soap if soap.endswith("Service.asmx") else soap.rstrip("/") + "/Service.asmx"
        return token

    def ensure(self) -> None:
        """A valid token (and so the instance URLs), fetched if none is cached."""
        self.token()

    # -- applied to each request -----------------------------------------------------------

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.token()
        body = r.body
        if isinstance(body, bytes) and TOKEN_MARK.encode() in body:
            r._sfmc_template = body  # type: ignore[attr-defined]
            r.body = body.replace(TOKEN_MARK.encode(), escape(token).encode())
            r.prepare_content_length(r.body)
            r.register_hook("response", self._refresh_on_fault)
        else:
            r.headers["Authorization"] = f"Bearer {token}"
        return r

    def _refresh_on_fault(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """A SOAP fault about the token: get a new one and send the same envelope once more."""
        sent = response.request
        template = getattr(sent, "_sfmc_template", None)
        if template is None or getattr(sent, "_sfmc_retried", False) or not is_auth_fault(response):
            return response
        response.content  # noqa: B018 - read it so the connection can be reused
        response.close()
        self.invalidate()
        again = sent.copy()
        again.body = template.replace(TOKEN_MARK.encode(), escape(self.token()).encode())
        again.prepare_content_length(again.body)
        again._sfmc_retried = True  # type: ignore[attr-defined]
        retried = response.connection.send(again, **kwargs)
        retried.history.append(response)
        retried.request = again
        return retried
