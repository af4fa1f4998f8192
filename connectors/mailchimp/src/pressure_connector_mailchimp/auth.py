"""Mailchimp's API-key auth: HTTP Basic with any user name, and the data centre from the key's suffix."""

from __future__ import annotations

import base64
import re

import requests

from pressure_sdk.errors import AuthError
from pressure_sdk.http import Auth, register_secret

#: "you can use any string as the user name" (the official client sends "user")
USER = "pressure-sdk"
#: a data centre: letters then digits (``us6``)
_DC = re.compile(r"^[a-z]+[0-9]+$")


def datacenter(key: str) -> str:
    """The data centre of an API key: the part after its last ``-`` (``…-us6`` → ``us6``).

    AuthError when the key has none: the message shows the expected shape, never the key.
    """
    _, sep, dc = key.strip().rpartition("-")
    if not sep or not _DC.match(dc):
        msg = (
            "the Mailchimp API key has no data-centre suffix: a key looks like '0123…cdef-us6'; "
            "copy the whole key, suffix included"
        )
        raise AuthError(msg, connector="mailchimp")
    return dc


class BasicApiKey(Auth):
    """``Authorization: Basic base64(user:key)``; the key and its encoded header are both redacted."""

    def __init__(self, key: str) -> None:
        register_secret(key)
        self._header = "Basic " + base64.b64encode(f"{USER}:{key}".encode()).decode()
        register_secret(self._header[6:])

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r
