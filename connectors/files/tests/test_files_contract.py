"""The SDK's connector contract, run against the files connector."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any

from pressure_connector_files import FilesConnector

from pressure_sdk.testing import ContractHarness, connector_contract


class FilesHarness(ContractHarness):
    connector_cls = FilesConnector
    http = False
    # the list files are read back; the audience is the contacts export, read by pull
    inspects_lists = True

    files = 0

    def start(self) -> None:
        # an export folder as the platform leaves it before anything was sent: one empty export
        super().start()
        self.add_events(0, 0, 0)

    def account(self) -> dict[str, Any]:
        # small batches, so that the events of one file span several
        return {"settings": {"touches": "in/touches-*.csv", "out_dir": "out", "batch_size": 10}}

    def add_events(self, n: int, start: int, end: int) -> int:
        self.files += 1
        folder = self.tmp_path / "in"
        folder.mkdir(exist_ok=True)
        with (folder / f"touches-{self.files:03d}.csv").open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["event_id", "email", "channel", "brand", "family", "sent_at"])
            for i in range(n):
                at = start + (end - start) * i // max(1, n)
                when = datetime.fromtimestamp(at, UTC).isoformat()
                out.writerow([f"f{self.files}-{i}", f"p{i % 17}@example.com", "email", "contract", "marketing", when])
        return n

    def members(self, list_name: str) -> set[str]:
        with (self.tmp_path / "out" / f"{list_name}.csv").open(newline="") as f:
            return {row["email"] for row in csv.DictReader(f)}


TestFilesContract = connector_contract(FilesHarness)
