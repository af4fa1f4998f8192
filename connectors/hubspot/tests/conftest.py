"""Fixtures shared by the HubSpot connector's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pressure_connector_hubspot.testing import HubSpotSandbox


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox on a free localhost port."""
    sb = HubSpotSandbox().start()
    try:
        yield sb
    finally:
        sb.stop()
