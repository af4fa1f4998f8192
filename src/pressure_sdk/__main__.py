"""``python -m pressure_sdk``: the ``pressure-sync`` command."""

from .cli import main

main()
