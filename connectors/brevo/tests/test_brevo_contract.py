"""The SDK's connector contract, run against the Brevo sandbox."""

from __future__ import annotations

from typing import Any, ClassVar

from pressure_connector_brevo import BrevoConnector
from pressure_connector_brevo.testing import GENEROUS_LIMITS, BrevoSandbox

from pressure_sdk.testing import ContractHarness, connector_contract


class BrevoHarness(ContractHarness):
    connector_cls = BrevoConnector
    push_path: ClassVar[str | None] = "/contacts/lists"
    inspects_lists: ClassVar[bool] = True
    has_audience: ClassVar[bool] = True

    def start(self) -> None:
        self.sandbox = BrevoSandbox(limits=GENEROUS_LIMITS, import_polls=1).start()
        self.sandbox.add_list("seen-before")  # the lookup must skip other lists
        super().start()

    @property
    def sb(self) -> BrevoSandbox:
        assert isinstance(self.sandbox, BrevoSandbox)
        return self.sandbox

    def account(self) -> dict[str, Any]:
        return {
            "base_url": self.sb.url,
            "settings": {
                "events_page_size": 25,
                "contacts_page_size": 10,
                "lists_page_size": 1,
                "import_poll_interval": 0,
                # the push-failure test does not record sleeps: keep real backoff short
                "retry": {"backoff": 0.01, "max_backoff": 0.02},
            },
        }

    def add_events(self, n: int, start: int, end: int) -> int:
        """Alternate a transactional send with a campaign send that is opened: 1 or 2 ledger rows each."""
        rows = 0
        campaign = self.sb.campaign("contract")
        step = (end - start) / max(1, n)
        for i in range(n):
            at = int(start + i * step)
            email = f"contract-{start}-{i % 17}@example.com"
            if i % 2:
                self.sb.add_event(email, "requests", at, message_id=f"<{start}-{i}@contract>")
                rows += 1
            else:
                # a distinct campaign per event: opens are one entry per contact and campaign
                cid = self.sb.campaign(f"contract-{start}-{i}") if i else campaign
                self.sb.add_event(email, "messagesSent", at, campaign=cid)
                self.sb.add_event(email, "opened", at + 60, campaign=cid)
                rows += 2
        return rows

    def prepare_contacts(self, emails: list[str]) -> None:
        for email in emails:
            self.sb.add_contact(email)

    def members(self, list_name: str) -> set[str]:
        return self.sb.list_members(list_name)

    def add_audience(self, emails: list[str], at: int | None = None) -> None:
        for email in emails:
            self.sb.add_contact(email, at=at)

    def push_requests(self) -> int:
        # only the add/remove calls: the list lookup is not a push
        return sum(
            1 for r in self.sb.requests if r.method == "POST" and r.path.endswith(("/contacts/add", "/contacts/remove"))
        )


TestBrevoContract = connector_contract(BrevoHarness)
