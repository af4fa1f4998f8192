"""The connector contract: standard tests every connector runs against itself.

A connector's test module defines a :class:`ContractHarness` (how to give the platform
events, contacts and faults: usually a sandbox) and one line::

    TestContract = connector_contract(MyHarness)

The class it returns holds the tests that apply: the HTTP ones (401, 429, 5xx, failed
push batch) only when ``harness.http`` is true. The optional hooks are never skipped:
a harness declares what its connector does not do (``inspects_lists``, ``has_audience``)
and the kit checks the connector says so.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..config import ListConfig, WorkspaceConfig, parse_config
from ..connectors.base import Connector, PushBatch, RemoteList
from ..errors import AuthError, ConfigError, ConnectorError, TransientAPIError
from ..ledger import Ledger, Member
from ..models import AUDIENCE_STATUSES, Batch, ContactUpdate
from .sandbox import Sandbox

DAY = 86400
ACCOUNT = "contract"
LIST = "contract-suppression"
#: contacts the audience test adds: several pages at the harnesses' page sizes
AUDIENCE = 30


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
    #: whether the connector reads its lists back (``inspect_list``). While False the kit
    #: accepts None ("cannot inspect"), and still checks any answer the connector gives;
    #: when True, None fails.
    inspects_lists: ClassVar[bool] = False
    #: whether the connector pulls the account's audience (``pull_audience``); True needs
    #: :meth:`add_audience`. While False the kit checks the pull yields no contact.
    has_audience: ClassVar[bool] = False

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.sandbox: Sandbox | None = None

    @property
    def secret(self) -> str | None:
        """The credential value, checked never to appear in reprs, errors or the ledger."""
        return self.sandbox.credential if self.sandbox is not None else None

    def environment(self) -> dict[str, str]:
        """Variables to export for the account's credentials (several for a multi-field credentials model)."""
        return {self.credential_env: self.secret} if self.secret is not None else {}

    @property
    def secrets(self) -> list[str]:
        """Every secret value, each checked never to appear in reprs, errors or the ledger.

        By default the values of :meth:`environment`; a harness whose credentials hold
        non-secret fields (an account id) returns only the secret ones.
        """
        return [v for v in self.environment().values() if v]

    def start(self) -> None:
        """Start the platform (a sandbox) and export the credential variables."""
        for name, value in self.environment().items():
            self.monkeypatch.setenv(name, value)

    def stop(self) -> None:
        """Stop the platform started by :meth:`start`."""
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

    def add_audience(self, emails: list[str], at: int) -> None:
        """Make new contacts with these emails part of the account's audience (``has_audience``).

        ``at`` (epoch seconds) is when the platform says they were created and last
        modified: the kit places them well apart from the pulls' windows and overlaps,
        as it does events.
        """
        raise NotImplementedError

    #: path prefix of the push endpoint, to count push requests (HTTP connectors)
    push_path: ClassVar[str | None] = None

    def push_requests(self) -> int:
        """Requests the platform received on ``push_path``."""
        assert self.sandbox is not None and self.push_path is not None
        return self.sandbox.count(path=self.push_path)


def workspace_for(harness: ContractHarness) -> WorkspaceConfig:
    """A one-account workspace pointing at the harness's platform, ledger in its temp folder."""
    account = {
        **harness.account(),
        "name": ACCOUNT,
        "connector": harness.connector_cls.name,
        "brand": "contract",
        "lists": [{"name": LIST}],
    }
    if harness.environment():
        account.setdefault("credential_env", harness.credential_env)
    data = {
        "workspace": {"name": "contract", "ledger": str(harness.tmp_path / "ledger.db")},
        "brands": {"contract": {}},
        "accounts": [account],
    }
    return parse_config(data, source="contract.toml", base_dir=harness.tmp_path)


def build(harness: ContractHarness) -> Connector:
    """The connector of :func:`workspace_for`'s account."""
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
    """Touches and engagements in the ledger."""
    return ledger.count("touches") + ledger.count("engagements")


def frozen(connector: Connector, at: float) -> Connector:
    """The connector with its clock frozen at ``at``."""
    connector.now = lambda: at  # type: ignore[method-assign]
    return connector


def members_for(n: int, start: int = 0) -> list[Member]:
    """``n`` list members with distinct emails and no platform id."""
    return [Member(i, f"contract-{i:05d}@example.com", None) for i in range(start + 1, start + n + 1)]


