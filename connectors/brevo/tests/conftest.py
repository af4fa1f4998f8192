"""Shared fixture: a started Brevo sandbox with budgets no test meets unless it sets its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pressure_connector_brevo.testing import GENEROUS_LIMITS, BrevoSandbox


@pytest.fixture
def sandbox() -> Iterator[BrevoSandbox]:
    sb = BrevoSandbox(limits=GENEROUS_LIMITS)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
