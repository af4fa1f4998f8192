"""pytest plugin (``pytest11`` entry point): fixtures the contract kit and connector tests share."""

from __future__ import annotations

import pytest

from .contract import record_sleeps


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the HTTP toolkit, recorded instead of slept."""
    return record_sleeps(monkeypatch)
