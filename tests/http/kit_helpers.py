"""A minimal HTTP connector for the kit's unit tests: a platform at BASE, one secret in DEMO_TOKEN."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from pressure_sdk.config import parse_config
from pressure_sdk.connectors import HttpConnector, HttpSettings
from pressure_sdk.http import Auth, BearerToken, RetryPolicy
from pressure_sdk.models import Batch

BASE = "https://api.kit.test/v1"
TOKEN = "kit-token-7f3a9c0b2d"


class DemoConnector(HttpConnector):
    name: ClassVar[str] = "demo"
    settings_model: ClassVar[type[HttpSettings]] = HttpSettings
    default_base_url: ClassVar[str] = BASE

    def auth(self, credential: str) -> Auth:
        return BearerToken(credential)

    def check(self) -> str:
        return "ok"

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        return iter(())


def make(cls: type[HttpConnector] = DemoConnector, credential_env: str = "DEMO_TOKEN", **account: Any) -> Any:
    data = {
        "brands": {"acme": {}},
        "accounts": [
            {
                "name": "acme-demo",
                "connector": cls.name,
                "brand": "acme",
                "credential_env": credential_env,
                "settings": {"retry": RetryPolicy(max_attempts=2, backoff=0.0).model_dump()},
                **account,
            }
        ],
    }
    cfg = parse_config(data, source="kit.toml")
    return cls.from_account(cfg.accounts[0], cfg, 0)


def query(call: Any) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(call.request.url).query).items()}
