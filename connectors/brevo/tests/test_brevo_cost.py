"""What the campaign pull costs, counted by the sandbox: per run, proportional to what moved.

The connector reads ``campaignStats`` (the only per-contact source with event times) only for
contacts of the lists that campaigns sent within the horizon went to, and only when one of
those campaigns' statistics moved since the last pass. The figures in the README come from here.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_brevo import BrevoConnector
from pressure_connector_brevo.testing import BrevoSandbox

from pressure_sdk.config import parse_config
from pressure_sdk.models import Batch

ENV = "BREVO_COST_KEY"
T = int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp())
DAY = 86400
#: contacts that got the newsletter, and contacts only ever sent transactional mail
READERS, OTHERS = 1000, 1000


class World:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.time = float(T)
        self.sb = BrevoSandbox(limits={}, clock=lambda: self.time).start()
        monkeypatch.setenv(ENV, self.sb.credential)
        self.tmp_path = tmp_path
        newsletter = self.sb.add_list("newsletter")
        self.campaign = self.sb.campaign("march", lists=(newsletter,))
        for i in range(READERS):
            self.sb.add_event(f"reader{i:04d}@example.com", "messagesSent", T - 2 * DAY, campaign=self.campaign)
        for i in range(OTHERS):
            self.sb.add_contact(f"buyer{i:04d}@example.com", at=T - 40 * DAY)
        self.state: dict[str, Any] | None = None
        self.opens: list[str] = []

    def run(self) -> Counter[str]:
        """One pull, as the sync runs it; the requests it made, by kind."""
        cfg = parse_config(
            {
                "brands": {"velo": {}},
                "accounts": [
                    {
                        "name": "velo-brevo",
                        "connector": "brevo",
                        "brand": "velo",
                        "credential_env": ENV,
                        "base_url": self.sb.url,
                        "settings": {"backfill_days": 30},
                    }
                ],
            },
            base_dir=self.tmp_path,
        )
        connector = BrevoConnector.from_account(cfg.accounts[0], cfg, 0)
        connector.now = lambda: self.time  # type: ignore[method-assign]
        before = len(self.sb.requests)
        batches: list[Batch] = list(connector.pull(self.state))
        connector.close()
        self.state = [b.state for b in batches if b.state][-1]
        self.opens = [e.email for b in batches for e in b.engagements if e.type == "open"]
        kinds: Counter[str] = Counter()
        for r in self.sb.requests[before:]:
            kinds["campaignStats" if r.path.endswith("/campaignStats") else r.path.removeprefix("/v3")] += 1
        return kinds


def test_the_campaign_pull_reads_only_recipients_and_only_when_statistics_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = World(tmp_path, monkeypatch)
    try:
        first = w.run()
        # one campaign, sent to the newsletter list: its 1,000 readers, not the 1,000 other contacts
        assert first == {"/smtp/statistics/events": 1, "/emailCampaigns": 1, "/contacts": 1, "campaignStats": READERS}
        w.time += 3600
        quiet = w.run()
        # an hour later, nothing moved: no contact is read (was: 2 pages and 2,000 campaignStats)
        assert quiet == {"/smtp/statistics/events": 1, "/emailCampaigns": 1}
        w.sb.add_event("reader0007@example.com", "opened", w.time - 60, campaign=w.campaign)
        w.time += 3600
        moved = w.run()
        # one open moves the campaign: its recipients are read again, the others still not
        assert moved == {"/smtp/statistics/events": 1, "/emailCampaigns": 1, "/contacts": 1, "campaignStats": READERS}
        assert w.opens == ["reader0007@example.com"]
    finally:
        w.sb.stop()