def _push_all(connector: Connector, adds: list[Member], removes: list[Member], after: list[Member]) -> list[PushBatch]:
    lst = ListConfig(name=LIST, brand="contract")
    return list(connector.push(lst, adds, removes, after))


def _inspect(
    harness: ContractHarness, connector: Connector, lst: ListConfig, *, full: bool = False
) -> RemoteList | None:
    """``inspect_list``, with None allowed only when the harness declares ``inspects_lists = False``."""
    remote = connector.inspect_list(lst, full=full)
    if remote is None:
        assert not harness.inspects_lists, (
            f"{type(connector).__name__}.inspect_list returned None (cannot inspect lists) "
            "although the harness declares inspects_lists = True"
        )
        return None
    assert isinstance(remote, RemoteList), f"inspect_list must return a RemoteList or None, not {remote!r}"
    if full and remote.exists:
        assert remote.members is not None, "inspect_list(full=True) of an existing list must fill members"
    return remote


def _check_inspected(
    harness: ContractHarness, connector: Connector, lst: ListConfig, pushed: list[Member], learned: dict[int, str]
) -> None:
    """The list exists and holds exactly ``pushed``, each member known by its email or its platform id."""
    cheap = _inspect(harness, connector, lst)
    assert cheap is not None, "inspect_list answered for one list and returned None for another"
    assert cheap.exists, "inspect_list says a pushed list does not exist"
    if cheap.size is not None:
        assert cheap.size == len(pushed), f"inspect_list says {cheap.size} members, {len(pushed)} were pushed"
    remote = _inspect(harness, connector, lst, full=True)
    assert remote is not None and remote.exists and remote.members is not None
    if remote.size is not None:
        assert remote.size == len(pushed), f"inspect_list(full=True) says {remote.size} members, {len(pushed)} pushed"
    by_email = {m.email: m.contact_id for m in pushed}
    by_id = {ext: m.contact_id for m in pushed if (ext := learned.get(m.contact_id) or m.external_id)}
    found: list[int] = []
    strangers = []
    for rm in remote.members:
        cid = by_email.get(rm.email) if rm.email is not None else None
        if cid is None and rm.external_id is not None:
            cid = by_id.get(rm.external_id)
        if cid is None:
            strangers.append(rm)
        else:
            found.append(cid)
    assert not strangers, f"inspect_list(full=True) returned members never pushed (or not lower case): {strangers[:5]}"
    assert sorted(found) == sorted(m.contact_id for m in pushed), "inspect_list(full=True) lost or repeated members"


def _pull_audience(connector: Connector, state: dict[str, Any] | None) -> tuple[list[ContactUpdate], list[Batch]]:
    batches = list(connector.pull_audience(state))
    for b in batches:
        assert not b.touches and not b.engagements, "pull_audience yields contacts only"
    return [c for b in batches for c in b.contacts], batches


