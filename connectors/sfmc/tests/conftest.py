"""Shared fixture: a started SFMC sandbox with budgets no test meets unless it sets its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pressure_connector_sfmc.testing import GENEROUS_LIMITS, SfmcSandbox


@pytest.fixture
def sandbox() -> Iterator[SfmcSandbox]:
    sb = SfmcSandbox(limits=GENEROUS_LIMITS, async_polls=1)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
