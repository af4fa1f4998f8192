"""What a connector is: a subclass with a settings model and three hooks."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from ..config import AccountConfig, ListConfig, WorkspaceConfig, format_validation_error
from ..errors import ConfigError
from ..ledger.store import Member
from ..models import ENGAGEMENT_TYPES, Batch


@dataclass(slots=True)
class PushBatch:
    """Contact ids the platform confirmed added to and removed from one list.

    ``missing`` holds contacts the platform does not know (they cannot be added; the
    next run tries again), and ``external_ids`` the platform ids the push learned, which
    the ledger keeps as identities so later pushes need no lookup.
    """

    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    external_ids: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class RemoteMember:
    """One member of a platform's list as the platform reports it (email, its own id, or both)."""

    email: str | None = None
    external_id: str | None = None


@dataclass(slots=True)
class RemoteList:
    """What a platform holds for one suppression list.

    ``exists`` is False when the list is gone (deleted by hand, a lost output file).
    ``size`` is the platform's member count when it is cheap to know (None otherwise).
    ``members`` is filled when the full membership was asked for, or when knowing it
    costs nothing more (a file read whole anyway).
    """

    exists: bool
    size: int | None = None
    members: list[RemoteMember] | None = None


class Connector(ABC):
    """Base class of every platform connector.

    A subclass sets :attr:`name` and :attr:`settings_model` and implements
    :meth:`check`, :meth:`pull` and :meth:`push`. It is registered under the
    ``pressure_sdk.connectors`` entry-point group of its distribution.
    """

    #: connector name used in the workspace file (``connector = "files"``)
    name: ClassVar[str]
    #: pydantic model validating ``[accounts.settings]``
    settings_model: ClassVar[type[BaseModel]]
    #: largest number of list changes the platform accepts in one call
    max_batch: ClassVar[int] = 10_000
    #: the workspace's frozen ``now`` (epoch seconds), if it sets one
    clock: int | None = None
    #: engagement types the workspace accepts: the built-in ones and its declared
    #: relationship types (``[value] relationship``); a parser may refuse any other early
    engagement_types: frozenset[str] = ENGAGEMENT_TYPES

    def __init__(self, account: AccountConfig, settings: Any, *, base_dir: Path, timezone: str) -> None:
        self.account = account
        self.settings = settings
        self.base_dir = base_dir
        self.timezone = timezone

    @classmethod
    def from_account(cls, account: AccountConfig, cfg: WorkspaceConfig, index: int | None = None) -> Connector:
        """Validate the account's settings; errors name the account's key path."""
        try:
            settings = cls.settings_model.model_validate(account.settings)
        except ValidationError as exc:
            where = f"accounts[{index}].settings" if index is not None else f"account {account.name!r} settings"
            text = format_validation_error("", exc).splitlines()[1:]
            lines = [f"  {where}.{line.strip()}" for line in text]
            msg = "\n".join([f"{cfg.source}: invalid settings for connector {cls.name!r}", *lines])
            raise ConfigError(msg) from None
        conn = cls(account, settings, base_dir=cfg.base_dir, timezone=cfg.workspace.timezone)
        conn.clock = cfg.clock
        conn.engagement_types = cfg.engagement_types
        return conn

    def now(self) -> float:
        """The current time for windows of pulls: the workspace's ``now`` when it sets one, else the clock.

        A workspace frozen at an instant (a demo, a replay) pulls the same windows whatever
        day it runs. Tests and the contract kit replace this method.
        """
        return float(self.clock) if self.clock is not None else time.time()

    def resolve(self, path: str) -> Path:
        """A path from the account's settings, relative to the workspace file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    @abstractmethod
    def check(self) -> str:
        """Try the connection; return what was checked, or raise ConnectorError."""

    @abstractmethod
    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Yield batches of events newer than ``state``, each carrying the state that covers it."""

    @abstractmethod
    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Apply adds and removes to the platform's list; yield each batch once confirmed.

        ``members`` is the whole list as it should be after the push.
        """

    def pull_audience(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Yield batches of the contacts the account holds on its platform (DESIGN §6.4).

        Each batch holds :class:`~pressure_sdk.models.ContactUpdate` rows with the
        platform's id and subscription status, and the state that covers it (kept apart
        from :meth:`pull`'s watermark). Incremental where the platform allows it: with a
        state, only contacts changed since. The default yields nothing: a connector whose
        :meth:`pull` already reads the contacts (``files``) or that cannot list them.
        """
        return iter(())

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList | None:
        """The platform's list as it is now, to detect and repair drift (DESIGN §6.5).

        Without ``full``, a cheap look: does it exist, and its size if cheap. With
        ``full``, every member too. None means the connector cannot inspect lists (the
        sync then trusts the last confirmed state).
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions or files."""
