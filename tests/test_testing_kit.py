"""The contract kit and the sandbox base, exercised through the toy platform."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pressure_sdk.testing import ContractHarness, connector_contract

from .toy_platform import ToyConnector, ToySandbox


class ToyHarness(ContractHarness):
    connector_cls = ToyConnector
    push_path = "/lists/"

    def start(self) -> None:
        self.sandbox = ToySandbox().start()
        super().start()

    def account(self) -> dict[str, Any]:
        assert self.sandbox is not None
        return {"base_url": self.sandbox.url, "settings": {"page_size": 25}}

    def add_events(self, n: int, start: int, end: int) -> int:
        assert isinstance(self.sandbox, ToySandbox)
        base = len(self.sandbox.events)
        for i in range(n):
            at = start + (end - start) * i // max(1, n)
            kind = "sent" if i % 3 else "open"
            self.sandbox.events.append({"id": f"e{base + i}", "email": f"p{i % 7}@example.com", "type": kind, "at": at})
        return n

    def members(self, list_name: str) -> set[str]:
        assert isinstance(self.sandbox, ToySandbox)
        return set(self.sandbox.lists.get(list_name, set()))


TestToyContract = connector_contract(ToyHarness)


@pytest.fixture
def toy() -> Any:
    with ToySandbox() as sb:
        yield sb


def get(sb: ToySandbox, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{sb.url}{path}", headers={"Authorization": f"Bearer {sb.credential}", **headers}, timeout=5)


def test_sandbox_checks_auth_and_logs_requests(toy: ToySandbox) -> None:
    assert requests.get(f"{toy.url}/me", timeout=5).status_code == 401
    assert get(toy, "/me").json() == {"account": "toy"}
    assert toy.count(path="/me") == 2 and toy.count(status=401) == 1


def test_sandbox_unknown_path_and_method(toy: ToySandbox) -> None:
    assert get(toy, "/nope").status_code == 404
    assert (
        requests.delete(f"{toy.url}/me", headers={"Authorization": f"Bearer {toy.credential}"}, timeout=5).status_code
        == 405
    )


def test_sandbox_rate_budget_answers_429_with_headers() -> None:
    with ToySandbox(limits={"default": (2, 60.0)}) as sb:
        first = get(sb, "/me")
        assert first.headers["X-Toy-Remaining"] == "1"
        assert get(sb, "/me").status_code == 200
        third = get(sb, "/me")
        assert third.status_code == 429 and 0 < int(third.headers["Retry-After"]) <= 60


@pytest.mark.parametrize("kind", ["status", "malformed", "rate_limit", "drop", "revoke"])
def test_sandbox_faults(toy: ToySandbox, kind: str) -> None:
    toy.inject(kind, path="/me", times=1)
    if kind == "drop":
        with pytest.raises(requests.ConnectionError):
            get(toy, "/me")
    else:
        r = get(toy, "/me")
        expected = {"status": 500, "malformed": 200, "rate_limit": 429, "revoke": 401}[kind]
        assert r.status_code == expected
        if kind == "malformed":
            with pytest.raises(ValueError):
                r.json()
    after = get(toy, "/me")
    assert after.status_code == (401 if kind == "revoke" else 200)
    assert toy.fired == [(kind, "GET", "/api/me")], "each fault that fired is logged once"


def test_sandbox_timeout_fault_holds_the_answer(toy: ToySandbox) -> None:
    toy.inject("timeout", delay=1.0)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{toy.url}/me", headers={"Authorization": f"Bearer {toy.credential}"}, timeout=0.3)


def test_unknown_fault_kind_is_refused(toy: ToySandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        toy.inject("explode")
