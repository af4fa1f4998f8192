"""The SDK's connector contract, run against the Mailchimp sandbox: reads one GET at a time, and through /batches."""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from pressure_connector_mailchimp import MailchimpConnector
from pressure_connector_mailchimp.testing import MailchimpSandbox

from pressure_sdk.testing import ContractHarness, connector_contract

#: recipients per campaign the harness creates
PER_CAMPAIGN = 30
SEGMENT_CALL = re.compile(r"/segments/\d+$")


class MailchimpHarness(ContractHarness):
    connector_cls = MailchimpConnector
    push_path: ClassVar[str | None] = "/segments/"
    inspects_lists: ClassVar[bool] = True
    has_audience: ClassVar[bool] = True
    #: reads go through POST /batches from this many pages on (0: never)
    batch_min_operations: ClassVar[int] = 0

    def start(self) -> None:
        self.sandbox = MailchimpSandbox().start()
        # the lookup must skip other segments; its member changed long before any pull's window
        self.sb.add_member("someone@example.com", at=1_000_000_000)
        self.sb.add_segment("seen-before", ["someone@example.com"])
        super().start()

    @property
    def sb(self) -> MailchimpSandbox:
        assert isinstance(self.sandbox, MailchimpSandbox)
        return self.sandbox

    def account(self) -> dict[str, Any]:
        return {
            "base_url": self.sb.url,
            "settings": {
                "list_id": self.sb.list_id,
                "page_size": 10,
                "batch_min_operations": self.batch_min_operations,
                "batch_max_operations": 7,
                "batch_poll_interval": 0,
                # the push-failure test does not record sleeps: keep real backoff short
                "retry": {"backoff": 0.01, "max_backoff": 0.02},
            },
        }

    def add_events(self, n: int, start: int, end: int) -> int:
        """Campaigns of up to 30 recipients sent between ``start`` and ``end``; every third recipient opens."""
        rows = 0
        campaigns = math.ceil(n / PER_CAMPAIGN)
        step = (end - start) / max(1, campaigns)
        for c in range(campaigns):
            at = int(start + c * step)
            emails = [f"contract-{start}-{c}-{j}@example.com" for j in range(min(PER_CAMPAIGN, n - c * PER_CAMPAIGN))]
            cid = self.sb.add_campaign(f"contract-{start}-{c}", at, emails)
            rows += len(emails)
            for j, email in enumerate(emails):
                if j % 3 == 0:
                    self.sb.add_activity(cid, email, "open", at + 60)
                    rows += 1
        return rows

    def prepare_contacts(self, emails: list[str]) -> None:
        for email in emails:
            self.sb.add_member(email)

    def members(self, list_name: str) -> set[str]:
        return self.sb.segment_members(list_name)

    def add_audience(self, emails: list[str], at: int) -> None:
        for email in emails:
            self.sb.add_member(email, at=at)

    def push_requests(self) -> int:
        # the segment calls only: creating missing members and the segment lookup are not list changes
        return sum(1 for r in self.sb.requests if r.method == "POST" and SEGMENT_CALL.search(r.path))


class MailchimpBatchedHarness(MailchimpHarness):
    batch_min_operations: ClassVar[int] = 1


TestMailchimpContract = connector_contract(MailchimpHarness)
TestMailchimpBatchedContract = connector_contract(MailchimpBatchedHarness)
