"""Testing kit for connectors: the contract tests, the sandboxes' base, and pytest fixtures.

The sandbox base needs only the standard library (``pressure-sync sandbox`` uses it);
the contract tests need pytest and are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .sandbox import BadRequest, Reply, Sandbox, SandboxRequest, route

_CONTRACT = {"ContractHarness", "connector_contract", "record_sleeps"}


def __getattr__(name: str) -> Any:
    if name in _CONTRACT:
        from . import contract

        return getattr(contract, name)
    raise AttributeError(name)


__all__ = [
    "BadRequest",
    "ContractHarness",
    "Reply",
    "Sandbox",
    "SandboxRequest",
    "connector_contract",
    "record_sleeps",
    "route",
]
