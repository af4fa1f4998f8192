"""The one ``requests`` session factory: User-Agent with version, no hidden retries."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import requests
from requests.adapters import HTTPAdapter


def sdk_version() -> str:
    """The installed pressure-sdk version (``0+unknown`` from a source tree)."""
    try:
        return version("pressure-sdk")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def user_agent(connector: str | None = None) -> str:
    """``pressure-sdk/<version> (<connector>)``, the User-Agent of every request."""
    base = f"pressure-sdk/{sdk_version()}"
    return f"{base} ({connector})" if connector else base


def build_session(connector: str | None = None, *, pool: int = 4) -> requests.Session:
    """A session whose retries are ours alone (urllib3's are off) and whose User-Agent names the SDK."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent(connector)
    session.headers["Accept"] = "application/json"
    adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
