from pathlib import Path

import pytest

from pressure_sdk.errors import LedgerError
from pressure_sdk.ledger import Ledger, event_uid
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch

T0 = 1_780_000_000


def touch(i: int, email: str = "a@x.com", at: int = T0, **kw: object) -> Touch:
    return Touch(f"t{i}", email, kw.get("channel", "email"), kw.get("brand", "acme"), kw.get("family", "marketing"), at)  # type: ignore[arg-type]


def test_ingest_counts_new_rows_only_and_is_idempotent() -> None:
    led = Ledger()
    batch = Batch(touches=[touch(1), touch(2, at=T0 + 60), touch(3, "b@x.com")])
    first = led.ingest(batch, account="acc")
    second = led.ingest(batch, account="acc")
    assert (first.touches_added, second.touches_added) == (3, 0)
    assert led.count("touches") == 3
    assert led.count("contacts") == 2
    # the same event id from another account is another event
    assert led.ingest(Batch(touches=[touch(1)]), account="other").touches_added == 1


def test_event_uid_is_stable_and_account_scoped() -> None:
    assert event_uid("a", "e1") == event_uid("a", "e1")
    assert event_uid("a", "e1") != event_uid("b", "e1")
    assert 0 <= event_uid("a", "e1") < 2**63


def test_touches_of_reads_a_half_open_window_across_buckets() -> None:
    led = Ledger()
    times = [T0 - 30 * 86400, T0 - 7 * 86400, T0 - 86400, T0, T0 + 1]
    led.ingest(Batch(touches=[touch(i, at=t) for i, t in enumerate(times)]), account="acc")
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    got = [row[0] for row in led.touches_of(cid, T0 - 7 * 86400, T0)]
    assert got == [T0 - 86400, T0]


def test_emails_are_normalized() -> None:
    led = Ledger()
    led.ingest(Batch(touches=[touch(1, " A@X.com ".strip().lower()), touch(2, "a@x.com")]), account="acc")
    assert led.count("contacts") == 1
    assert led.contact("  A@X.COM ") is not None


def test_consent_latest_event_wins_whatever_the_order() -> None:
    led = Ledger()
    unsub = Engagement("e1", "a@x.com", "unsubscribe", T0, "email")
    resub = Engagement("e2", "a@x.com", "resubscribe", T0 + 10, "email")
    led.ingest(Batch(engagements=[resub]), account="acc")
    led.ingest(Batch(engagements=[unsub]), account="acc")
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    assert led.consent_of(cid) == {"email": ("subscribed", T0 + 10)}
    led.ingest(Batch(engagements=[Engagement("e3", "a@x.com", "complaint", T0 + 20, "email")]), account="acc")
    assert led.consent_of(cid)["email"] == ("complained", T0 + 20)


def test_contact_updates_merge_attributes_and_keep_external_id() -> None:
    led = Ledger()
    led.ingest(
        Batch(contacts=[ContactUpdate("a@x.com", "Asia/Tokyo", None, {"max_per_week": 2}, "hs-1")]), account="hs"
    )
    led.ingest(Batch(contacts=[ContactUpdate("a@x.com", None, T0, {"vip": "yes"})]), account="hs")
    c = led.contact("a@x.com")
    assert c is not None
    assert c.timezone == "Asia/Tokyo"
    assert c.paused_until == T0
    assert c.attributes == {"max_per_week": 2, "vip": "yes"}
    assert [m.external_id for m in led.members("hs", [c.id])] == ["hs-1"]


def test_watermark_moves_only_with_its_batch() -> None:
    led = Ledger()
    led.ingest(Batch(touches=[touch(1)], state={"page": 1}), account="acc")
    assert led.watermark("acc") == {"page": 1}

    class Boom(Exception):
        pass

    bad = Batch(touches=[touch(2)], state={"page": 2})
    original = led._ingest

    def failing(*args: object, **kw: object) -> object:
        original(*args, **kw)  # type: ignore[arg-type]
        raise Boom

    led._ingest = failing  # type: ignore[method-assign]
    with pytest.raises(Boom):
        led.ingest(bad, account="acc")
    led._ingest = original  # type: ignore[method-assign]
    assert led.watermark("acc") == {"page": 1}
    assert led.count("touches") == 1


def test_list_members_record_confirmed_batches() -> None:
    led = Ledger()
    led.ingest(Batch(touches=[touch(1), touch(2, "b@x.com")]), account="acc")
    a, b = led.contact("a@x.com").id, led.contact("b@x.com").id  # type: ignore[union-attr]
    led.confirm_push("acc", "l", [a, b], [])
    led.confirm_push("acc", "l", [], [a])
    assert led.list_members("acc", "l") == {b}
    assert [m.email for m in led.members("acc", [a, b])] == ["a@x.com", "b@x.com"]


def test_forget_erases_every_trace_and_tombstone_blocks_reimport(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    led = Ledger(path)
    email = "erase.me@example.org"
    batch = Batch(
        touches=[touch(1, email), touch(2, "keep@example.org")],
        engagements=[Engagement("e1", email, "unsubscribe", T0, "email")],
        contacts=[ContactUpdate(email, "Europe/Paris", None, {"nickname": "secret-nick"}, "ext-erase")],
    )
    led.ingest(batch, account="acc")
    cid = led.contact(email).id  # type: ignore[union-attr]
    led.confirm_push("acc", "l", [cid], [])
    assert led.forget(email) is True
    assert led.contact(email) is None
    assert led.count("touches") == 1
    assert led.list_members("acc", "l") == set()
    led.close()
    for f in tmp_path.iterdir():
        data = f.read_bytes()
        assert email.encode() not in data, f.name
        assert b"secret-nick" not in data, f.name
        assert b"ext-erase" not in data, f.name
    led = Ledger(path)
    again = led.ingest(batch, account="acc")
    assert again.skipped_erased == 1
    assert led.contact(email) is None
    assert led.count("contacts") == 1
    assert led.forget("never.seen@example.org") is False


def test_not_a_ledger_file_gives_ledger_error(tmp_path: Path) -> None:
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger(p)


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    p = tmp_path / "l.db"
    Ledger(p).close()
    led = Ledger(p)
    rows = led.conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set='pressure_sdk'").fetchall()
    assert rows == [("0001_initial",)]


def test_window_query_uses_the_primary_key() -> None:
    led = Ledger()
    plan = led.conn.execute(
        "EXPLAIN QUERY PLAN SELECT at FROM touches WHERE bucket IN (1,2) AND contact_id = 1 AND at > 0 AND at <= 9"
    ).fetchall()
    detail = " ".join(r[-1] for r in plan)
    assert "USING PRIMARY KEY" in detail and "SCAN" not in detail
