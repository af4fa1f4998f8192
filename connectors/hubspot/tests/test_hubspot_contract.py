"""The SDK's connector contract, run against the HubSpot sandbox."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from pressure_connector_hubspot import HubSpotConnector
from pressure_connector_hubspot.testing import HubSpotSandbox

from pressure_sdk.testing import ContractHarness, connector_contract


class HubSpotHarness(ContractHarness):
    connector_cls = HubSpotConnector
    push_path: ClassVar[str | None] = "/crm/v3/lists/"
    inspects_lists: ClassVar[bool] = True
    has_audience: ClassVar[bool] = True

    def start(self) -> None:
        self.sandbox = HubSpotSandbox().start()
        super().start()

    def account(self) -> dict[str, Any]:
        assert self.sandbox is not None
        # a short backfill keeps the slice count (2 requests each) far below the rate budget;
        # a tiny backoff keeps the 5xx tests that run without recorded sleeps fast
        return {
            "base_url": self.sandbox.url,
            "settings": {"page_size": 25, "backfill_days": 20, "retry": {"backoff": 0.01, "max_backoff": 0.05}},
        }

    def add_events(self, n: int, start: int, end: int) -> int:
        sb = self.sandbox
        assert isinstance(sb, HubSpotSandbox)
        rng = random.Random(n * 7919 + start)
        rows = 0
        for i in range(n):
            at = rng.randint(start * 1000, end * 1000)
            email = f"c{rng.randint(1, 40)}@example.com"
            if i % 3 == 0:
                sb.add_event("OPEN", email, at)  # one engagement
                rows += 1
            else:
                sb.add_send(email, at, campaign=1 + i % 4)  # SENT + PROCESSED + DELIVERED: one touch, one delivered
                rows += 2
        return rows

    def prepare_contacts(self, emails: list[str]) -> None:
        assert isinstance(self.sandbox, HubSpotSandbox)
        for e in emails:
            self.sandbox.add_contact(e)

    def add_audience(self, emails: list[str], at: int) -> None:
        assert isinstance(self.sandbox, HubSpotSandbox)
        for e in emails:
            self.sandbox.add_contact(e, at=at * 1000)

    def members(self, list_name: str) -> set[str]:
        assert isinstance(self.sandbox, HubSpotSandbox)
        return self.sandbox.list_members(list_name)

    def push_requests(self) -> int:
        """Only the membership calls count: lookups of ids and of the list are not list changes."""
        assert self.sandbox is not None
        return sum(1 for r in self.sandbox.requests if r.path.endswith("/memberships/add-and-remove"))


TestHubSpotContract = connector_contract(HubSpotHarness)
