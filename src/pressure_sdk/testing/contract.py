"""The connector contract: standard tests every connector runs against itself.

A connector's test module defines a :class:`ContractHarness` (how to give the platform
events, contacts and faults: usually a sandbox) and one line::

    TestContract = connector_contract(MyHarness)

The class it returns holds the tests that apply: the HTTP ones (401, 429, 5xx, failed
push batch) only when ``harness.http`` is true.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..config import ListConfig, WorkspaceConfig, parse_config
from ..connectors.base import Connector, PushBatch
from ..errors import AuthError, ConfigError, ConnectorError, TransientAPIError
from ..ledger import Ledger, Member
from .sandbox import Sandbox

DAY = 86400
ACCOUNT = "contract"
LIST = "contract-suppression"


class ContractHarness:
    """What the contract kit needs from a connector's tests. Subclass and fill in."""

    #: the connector class under test
    connector_cls: ClassVar[type[Connector]]
    #: whether the connector talks HTTP to a sandbox (adds the 401/429/5xx/push-failure tests)
    http: ClassVar[bool] = True
    #: events the pagination test creates: enough for several pages at ``account()``'s page size
    page_events: ClassVar[int] = 120
    #: environment variable the account names for its credential
    credential_env: ClassVar[str] = "PRESSURE_CONTRACT_CREDENTIAL"

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.sandbox: Sandbox | None = None

    @property
    def secret(self) -> str | None:
        """The credential value, checked never to appear in reprs, errors or the ledger."""
        return self.sandbox.credential if self.sandbox is not None else None

    def start(self) -> None:
        """Start the platform (a sandbox) and export the credential variable."""
        if self.secret is not None:
            self.monkeypatch.setenv(self.credential_env, self.secret)

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()

    def account(self) -> dict[str, Any]:
        """The ``[[accounts]]`` table (without name, connector or lists) pointing at the platform.

        Set a page size small enough that ``page_events`` events span several pages.
        """
        raise NotImplementedError

    def add_events(self, n: int, start: int, end: int) -> int:
        """Make ``n`` new events happen on the platform between ``start`` and ``end`` (epoch seconds).

        Returns how many ledger rows (touches plus engagements) they make once pulled.
        """
        raise NotImplementedError

    def prepare_contacts(self, emails: list[str]) -> None:
        """Make sure the platform knows these contacts, so that a push can list them."""

    def members(self, list_name: str) -> set[str]:
        """Emails (lower case) on the platform's list ``list_name`` now."""
        raise NotImplementedError

    #: path prefix of the push endpoint, to count push requests (HTTP connectors)
    push_path: ClassVar[str | None] = None

    def push_requests(self) -> int:
        """Requests the platform received on ``push_path``."""
        assert self.sandbox is not None and self.push_path is not None
        return self.sandbox.count(path=self.push_path)


def workspace_for(harness: ContractHarness) -> WorkspaceConfig:
    account = {
        **harness.account(),
        "name": ACCOUNT,
        "connector": harness.connector_cls.name,
        "brand": "contract",
        "lists": [{"name": LIST}],
    }
    if harness.secret is not None:
        account.setdefault("credential_env", harness.credential_env)
    data = {
        "workspace": {"name": "contract", "ledger": str(harness.tmp_path / "ledger.db")},
        "brands": {"contract": {}},
        "accounts": [account],
    }
    return parse_config(data, source="contract.toml", base_dir=harness.tmp_path)


def build(harness: ContractHarness) -> Connector:
    cfg = workspace_for(harness)
    return harness.connector_cls.from_account(cfg.accounts[0], cfg, 0)


def pull_into(connector: Connector, ledger: Ledger) -> list[str]:
    """Pull everything new into ``ledger`` as the sync does; return the event ids yielded."""
    ids: list[str] = []
    for batch in connector.pull(ledger.watermark(ACCOUNT)):
        ids += [t.event_id for t in batch.touches] + [e.event_id for e in batch.engagements]
        ledger.ingest(batch, account=ACCOUNT, default_brand="contract")
    return ids


def rows(ledger: Ledger) -> int:
    return ledger.count("touches") + ledger.count("engagements")


