"""Both ledgers offer exactly the interface the rest of the SDK uses (DESIGN §4)."""

from __future__ import annotations

import inspect

from pressure_sdk.ledger import Ledger, LedgerAPI
from pressure_sdk.ledger.postgres import PostgresLedger


def public(cls: type) -> dict[str, inspect.Signature]:
    out = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member):
            continue
        out[name] = inspect.signature(member)
    return out


def test_the_interface_is_the_sqlite_ledgers_public_api_and_postgresql_has_it_with_the_same_signatures() -> None:
    api = public(LedgerAPI)
    sqlite = public(Ledger)
    assert set(api) == set(sqlite), set(api) ^ set(sqlite)
    postgres = public(PostgresLedger)
    missing = set(api) - set(postgres)
    assert not missing, missing
    for name, sig in api.items():
        # same parameter names, kinds and defaults (annotations are strings here)
        def shape(s: inspect.Signature) -> list[tuple[str, object, object]]:
            return [(p.name, p.kind, p.default) for p in s.parameters.values()]

        assert shape(sig) == shape(sqlite[name]) == shape(postgres[name]), name
