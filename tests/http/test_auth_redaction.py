"""Auth objects, the OAuth2 token cache, and redaction of secrets."""

from __future__ import annotations

import logging

import pytest
import responses

from pressure_sdk.errors import AuthError
from pressure_sdk.http import OAuth2ClientCredentials, parse_retry_after, redact, register_secret, sanitize_url
from pressure_sdk.http.redaction import RedactingFilter

TOKEN_URL = "https://auth.example.test/v2/token"


@responses.activate
def test_oauth_token_is_cached_and_refreshed_before_expiry() -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok-aaaaaaaa", "expires_in": 1200})
    responses.post(TOKEN_URL, json={"access_token": "tok-bbbbbbbb", "expires_in": 1200})
    now = [0.0]
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-xyz", clock=lambda: now[0], leeway=60)
    assert auth.token() == "tok-aaaaaaaa"
    now[0] = 1000
    assert auth.token() == "tok-aaaaaaaa"  # still valid, no new request
    assert len(responses.calls) == 1
    now[0] = 1150  # inside the leeway: refresh
    assert auth.token() == "tok-bbbbbbbb"
    body = responses.calls[0].request.body or ""
    assert "grant_type=client_credentials" in body and "client_id=cid" in body


@responses.activate
def test_oauth_refused_raises_auth_error_without_secret() -> None:
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client", "echo": "client-secret-xyz"})
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-xyz")
    with pytest.raises(AuthError) as err:
        auth.token()
    assert "client-secret-xyz" not in str(err.value) and "client-secret-xyz" not in (err.value.body or "")


@responses.activate
def test_oauth_invalidate_forces_a_new_token() -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok-1111111", "expires_in": 3600})
    responses.post(TOKEN_URL, json={"access_token": "tok-2222222", "expires_in": 3600})
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "s3cret-value")
    auth.token()
    assert auth.invalidate()
    assert auth.token() == "tok-2222222"


def test_redact_masks_registered_secrets_and_secret_keys() -> None:
    register_secret("pat-na1-0000-secret")
    text = 'failed with pat-na1-0000-secret and {"api_key": "whatever", "name": "x"}'
    out = redact(text)
    assert "pat-na1-0000-secret" not in out and "whatever" not in out and '"name": "x"' in out


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    assert redact("abc def") == "abc def"


def test_sanitize_url_masks_credential_parameters() -> None:
    out = sanitize_url("https://api.test/v1/events?hapikey=zzz999&limit=10")
    assert "zzz999" not in out and "limit=10" in out


def test_log_filter_masks_records(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("log-secret-123456")
    logger = logging.getLogger("pressure_sdk.test_redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="pressure_sdk.test_redaction"):
        logger.info("token is %s", "log-secret-123456")
    assert "log-secret-123456" not in caplog.text and "***" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0", 0.0), ("-3", 0.0), ("", None), ("soon", None), (None, None), ("1.5", 1.5)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