def _last_state(batches: list[Batch], before: dict[str, Any] | None) -> dict[str, Any] | None:
    """The state the sync would keep after these batches, through JSON as the ledger stores it."""
    states = [b.state for b in batches if b.state is not None]
    state = states[-1] if states else before
    return None if state is None else json.loads(json.dumps(state))


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
            for secret in harness.secrets:
                for text in shown:
                    assert secret not in text
        finally:
            connector.close()

    def test_invalid_settings_name_the_key(self, harness: ContractHarness) -> None:
        cfg = workspace_for(harness)
        account = cfg.accounts[0].model_copy(update={"settings": {**cfg.accounts[0].settings, "no_such_setting": 1}})
        with pytest.raises(ConfigError) as err:
            harness.connector_cls.from_account(account, cfg, 0)
        assert "accounts[0].settings" in str(err.value) and "no_such_setting" in str(err.value)
        for secret in harness.secrets:
            assert secret not in str(err.value)

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

    def test_no_secret_in_the_ledger_or_the_logs(
        self, harness: ContractHarness, ledger: Ledger, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A pull, its watermark, a push and everything logged at debug level hold no credential."""
        if not harness.secrets:
            return  # nothing secret to leak: the other tests cover the connector
        caplog.set_level("DEBUG")
        t0 = int(time.time()) - 10 * DAY
        harness.add_events(10, t0 - 2 * DAY, t0 - DAY)
        adds = members_for(3)
        harness.prepare_contacts([m.email for m in adds])
        connector = frozen(build(harness), t0)
        try:
            pull_into(connector, ledger)
            _push_all(connector, adds, [], adds)
        finally:
            connector.close()
        ledger.close()
        stored = b"".join(p.read_bytes() for p in harness.tmp_path.glob("contract-ledger.db*"))
        logged = caplog.text
        for secret in harness.secrets:
            assert secret.encode() not in stored, "a credential reached the ledger"
            assert secret not in logged, "a credential reached the logs"

    # -- optional hooks: list inspection, audience --------------------------------------

    def test_inspect_list_of_a_list_never_pushed(self, harness: ContractHarness) -> None:
        connector = build(harness)
        never = ListConfig(name=f"{LIST}-never-pushed", brand="contract")
        try:
            for full in (False, True):
                remote = _inspect(harness, connector, never, full=full)
                if remote is not None:
                    assert remote.exists is False, f"a list never pushed must not exist: {remote!r}"
        finally:
            connector.close()

    def test_inspect_list_sees_what_was_pushed(self, harness: ContractHarness) -> None:
        connector = build(harness)
        lst = ListConfig(name=LIST, brand="contract")
        adds = members_for(12)
        harness.prepare_contacts([m.email for m in adds])
        learned: dict[int, str] = {}
        try:
            if _inspect(harness, connector, lst) is None:
                return  # declared: the connector cannot inspect lists
            for b in _push_all(connector, adds, [], adds):
                learned.update(b.external_ids)
            _check_inspected(harness, connector, lst, adds, learned)
            removes, kept = adds[:5], adds[5:]
            for b in _push_all(connector, [], removes, kept):
                learned.update(b.external_ids)
            _check_inspected(harness, connector, lst, kept, learned)
            # emptied is not gone: the list still exists, with no member
            _push_all(connector, [], kept, [])
            _check_inspected(harness, connector, lst, [], learned)
        finally:
            connector.close()

    def test_pull_audience_then_resume(self, harness: ContractHarness) -> None:
        connector = build(harness)
        try:
            if not harness.has_audience:
                contacts, _ = _pull_audience(connector, None)
                assert not contacts, (
                    f"pull_audience yielded {len(contacts)} contacts although the harness declares "
                    "has_audience = False: set it to True and give the harness add_audience"
                )
                return
            t0 = int(time.time()) - 10 * DAY
            first = [f"audience-{i:03d}@example.com" for i in range(AUDIENCE)]
            harness.add_audience(first, t0 - 3 * DAY)
            contacts, batches = _pull_audience(frozen(connector, t0), None)
            assert batches and batches[-1].state is not None, "the last batch of an audience pull carries its state"
            state = _last_state(batches, None)
            yielded = [c.email.strip().lower() for c in contacts]
            assert len(yielded) == len(set(yielded)), "one audience pull yielded the same contact twice"
            assert set(first) <= set(yielded), f"the audience pull missed {sorted(set(first) - set(yielded))[:5]}"
            ours = [c for c in contacts if c.email.strip().lower() in set(first)]
            ids = [c.external_id for c in ours]
            assert all(ids), "every audience contact carries the platform's id (external_id)"
            assert len(set(ids)) == len(ids), "two audience contacts share one external_id"
            for c in ours:
                assert c.status is None or c.status in AUDIENCE_STATUSES, f"unknown audience status {c.status!r}"

            # resumed: nothing already yielded (none was modified since), and every newer contact
            newer = [f"audience-new-{i:03d}@example.com" for i in range(5)]
            harness.add_audience(newer, t0 + 3600)
            contacts, batches = _pull_audience(frozen(connector, t0 + 2 * DAY), state)
            again = {c.email.strip().lower() for c in contacts}
            assert not again & set(yielded), f"a resumed audience pull yielded again {sorted(again & set(yielded))[:5]}"
            assert set(newer) <= again, f"a resumed audience pull missed {sorted(set(newer) - again)}"
            # and the state moved on: the first contacts stay behind it (the newer ones may
            # come again if they are within the connector's overlap of the state)
            state = _last_state(batches, state)
            contacts, _ = _pull_audience(frozen(connector, t0 + 4 * DAY), state)
            again = {c.email.strip().lower() for c in contacts}
            assert not again & set(first), f"a third audience pull yielded again {sorted(again & set(first))[:5]}"
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
        assert not [s for s in harness.secrets if s in str(err.value)]
        # the message says what to fix: the variable that holds the refused credential
        env = connector.account.credential_env
        assert env and env in str(err.value), f"{err.value} does not name {env}"

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
