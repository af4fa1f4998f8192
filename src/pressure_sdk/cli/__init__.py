"""``pressure-sync``: thin commands over the SDK. Exit codes: 0 ok, 1 failure, 2 config/usage.

One module per group of commands; importing them registers them on :data:`cli`.
"""

from __future__ import annotations

from . import admin, contact, decide, experiment, init, recommend, report, run, status, why  # noqa: F401 - registers the commands
from .base import cli


def main() -> None:
    """Entry point of the ``pressure-sync`` console script."""
    cli()


__all__ = ["cli", "main"]
