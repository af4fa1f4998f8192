"""List sinks: find-or-create, chunking at the platform's sizes, id resolution, deferred creation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from kit_helpers import DemoConnector, make

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors import ListSink, PushBatch, Targets, contact_ids
from pressure_sdk.errors import ConnectorError
from pressure_sdk.ledger import Member

LIST = ListConfig(name="acme-pressure")


def members(n: int, start: int = 1, ext: bool = False) -> list[Member]:
    return [Member(i, f"User{i}@Example.com", f"x{i}" if ext else None) for i in range(start, start + n)]


class Recorder(ListSink[str]):
    """A fake platform in memory: records every call the kit makes."""

    batch_size = 3
    remove_batch_size = 2
    known: ClassVar[set[str]] = set()

    def __init__(self, connector: Any) -> None:
        super().__init__(connector)
        self.calls: list[tuple[str, Any]] = []
        self.lists: dict[str, str] = {"existing": "L1"}

    def find(self, name: str) -> str | None:
        self.calls.append(("find", name))
        return self.lists.get(name)

    def create(self, name: str) -> str:
        self.calls.append(("create", name))
        self.lists[name] = f"L{len(self.lists) + 1}"
        return self.lists[name]

    def find_ids(self, emails: Sequence[str]) -> Mapping[str, str]:
        self.calls.append(("find_ids", list(emails)))
        return {e: f"id-{e.split('@')[0]}" for e in emails if e not in self.known}

    def add(self, handle: str, targets: Targets) -> PushBatch:
        self.calls.append(("add", (handle, list(targets))))
        return PushBatch(added=contact_ids(targets))

    def remove(self, handle: str, targets: Targets) -> PushBatch:
        self.calls.append(("remove", (handle, list(targets))))
        return PushBatch(removed=contact_ids(targets))


def sink_of(cls: type[ListSink[Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DEMO_TOKEN", "t" * 12)

    class Demo(DemoConnector):
        sink_class = cls

    return make(Demo)


def test_adds_then_removes_in_the_platform_sizes_one_batch_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    connector = sink_of(Recorder, monkeypatch)
    batches = list(connector.push(LIST, members(7), members(3, start=20), []))
    sink = connector.sink
    assert sink.calls[:2] == [("find", "acme-pressure"), ("create", "acme-pressure")]
    calls = [(kind, len(keys)) for kind, (_, keys) in sink.calls[2:]]
    assert calls == [("add", 3), ("add", 3), ("add", 1), ("remove", 2), ("remove", 1)]
    assert sink.calls[2][1] == ("L2", ["user1@example.com", "user2@example.com", "user3@example.com"])
    assert [len(b.added) for b in batches] == [3, 3, 1, 0, 0] and [len(b.removed) for b in batches][3:] == [2, 1]
    # the list is found once per connector, then cached
    list(connector.push(LIST, members(1), [], []))
    assert [c for c in sink.calls if c[0] in ("find", "create")] == [
        ("find", "acme-pressure"),
        ("create", "acme-pressure"),
    ]


def test_a_list_that_cannot_take_writes_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    class Picky(Recorder):
        def validate(self, name: str, handle: str) -> None:
            if handle == "L1":
                raise ConnectorError(f"list {name!r} is computed by the platform")

    connector = sink_of(Picky, monkeypatch)
    with pytest.raises(ConnectorError, match="computed"):
        list(connector.push(ListConfig(name="existing"), members(2), [], []))
    assert [kind for kind, _ in connector.sink.calls] == ["find"]
    connector.sink.remember("existing", "L9")  # an inspection saw it elsewhere
    assert connector.sink.open("existing") == "L9"
    connector.sink.remember("existing", None)  # gone: found again next time
    with pytest.raises(ConnectorError):
        connector.sink.open("existing")


class Lookup(Recorder):
    """Ids by lookup, 2 emails per lookup; adds and removes in one call of up to 3 each."""

    batch_size = 3
    find_size = 2
    combined = True
    known: ClassVar[set[str]] = {"user2@example.com", "user3@example.com"}  # unknown to the platform

    def add_and_remove(self, handle: str, adds: Targets, removes: Targets) -> PushBatch:
        self.calls.append(("add_and_remove", (list(adds), list(removes))))
        return PushBatch(added=contact_ids(adds), removed=contact_ids(removes))


def test_ids_are_looked_up_just_in_time_and_unknown_contacts_cost_no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    connector = sink_of(Lookup, monkeypatch)
    connector.sink.lists["acme-pressure"] = "L7"
    adds = members(5) + members(1, start=50, ext=True)
    removes = [Member(3, "user3@example.com", None), Member(60, "user60@example.com", "x60")]
    batches = list(connector.push(LIST, adds, removes, []))
    calls = [c for c in connector.sink.calls if c[0] != "find"]
    assert calls == [
        ("find_ids", ["user1@example.com", "user2@example.com"]),
        ("find_ids", ["user3@example.com", "user4@example.com"]),
        ("find_ids", ["user5@example.com"]),  # the call is full once 3 ids are known
        ("find_ids", ["user3@example.com"]),  # the removes of the same call
        ("add_and_remove", (["id-user1", "id-user4", "id-user5"], ["x60"])),
        ("add_and_remove", (["x50"], [])),  # a stored id needs no lookup
    ]
    first = batches[0]
    assert first.added == [1, 4, 5] and first.missing == [2, 3]
    assert first.removed == [3, 60], "a contact the platform does not have is off its list already"
    assert first.external_ids == {1: "id-user1", 4: "id-user4", 5: "id-user5"}
    assert batches[1].added == [50] and batches[1].external_ids == {}


class Creator(Recorder):
    """Adds fail for contacts the platform does not know; they are created after the adds."""

    batch_size = 2

    def add(self, handle: str, targets: Targets) -> PushBatch:
        self.calls.append(("add", list(targets)))
        unknown = [ms[0] for key, ms in targets.items() if key.startswith("user2")]
        self.defer(unknown)
        return PushBatch(added=[m.contact_id for key, ms in targets.items() if ms[0] not in unknown for m in ms])

    def create_missing(self, handle: str, members: Sequence[Member]) -> Iterator[PushBatch]:
        self.calls.append(("create_missing", [m.contact_id for m in members]))
        yield PushBatch(added=[m.contact_id for m in members])


def test_members_deferred_by_an_add_are_created_after_the_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    connector = sink_of(Creator, monkeypatch)
    batches = list(connector.push(LIST, members(3) + [Member(21, "user21@x.com", None)], members(1, start=9), []))
    kinds = [kind for kind, _ in connector.sink.calls]
    assert kinds == ["find", "create", "add", "add", "remove", "create_missing"]
    assert [b.added for b in batches] == [[1], [3], [], [2, 21]]
    assert batches[2].removed == [9]


def test_by_default_deferred_members_are_reported_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    class Plain(Creator):
        create_missing = ListSink.create_missing  # type: ignore[assignment]

    connector = sink_of(Plain, monkeypatch)
    batches = list(connector.push(LIST, members(2), [], []))
    assert batches[-1].missing == [2] and batches[0].added == [1]


def test_a_connector_without_a_sink_says_so() -> None:
    connector = DemoConnector.__new__(DemoConnector)
    with pytest.raises(NotImplementedError, match="sink_class"):
        _ = connector.sink
