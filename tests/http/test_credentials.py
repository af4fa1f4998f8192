"""Credentials models: fields from named environment variables, secrets masked, base URL after auth."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import responses
from kit_helpers import BASE, DemoConnector, make
from pydantic import SecretStr

from pressure_sdk.connectors import ApiCredential, Credentials, env_field
from pressure_sdk.errors import AuthError
from pressure_sdk.http import Auth, BearerToken, redact

CLIENT_SECRET = "cs-9d8c7b6a5f4e3d2c1b0a"


class ThreePart(Credentials):
    client_id: SecretStr = env_field("CLIENT_ID", "the package's client id")
    client_secret: SecretStr = env_field("CLIENT_SECRET", "the package's client secret")
    account_id: str | None = env_field("ACCOUNT_ID", "the business unit's id", required=False)


def test_each_field_reads_its_variable_under_the_accounts_prefix() -> None:
    assert ThreePart.variables("ACME_SFMC") == {
        "client_id": "ACME_SFMC_CLIENT_ID",
        "client_secret": "ACME_SFMC_CLIENT_SECRET",
        "account_id": "ACME_SFMC_ACCOUNT_ID",
    }
    assert ApiCredential.variables("HUBSPOT_TOKEN") == {"credential": "HUBSPOT_TOKEN"}
    env = {"ACME_SFMC_CLIENT_ID": " cid-1 ", "ACME_SFMC_CLIENT_SECRET": CLIENT_SECRET}
    creds = ThreePart.from_env("ACME_SFMC", environ=env)
    assert creds.secret("client_id") == "cid-1" and creds.secret("client_secret") == CLIENT_SECRET
    assert creds.account_id is None
    assert CLIENT_SECRET not in repr(creds) and CLIENT_SECRET not in str(creds)
    # read secrets are registered: any text that would carry one is masked
    assert CLIENT_SECRET not in redact(f"token request failed for {CLIENT_SECRET}")


def test_missing_variables_are_all_named_and_values_never_shown() -> None:
    with pytest.raises(AuthError) as err:
        ThreePart.from_env("ACME_SFMC", environ={"ACME_SFMC_CLIENT_ID": "cid"}, account="acme-sfmc")
    assert str(err.value) == (
        "account 'acme-sfmc': environment variable ACME_SFMC_CLIENT_SECRET is not set; "
        "export it with the package's client secret"
    )
    with pytest.raises(AuthError, match="ACME_SFMC_CLIENT_ID .*ACME_SFMC_CLIENT_SECRET .*are not set"):
        ThreePart.from_env("ACME_SFMC", environ={})


def test_an_invalid_value_is_refused_naming_the_variable_not_the_value() -> None:
    class Numbered(Credentials):
        token: SecretStr = env_field("", "the token")
        mid: int = env_field("MID", "the business unit's number")

    secret = "tok-5566778899aabb"
    with pytest.raises(AuthError) as err:
        Numbered.from_env("X", environ={"X": secret, "X_MID": "not-a-number-12345"})
    assert "X_MID" in str(err.value)
    assert secret not in str(err.value) and "not-a-number-12345" not in str(err.value)


def test_connector_messages_for_a_single_secret_stay_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_TOKEN", raising=False)
    with pytest.raises(AuthError) as err:
        make().credential()
    assert str(err.value) == (
        "account 'acme-demo': environment variable DEMO_TOKEN is not set; export it with the API credential"
    )
    assert err.value.connector == "demo"
    with pytest.raises(AuthError, match="set credential_env"):
        make(credential_env=None).credential()


class Tokened(DemoConnector):
    """Several secrets; the API root arrives with the token."""

    credentials_model: ClassVar[type[Credentials]] = ThreePart
    seen: ClassVar[list[Any]] = []

    def authenticate(self, credentials: Credentials) -> Auth:
        assert isinstance(credentials, ThreePart)
        self.seen.append(credentials.secret("client_id"))
        return BearerToken(credentials.secret("client_secret"))

    def after_auth(self, auth: Auth) -> str | None:
        return "https://mc123.rest.example.test"


def test_authenticate_takes_the_model_and_after_auth_sets_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_CLIENT_ID", "cid-42")
    monkeypatch.setenv("ACME_CLIENT_SECRET", CLIENT_SECRET)
    connector = make(Tokened, credential_env="ACME")
    with responses.RequestsMock() as mock:
        mock.get("https://mc123.rest.example.test/ping", json={"ok": True})
        assert connector.client.json("GET", "/ping") == {"ok": True}
        assert mock.calls[0].request.headers["Authorization"] == f"Bearer {CLIENT_SECRET}"
    assert Tokened.seen == ["cid-42"]
    assert connector.client.base_url != BASE
    assert CLIENT_SECRET not in repr(connector)
