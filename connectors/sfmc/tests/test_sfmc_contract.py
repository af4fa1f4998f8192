"""The SDK's connector contract, run against the SFMC sandbox."""

from __future__ import annotations

from typing import Any, ClassVar

from pressure_connector_sfmc import SfmcConnector
from pressure_connector_sfmc.testing import GENEROUS_LIMITS, SfmcSandbox

from pressure_sdk.testing import ContractHarness, connector_contract


class ReadCounting(SfmcSandbox):
    """The sandbox, with SOAP ``Retrieve`` calls counted as reads.

    The contract kit checks that a pull spans several pages by counting GET requests; SFMC's
    tracking data is read with SOAP ``Retrieve`` (a POST), so those count as the reads they are.
    """

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        if method is not None and method.upper() == "GET":
            retrieves = sum(
                1
                for r in self.requests
                if r.method == "POST"
                and isinstance(r.body, str)
                and "RetrieveRequestMsg" in r.body
                and (path is None or path in r.path)
                and (status is None or r.status == status)
            )
            return super().count(method, path, status) + retrieves
        return super().count(method, path, status)


class SfmcHarness(ContractHarness):
    connector_cls = SfmcConnector
    # the upserts: the synchronous rowset and the asynchronous rows (not their status polls)
    push_path: ClassVar[str | None] = "/rest/data/v1/async/dataextensions/"
    inspects_lists: ClassVar[bool] = True
    has_audience: ClassVar[bool] = True

    def start(self) -> None:
        self.sandbox = ReadCounting(limits=GENEROUS_LIMITS, async_polls=2).start()
        self.sb.add_data_extension("someone-else's", "other-key")  # the lookup must skip other data extensions
        for name, value in self.sb.env(self.credential_env).items():
            self.monkeypatch.setenv(name, value)

    @property
    def sb(self) -> SfmcSandbox:
        assert isinstance(self.sandbox, SfmcSandbox)
        return self.sandbox

    def account(self) -> dict[str, Any]:
        return {
            "base_url": self.sb.url,
            "settings": {
                "batch_size": 25,
                "rowset_page_size": 5,
                "window_hours": 24,
                "async_poll_interval": 0,
                # the push-failure test does not record sleeps: keep real backoff short
                "retry": {"backoff": 0.01, "max_backoff": 0.02},
            },
        }

    def add_events(self, n: int, start: int, end: int) -> int:
        """Sends, opens and clicks of 17 subscribers (keys that are not emails, so they are looked up)."""
        step = (end - start) / max(1, n)
        kinds = ("sent", "open", "click")
        for i in range(n):
            email = f"contract-{start}-{i % 17}@example.com"
            self.sb.add_event(
                kinds[i % 3],
                email,
                int(start + i * step),
                send=f"send-{start}-{i // 3}",
                url=f"https://example.com/{i}",
            )
        return n

    def members(self, list_name: str) -> set[str]:
        return self.sb.emails(f"pressure-{list_name}")

    def add_audience(self, emails: list[str], at: int) -> None:
        for email in emails:
            self.sb.add_subscriber(email, at=at)

    def push_requests(self) -> int:
        return sum(
            1
            for r in self.sb.requests
            if (r.method == "PUT" and "/rest/data/v1/async/dataextensions/" in r.path)
            or (r.method == "POST" and r.path.startswith("/rest/hub/v1/dataevents/"))
        )


TestSfmcContract = connector_contract(SfmcHarness)
