"""HttpClient: retry policy, classification, pacing, typed errors, redaction."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests
import responses
from responses import registries

from pressure_sdk.errors import AuthError, PayloadError, PermanentAPIError, RateLimitError, TransientAPIError
from pressure_sdk.http import ApiKeyHeader, BearerToken, HeaderPacer, HttpClient, RetryPolicy
from pressure_sdk.http.resolution import Action, Resolution

BASE = "https://api.example.test"
SECRET = "sk-live-0123456789abcdef"


def client(**kw: object) -> HttpClient:
    kw.setdefault("retry", RetryPolicy(max_attempts=4, backoff=1.0, max_backoff=8.0, max_retry_after=60.0))
    return HttpClient(BASE, connector="demo", auth=BearerToken(SECRET), **kw)  # type: ignore[arg-type]


@pytest.fixture
def mock() -> responses.RequestsMock:
    with responses.RequestsMock(registry=registries.OrderedRegistry, assert_all_requests_are_fired=True) as m:
        yield m


def test_success_sends_auth_user_agent_and_timeout(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/ping", json={"ok": True})
    c = client(timeout=12.0)
    seen: dict[str, object] = {}
    original = c.session.request

    def spy(*a: object, **kw: object) -> requests.Response:
        seen.update(kw)
        return original(*a, **kw)  # type: ignore[arg-type]

    c.session.request = spy  # type: ignore[method-assign]
    assert c.json("GET", "/ping") == {"ok": True}
    sent = mock.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert sent.headers["User-Agent"].startswith("pressure-sdk/")
    assert seen["timeout"] == (10.0, 12.0)


def test_retries_5xx_with_backoff_then_succeeds(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    mock.get(f"{BASE}/x", status=503, json={"message": "busy"})
    mock.get(f"{BASE}/x", status=502)
    mock.get(f"{BASE}/x", json=[1])
    c = client()
    assert c.json("GET", "/x") == [1]
    assert len(recorded_sleeps) == 2
    # exponential with jitter over the upper half: 1st in [0.5, 1], 2nd in [1, 2]
    assert 0.5 <= recorded_sleeps[0] <= 1.0 and 1.0 <= recorded_sleeps[1] <= 2.0
    assert c.stats.requests == 3 and c.stats.retries == 2


def test_5xx_gives_up_after_max_attempts(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    for _ in range(4):
        mock.get(f"{BASE}/x", status=500, json={"message": "boom"}, headers={"X-Request-Id": "req-9"})
    with pytest.raises(TransientAPIError) as err:
        client().json("GET", "/x")
    assert err.value.status == 500 and err.value.request_id == "req-9"
    assert "boom" in str(err.value) and "req-9" in str(err.value)
    assert len(recorded_sleeps) == 3


def test_retry_after_seconds_is_honoured_and_capped(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    mock.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    mock.get(f"{BASE}/x", status=429, headers={"Retry-After": "3600"})
    mock.get(f"{BASE}/x", json={})
    client().json("GET", "/x")
    assert recorded_sleeps == [7.0, 60.0]


def test_retry_after_http_date(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    mock.get(f"{BASE}/x", status=429, headers={"Retry-After": when})
    mock.get(f"{BASE}/x", json={})
    client().json("GET", "/x")
    assert 18 <= recorded_sleeps[0] <= 20.5


def test_429_every_time_raises_rate_limit_error(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    for _ in range(4):
        mock.get(f"{BASE}/x", status=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError):
        client().json("GET", "/x")
    assert recorded_sleeps == [1.0, 1.0, 1.0]


def test_401_is_not_retried(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    mock.get(f"{BASE}/x", status=401, json={"message": f"bad token {SECRET}"})
    with pytest.raises(AuthError) as err:
        client().json("GET", "/x")
    assert recorded_sleeps == []
    assert SECRET not in str(err.value) and SECRET not in (err.value.body or "")


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_fail_without_retry(mock: responses.RequestsMock, status: int, recorded_sleeps: list[float]) -> None:
    mock.get(f"{BASE}/x", status=status, json={"message": "nope"})
    with pytest.raises(PermanentAPIError) as err:
        client().json("GET", "/x")
    assert err.value.status == status and recorded_sleeps == []


def test_post_is_not_retried_on_5xx_unless_idempotent(
    mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    mock.post(f"{BASE}/create", status=500)
    with pytest.raises(TransientAPIError):
        client().json("POST", "/create", json={"a": 1})
    assert len(mock.calls) == 1
    mock.post(f"{BASE}/add", status=500)
    mock.post(f"{BASE}/add", json={"ok": 1})
    assert client().json("POST", "/add", json={"a": 1}, idempotent=True) == {"ok": 1}


def test_post_is_retried_on_429(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    mock.post(f"{BASE}/create", status=429, headers={"Retry-After": "2"})
    mock.post(f"{BASE}/create", json={"id": 5})
    assert client().json("POST", "/create") == {"id": 5}
    assert recorded_sleeps == [2.0]


def test_timeouts_and_connection_errors_are_retried(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    mock.get(f"{BASE}/x", body=requests.exceptions.ReadTimeout("slow"))
    mock.get(f"{BASE}/x", body=requests.exceptions.ConnectionError("refused"))
    mock.get(f"{BASE}/x", json={"ok": 1})
    assert client().json("GET", "/x") == {"ok": 1}
    assert len(recorded_sleeps) == 2


def test_read_timeout_on_post_is_not_retried(mock: responses.RequestsMock) -> None:
    mock.post(f"{BASE}/create", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(TransientAPIError):
        client().json("POST", "/create")


def test_malformed_json_is_a_payload_error(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/x", body='{"events": [', content_type="application/json")
    with pytest.raises(PayloadError) as err:
        client().json("GET", "/x")
    assert "not JSON" in str(err.value)


def test_accept_lets_the_caller_handle_a_status(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/lists/name/x", status=404, json={"message": "no list"})
    assert client().request("GET", "/lists/name/x", accept=(404,)).status_code == 404


def test_connector_overrides_classification(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    # a platform that throttles with a bare 403
    mock.get(f"{BASE}/x", status=403)
    mock.get(f"{BASE}/x", json={})
    c = client(resolutions={403: Resolution(Action.RETRY, "throttled")})
    c.json("GET", "/x")
    assert len(recorded_sleeps) == 1


def test_refresh_auth_invalidates_once(mock: responses.RequestsMock) -> None:
    class Rotating(BearerToken):
        calls = 0

        def invalidate(self) -> bool:
            Rotating.calls += 1
            return True

    mock.get(f"{BASE}/x", status=401)
    mock.get(f"{BASE}/x", status=401)
    c = HttpClient(
        BASE, connector="demo", auth=Rotating("tok-123456"), resolutions={401: Resolution(Action.REFRESH_AUTH, "x")}
    )
    with pytest.raises(AuthError):
        c.json("GET", "/x")
    assert Rotating.calls == 1 and len(mock.calls) == 2


def test_pacer_waits_before_the_limit(mock: responses.RequestsMock, recorded_sleeps: list[float]) -> None:
    now = [1000.0]
    pacer = HeaderPacer("X-Remaining", "X-Reset", reserve=1, clock=lambda: now[0])
    mock.get(f"{BASE}/x", json={}, headers={"X-Remaining": "5", "X-Reset": "9"})
    mock.get(f"{BASE}/x", json={}, headers={"X-Remaining": "1", "X-Reset": "9"})
    mock.get(f"{BASE}/x", json={}, headers={"X-Remaining": "99", "X-Reset": "9"})
    c = client(pacer=pacer)
    c.json("GET", "/x")
    c.json("GET", "/x")
    assert recorded_sleeps == []
    now[0] += 4
    c.json("GET", "/x")  # one left, kept in reserve: wait out the 5 s left of the window
    assert recorded_sleeps == [5.0]


def test_pacer_buckets_are_separate(recorded_sleeps: list[float]) -> None:
    pacer = HeaderPacer("r", "s", bucket_of=lambda p: p.split("/")[1], clock=lambda: 0.0)
    resp = requests.Response()
    resp.headers["r"], resp.headers["s"] = "0", "30"
    pacer.observe("/smtp/events", resp)
    assert pacer.delay("/smtp/other") == 30.0
    assert pacer.delay("/contacts/x") == 0.0


def test_api_key_header_is_registered_for_redaction(mock: responses.RequestsMock) -> None:
    key = "xkeysib-abcdef0123456789"
    mock.get(f"{BASE}/x", status=400, body=f"echo {key}")
    c = HttpClient(BASE, connector="demo", auth=ApiKeyHeader("api-key", key))
    with pytest.raises(PermanentAPIError) as err:
        c.json("GET", "/x")
    assert mock.calls[0].request.headers["api-key"] == key
    assert key not in (err.value.body or "") and "***" in (err.value.body or "")
    assert key not in repr(c.auth)


def test_a_429_is_waited_out_once_not_again_by_the_pacer(
    mock: responses.RequestsMock, recorded_sleeps: list[float]
) -> None:
    pacer = HeaderPacer("X-Remaining", "X-Reset", reserve=1, clock=lambda: 0.0)
    mock.get(f"{BASE}/x", status=429, headers={"X-Remaining": "0", "X-Reset": "30"})
    mock.get(f"{BASE}/x", json={}, headers={"X-Remaining": "50", "X-Reset": "30"})
    client(pacer=pacer).json("GET", "/x")
    assert recorded_sleeps == [30.0]
