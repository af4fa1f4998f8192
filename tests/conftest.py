"""Shared fixtures: an in-memory workspace built from a config mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.workspace import Workspace


@pytest.fixture
def make_workspace() -> Iterator[Callable[..., Workspace]]:
    """``make_workspace(rules=[...], families={...}, brands={...}, **sections)`` on ``:memory:``."""
    opened: list[Workspace] = []

    def make(
        rules: list[dict[str, Any]] | None = None,
        families: dict[str, Any] | None = None,
        brands: dict[str, Any] | None = None,
        **sections: Any,
    ) -> Workspace:
        data: dict[str, Any] = {"brands": brands if brands is not None else {"acme": {}}, **sections}
        if rules is not None:
            data["rules"] = rules
        if families is not None:
            data["families"] = families
        ws = Workspace(parse_config(data), Ledger(":memory:"))
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()
