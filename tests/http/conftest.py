"""Fixtures of the kit's unit tests."""

from __future__ import annotations

import pytest
from kit_helpers import TOKEN


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo connector's credential in its variable."""
    monkeypatch.setenv("DEMO_TOKEN", TOKEN)