def frozen(connector: Connector, at: float) -> Connector:
    connector.now = lambda: at  # type: ignore[method-assign]
    return connector


def members_for(n: int, start: int = 0) -> list[Member]:
    return [Member(i, f"contract-{i:05d}@example.com", None) for i in range(start + 1, start + n + 1)]


def _push_all(connector: Connector, adds: list[Member], removes: list[Member], after: list[Member]) -> list[PushBatch]:
    lst = ListConfig(name=LIST, brand="contract")
    return list(connector.push(lst, adds, removes, after))


class _Base:
    harness_cls: ClassVar[type[ContractHarness]]

    @pytest.fixture
    def harness(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractHarness]:
        h = self.harness_cls(tmp_path, monkeypatch)
        h.start()
        try:
            yield h
        finally:
            h.stop()

    @pytest.fixture
    def ledger(self, tmp_path: Path) -> Iterator[Ledger]:
        led = Ledger(tmp_path / "contract-ledger.db")
        yield led
        led.close()

    # -- config -----------------------------------------------------------------------

    def test_config_masks_secrets(self, harness: ContractHarness) -> None:
        connector = build(harness)
        try:
            shown = [repr(connector), str(connector.settings), repr(connector.settings), str(vars(connector.settings))]
            if harness.secret:
                for text in shown:
                    assert harness.secret not in text
        finally:
            connector.close()

    def test_invalid_settings_name_the_key(self, harness: ContractHarness) -> None:
        cfg = workspace_for(harness)
        account = cfg.accounts[0].model_copy(update={"settings": {**cfg.accounts[0].settings, "no_such_setting": 1}})
        with pytest.raises(ConfigError) as err:
            harness.connector_cls.from_account(account, cfg, 0)
        assert "accounts[0].settings" in str(err.value) and "no_such_setting" in str(err.value)
        if harness.secret:
            assert harness.secret not in str(err.value)

    # -- check and pull ------------------------------------------------------------------

    def test_check_reports_what_it_checked(self, harness: ContractHarness) -> None:
        connector = build(harness)
        try:
            said = connector.check()
        finally:
            connector.close()
        assert isinstance(said, str) and said.strip()

    def test_pull_paginates_to_the_end(self, harness: ContractHarness, ledger: Ledger) -> None:
        t0 = int(time.time()) - 10 * DAY
        expected = harness.add_events(harness.page_events, t0 - 3 * DAY, t0 - DAY)
        connector = frozen(build(harness), t0)
        try:
            ids = pull_into(connector, ledger)
        finally:
            connector.close()
        assert rows(ledger) == expected
        assert len(ids) == len(set(ids)), "one pull yielded the same event twice"
        if harness.sandbox is not None:
            assert harness.sandbox.count(method="GET") > 2, "the events did not span several pages"

    def test_resume_fetches_only_newer_events(self, harness: ContractHarness, ledger: Ledger) -> None:
        t0 = int(time.time()) - 10 * DAY
        first = harness.add_events(harness.page_events // 2, t0 - 3 * DAY, t0 - DAY)
        connector = frozen(build(harness), t0)
        try:
            pull_into(connector, ledger)
            assert rows(ledger) == first
            state = ledger.watermark(ACCOUNT)
            assert state is not None, "a pull must leave a watermark"
            newer = harness.add_events(harness.page_events // 2, t0 + 3600, t0 + DAY)
            frozen(connector, t0 + 2 * DAY)
            ids = pull_into(connector, ledger)
            assert rows(ledger) == first + newer, "the boundary produced duplicates or lost events"
            assert len(ids) == len(set(ids))
            # nothing new: a third pull adds nothing
            pull_into(connector, ledger)
            assert rows(ledger) == first + newer
        finally:
            connector.close()

    # -- push --------------------------------------------------------------------------

    def test_push_uses_largest_batches(self, harness: ContractHarness) -> None:
        connector = build(harness)
        size = int(connector.max_batch)
        n = 2 * size + 1 if size < 5000 else 2001
        adds = members_for(n)
        harness.prepare_contacts([m.email for m in adds])
        before = harness.push_requests() if harness.http else 0
        try:
            batches = _push_all(connector, adds, [], adds)
            assert all(len(b.added) <= size and len(b.removed) <= size for b in batches)
            assert len(batches) == math.ceil(n / size)
            if harness.http:
                assert harness.push_requests() - before == len(batches)
            assert sorted(c for b in batches for c in b.added) == [m.contact_id for m in adds]
            assert harness.members(LIST) == {m.email for m in adds}
            removes = adds[: n // 2]
            kept = adds[n // 2 :]
            batches = _push_all(connector, [], removes, kept)
            assert sorted(c for b in batches for c in b.removed) == [m.contact_id for m in removes]
            assert harness.members(LIST) == {m.email for m in kept}
        finally:
            connector.close()


class _HttpTests:
    def test_401_raises_auth_error_without_retry(self, harness: ContractHarness, recorded_sleeps: list[float]) -> None:
        assert harness.sandbox is not None
        harness.sandbox.revoke()
        connector = build(harness)
        before = len(harness.sandbox.requests)
        try:
            with pytest.raises(AuthError) as err:
                connector.check()
        finally:
            connector.close()
        assert len(harness.sandbox.requests) - before == 1, "a refused credential must not be retried"
        assert recorded_sleeps == []
        assert harness.secret is None or harness.secret not in str(err.value)

    def test_429_waits_as_told(self, harness: ContractHarness, recorded_sleeps: list[float]) -> None:
        assert harness.sandbox is not None
        harness.sandbox.inject("rate_limit", retry_after=7)
        connector = build(harness)
        try:
            connector.check()
        finally:
            connector.close()
        assert harness.sandbox.count(status=429) == 1
        assert any(abs(s - 7) < 1.01 for s in recorded_sleeps), f"expected a wait of about 7 s, got {recorded_sleeps}"

    def test_5xx_is_retried_then_fails_cleanly(self, harness: ContractHarness, recorded_sleeps: list[float]) -> None:
        assert harness.sandbox is not None
        harness.sandbox.inject("status", status=503, times=1000)
        connector = build(harness)
        attempts = connector.settings.retry.max_attempts  # type: ignore[attr-defined]
        try:
            with pytest.raises(TransientAPIError) as err:
                connector.check()
        finally:
            connector.close()
        assert harness.sandbox.count(status=503) == attempts
        assert len(recorded_sleeps) == attempts - 1
        assert err.value.status == 503

    def test_push_records_only_confirmed_batches(self, harness: ContractHarness, recorded_sleeps: list[float]) -> None:
        assert harness.sandbox is not None and harness.push_path is not None
        connector = build(harness)
        size = int(connector.max_batch)
        adds = members_for(2 * size + 1)
        harness.prepare_contacts([m.email for m in adds])
        lst = ListConfig(name=LIST, brand="contract")
        confirmed: list[int] = []
        try:
            pushing = connector.push(lst, adds, [], adds)
            confirmed += next(pushing).added
            harness.sandbox.inject("status", status=500, times=1000, path=harness.push_path)
            with pytest.raises(ConnectorError):
                for batch in pushing:
                    confirmed += batch.added
        finally:
            connector.close()
        on_platform = harness.members(LIST)
        assert {m.email for m in adds if m.contact_id in set(confirmed)} == on_platform
        assert 0 < len(confirmed) < len(adds)


def connector_contract(harness_cls: type[ContractHarness]) -> type:
    """The contract test class for ``harness_cls``: assign it to a ``Test…`` name in a test module."""
    bases: tuple[type, ...] = (_HttpTests, _Base) if harness_cls.http else (_Base,)
    name = f"Test{harness_cls.connector_cls.__name__}Contract"
    return type(name, bases, {"harness_cls": harness_cls, "__test__": True})


def record_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the toolkit's sleep with a recorder; returns the list of waits."""
    waits: list[float] = []
    monkeypatch.setattr("pressure_sdk.http.client.sleep", waits.append)
    return waits


__all__ = ["ContractHarness", "connector_contract", "record_sleeps"]
