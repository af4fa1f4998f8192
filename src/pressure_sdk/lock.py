"""One run per workspace: an advisory file lock next to the ledger.

``flock`` is released by the kernel when its holder dies, so a stale lock left by a
killed run is simply taken over by the next one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import LockedError
from .ledger import is_url
from .ledger.store import LedgerPathError, path_problem


class WorkspaceLock:
    """The workspace's run lock, ``<ledger>.lock``; holds the holder's pid for the message of the next."""

    def __init__(self, path: str | Path, *, wait: float = 0.0, poll: float = 0.2) -> None:
        self.path = Path(path)
        self.wait = wait
        self.poll = poll
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait`` seconds; raise :class:`LockedError` if another run keeps it.

        A path that cannot be used (a file where its folder should be, a folder this user
        cannot write) raises :class:`~pressure_sdk.ledger.LedgerPathError`.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LedgerPathError(path_problem(self.path, exc, "lock file")) from None
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                    os.close(fd)
                    msg = (
                        f"another pressure-sync run (pid {holder}) holds {self.path}; "
                        "wait for it to finish or pass --wait SECONDS"
                    )
                    raise LockedError(msg) from None
                time.sleep(self.poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the next run in (the kernel does it too if this process dies)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def run_lock(target: str | Path, workspace: str, clients: Sequence[str], *, wait: float = 0.0) -> Any:
    """The lock of one run on a ledger: ``<ledger>.lock`` beside a SQLite file; on a PostgreSQL
    ledger, an advisory lock per workspace and client, so runs of other clients do not wait."""
    if is_url(target):
        from .ledger.postgres import PostgresRunLock

        return PostgresRunLock(str(target), workspace, clients, wait=wait)
    return WorkspaceLock(f"{target}.lock", wait=wait)
