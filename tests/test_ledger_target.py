"""The workspace's `ledger` names a SQLite file or a PostgreSQL URL; open_ledger opens either."""

from __future__ import annotations

from pathlib import Path

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger, is_url, open_ledger
from pressure_sdk.ledger.postgres import PostgresLedger
from pressure_sdk.models import Batch, Touch


def test_a_url_is_kept_as_written_and_a_path_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    url = "postgresql://pressure@db.internal:5433/ledger"
    cfg = parse_config({"workspace": {"ledger": url}, "brands": {"acme": {}}}, base_dir=tmp_path)
    assert cfg.ledger_target == url
    cfg = parse_config({"workspace": {"ledger": "data/l.db"}, "brands": {"acme": {}}}, base_dir=tmp_path)
    assert cfg.ledger_target == tmp_path / "data" / "l.db" == cfg.ledger_path
    assert is_url("postgres://x/y") and not is_url("postgresql.db") and not is_url(tmp_path / "postgresql:")


def test_open_ledger_opens_the_backend_the_target_names(tmp_path: Path, postgres_url: str) -> None:
    touch = Touch("t1", "a@x.com", "email", "acme", "marketing", 1_780_000_000)
    with open_ledger(tmp_path / "l.db") as led:
        assert type(led) is Ledger and led.ingest(Batch(touches=[touch]), account="acc").touches_added == 1
    with open_ledger(postgres_url) as led:
        assert isinstance(led, PostgresLedger)
        assert led.ingest(Batch(touches=[touch]), account="acc").touches_added == 1
    with open_ledger(postgres_url) as led:
        assert led.count("touches") == 1
