"""A slow in-process connector, and ``pressure-sync`` with it registered, for tests of a run
seen from outside: progress on a terminal and in cron logs, signals, exit codes.

``python -m tests.slow_platform run --config PATH ...`` is ``pressure-sync`` with the
``slow`` connector installed. Its pull yields ``batches`` batches of ``batch_size``
touches, ``delay`` seconds apart; it may announce its total (``announce``), wait for a
pretend rate limit before batch ``wait_at``, or block ``block`` seconds in batch
``block_at`` (a request that hangs). Its push confirms ``max_batch`` changes at a time,
``push_delay`` seconds apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pressure_sdk import progress
from pressure_sdk.config import ListConfig
from pressure_sdk.connectors import Connector, PushBatch, register
from pressure_sdk.ledger import Member
from pressure_sdk.models import Batch, Touch

#: 2026-11-16T11:00:00Z, the workspaces' ``now``
NOW = 1_794_826_800


class SlowSettings(BaseModel):
    batches: int = 5
    batch_size: int = 10
    delay: float = 0.2
    announce: bool = False
    wait_at: int | None = None
    wait: float = 0.5
    block_at: int | None = None
    block: float = 0.0
    push_delay: float = 0.0


class SlowConnector(Connector):
    name = "slow"
    settings_model = SlowSettings
    max_batch = 10

    def check(self) -> str:
        return "slow and steady"

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        s = self.settings
        start = (state or {}).get("next", 0)
        if s.announce:
            progress.expect((s.batches - start) * s.batch_size)
        for b in range(start, s.batches):
            if s.wait_at == b:
                progress.report_wait(s.wait, "rate limit")
                time.sleep(s.wait)
            if s.block_at == b:
                time.sleep(s.block)
            time.sleep(s.delay)
            touches = [
                Touch(
                    f"{self.account.name}-{i}",
                    f"c{i % 40}@x.com",
                    "email",
                    self.account.brand or "acme",
                    "marketing",
                    NOW - 3600 - i * 60,
                )
                for i in range(b * s.batch_size, (b + 1) * s.batch_size)
            ]
            yield Batch(touches=touches, state={"next": b + 1})

    def push(
        self, lst: ListConfig, adds: Sequence[Member], removes: Sequence[Member], members: Sequence[Member]
    ) -> Iterator[PushBatch]:
        for i in range(0, max(len(adds), len(removes)), self.max_batch):
            time.sleep(self.settings.push_delay)
            a, r = adds[i : i + self.max_batch], removes[i : i + self.max_batch]
            yield PushBatch([m.contact_id for m in a], [m.contact_id for m in r])


def workspace(root: Path, **settings: Any) -> Path:
    """A workspace of one ``slow`` account with one list, in ``root``; returns its config file."""
    root.mkdir(parents=True, exist_ok=True)
    inline = ", ".join(f"{k} = {_toml(v)}" for k, v in settings.items())
    (root / "pressure.toml").write_text(
        f"""
[workspace]
ledger = "ledger.db"
now = "2026-11-16T11:00:00Z"

[brands.acme]

[[accounts]]
name = "acme"
connector = "slow"
brand = "acme"
settings = {{ {inline} }}
lists = [{{ name = "acme-mkt" }}]

[[rules]]
id = "weekly"
kind = "cap"
max = 1
window = "7d"
families = ["marketing"]
"""
    )
    return root / "pressure.toml"


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


if __name__ == "__main__":
    register("slow", SlowConnector)
    from pressure_sdk.cli import main

    main()
