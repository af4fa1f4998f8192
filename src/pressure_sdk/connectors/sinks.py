"""List sinks: a suppression list on a platform, declared by its sizes and a few callbacks.

A connector keeps each suppression list through a :class:`ListSink` subclass. It declares
the platform's largest add and remove batch (:attr:`ListSink.batch_size`), how many
contacts one id lookup resolves (:attr:`ListSink.find_size`, 0 when the platform takes
emails), and implements the callbacks: find and create the list, look ids up, add and
remove one batch. The kit does the rest, once for every platform: find-or-create with a
cache, chunking into the largest calls the platform takes (contacts it does not know cost
no room in a call), id resolution just before the call that needs it, learned ids and
unknown contacts reported on the batch, and one :class:`~pressure_sdk.connectors.PushBatch`
yielded per confirmed call, which the sync records at once.

A push is a declaration::

    class AcmeList(ListSink[str]):
        batch_size = 500

        def find(self, name):
            return next((l["id"] for l in self.client.json("GET", "/lists")["lists"] if l["name"] == name), None)
        def create(self, name):
            return self.client.json("POST", "/lists", json={"name": name})["id"]
        def add(self, handle, targets):
            self.client.json("POST", f"/lists/{handle}/members", json={"add": list(targets)}, idempotent=True)
            return PushBatch(added=contact_ids(targets))
        def remove(self, handle, targets):
            ...
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import ConnectorError
from ..ledger.store import Member
from ..models import normalize_email
from .base import PushBatch

if TYPE_CHECKING:
    from ..config import ListConfig
    from ..http import HttpClient
    from .http import HttpConnector

log = logging.getLogger("pressure_sdk.sinks")

L = TypeVar("L")
#: one call's members: the platform's key (its id, or the email) → the ledger contacts behind it
Targets = dict[str, list[Member]]


def contact_ids(targets: Mapping[str, Sequence[Member]], keys: Any = None) -> list[int]:
    """Ledger contact ids of ``targets`` (of only those whose key is in ``keys``, when given)."""
    return [m.contact_id for key, ms in targets.items() if keys is None or key in keys for m in ms]


class ListSink(Generic[L]):
    """One platform's suppression lists as a sink. ``L`` is the platform's list handle (its id, or an object).

    Subclasses set the sizes and implement :meth:`find`, :meth:`create` and either
    :meth:`add` and :meth:`remove` or, with :attr:`combined`, :meth:`add_and_remove`;
    with :attr:`find_size`, also :meth:`find_ids`.
    """

    #: members per add call (the platform's largest batch); per remove call too unless ``remove_batch_size``
    batch_size: int = 100
    #: members per remove call, when it differs
    remove_batch_size: int | None = None
    #: emails per id lookup (:meth:`find_ids`); 0 when calls take emails (or ids computed from them)
    find_size: int = 0
    #: adds and removes travel in one call (:meth:`add_and_remove`), each up to ``batch_size``
    combined: bool = False

    def __init__(self, connector: HttpConnector) -> None:
        self.connector = connector
        self._handles: dict[str, L] = {}
        self._deferred: list[Member] = []

    @property
    def client(self) -> HttpClient:
        """The connector's HTTP client."""
        return self.connector.client

    @property
    def settings(self) -> Any:
        """The connector's validated settings."""
        return self.connector.settings

    # -- find-or-create --------------------------------------------------------------------

    def find(self, name: str) -> L | None:
        """The platform's list called ``name``, or None when there is none. Never creates it."""
        raise NotImplementedError

    def create(self, name: str) -> L:
        """Create the list called ``name`` (after :meth:`find` found none) and return it."""
        raise NotImplementedError

    def validate(self, name: str, handle: L) -> None:
        """Raise :class:`ConnectorError` if the found list cannot take writes (the default accepts any)."""

    def open(self, name: str) -> L:
        """The list called ``name``: cached, else found, else created; validated before first use."""
        handle = self._handles.get(name)
        if handle is None:
            handle = self.find(name)
            if handle is None:
                handle = self.create(name)
            self.validate(name, handle)
            self._handles[name] = handle
        return handle

    def remember(self, name: str, handle: L | None) -> None:
        """Cache a handle seen elsewhere (a list inspection), or forget the list with None (it is gone)."""
        if handle is None:
            self._handles.pop(name, None)
        else:
            self._handles[name] = handle

    # -- id resolution -----------------------------------------------------------------------

    def key(self, member: Member) -> str | None:
        """The platform's key of a member without a lookup: its email (normalized) by default.

        With :attr:`find_size`, the stored platform id (None sends it to :meth:`find_ids`).
        """
        if self.find_size:
            return member.external_id or None
        return normalize_email(member.email)

    def find_ids(self, emails: Sequence[str]) -> Mapping[str, str]:
        """Platform ids of these (normalized) emails, in one lookup; unknown emails are left out."""
        raise NotImplementedError

    # -- callbacks ---------------------------------------------------------------------------

    def add(self, handle: L, targets: Targets) -> PushBatch:
        """Add one batch; return what the platform confirmed (``added``, ``missing``, ``external_ids``)."""
        raise NotImplementedError

    def remove(self, handle: L, targets: Targets) -> PushBatch:
        """Remove one batch; return what the platform confirmed (``removed``)."""
        raise NotImplementedError

    def add_and_remove(self, handle: L, adds: Targets, removes: Targets) -> PushBatch:
        """Both in one call (:attr:`combined` platforms); return what the platform confirmed."""
        raise NotImplementedError

    def defer(self, members: Sequence[Member]) -> None:
        """From :meth:`add`: members the platform does not know, handed to :meth:`create_missing` after the adds."""
        self._deferred.extend(members)

    def create_missing(self, handle: L, members: Sequence[Member]) -> Iterator[PushBatch]:
        """Create deferred members straight into the list; yield each confirmed batch.

        The default creates nothing: they are reported ``missing`` and tried again next run.
        """
        yield PushBatch(missing=[m.contact_id for m in members])

    # -- the push ----------------------------------------------------------------------------

    def push(self, lst: ListConfig, adds: Sequence[Member], removes: Sequence[Member]) -> Iterator[PushBatch]:
        """Apply ``adds`` and ``removes`` in the largest calls the platform takes; yield each confirmed call."""
        handle = self.open(lst.name)
        self._deferred = []
        if self.combined:
            batches = self._combined(handle, list(adds), list(removes))
        else:
            batches = self._separate(handle, list(adds), list(removes))
        for batch in batches:
            self._log_missing(lst, batch)
            yield batch
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            for batch in self.create_missing(handle, deferred):
                self._log_missing(lst, batch)
                yield batch

    def _separate(self, handle: L, adds: list[Member], removes: list[Member]) -> Iterator[PushBatch]:
        i = 0
        while i < len(adds):
            batch, targets, unknown, i = self._fill(adds, i, self.batch_size)
            batch.missing += unknown
            if targets:
                _merge(batch, self.add(handle, targets))
            yield batch
        i = 0
        size = self.remove_batch_size or self.batch_size
        while i < len(removes):
            batch, targets, unknown, i = self._fill(removes, i, size)
            batch.removed += unknown  # a contact the platform does not have is not on its list
            if targets:
                _merge(batch, self.remove(handle, targets))
            yield batch

    def _combined(self, handle: L, adds: list[Member], removes: list[Member]) -> Iterator[PushBatch]:
        ai = ri = 0
        while ai < len(adds) or ri < len(removes):
            batch, to_add, unknown, ai = self._fill(adds, ai, self.batch_size)
            batch.missing += unknown
            gone, to_remove, unknown, ri = self._fill(removes, ri, self.batch_size)
            batch.external_ids.update(gone.external_ids)
            batch.removed += unknown
            if to_add or to_remove:
                _merge(batch, self.add_and_remove(handle, to_add, to_remove))
            yield batch

    def _fill(self, queue: list[Member], i: int, size: int) -> tuple[PushBatch, Targets, list[int], int]:
        """Take members from ``queue[i:]`` until ``size`` platform keys are known (unknown ones cost no room)."""
        batch, targets, unknown = PushBatch(), Targets(), []
        while i < len(queue) and len(targets) < size:
            room = size - len(targets)
            chunk = queue[i : i + (min(self.find_size, room) if self.find_size else room)]
            i += len(chunk)
            keys = {m.contact_id: self.key(m) for m in chunk}
            lookup = sorted({normalize_email(m.email) for m in chunk if keys[m.contact_id] is None})
            found = self.find_ids(lookup) if lookup and self.find_size else {}
            for m in chunk:  # in the caller's order, so calls are reproducible
                key = keys[m.contact_id]
                if key is None and (key := found.get(normalize_email(m.email))) is not None:
                    batch.external_ids[m.contact_id] = key
                if key is None:
                    unknown.append(m.contact_id)
                else:
                    targets.setdefault(key, []).append(m)
        return batch, targets, unknown, i

    def _log_missing(self, lst: ListConfig, batch: PushBatch) -> None:
        if batch.missing:
            log.info(
                "%s: %d contact(s) of list %r are not on the platform; they are retried next run",
                self.connector.account.name,
                len(batch.missing),
                lst.name,
            )


def _merge(into: PushBatch, other: PushBatch) -> None:
    into.added += other.added
    into.removed += other.removed
    into.missing += other.missing
    into.external_ids.update(other.external_ids)


def require(condition: bool, message: str, connector: str) -> None:
    """Raise :class:`ConnectorError` with ``message`` unless ``condition`` holds (for :meth:`ListSink.validate`)."""
    if not condition:
        raise ConnectorError(message, connector=connector)


__all__ = ["ListSink", "Targets", "contact_ids", "require"]
