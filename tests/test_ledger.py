from pathlib import Path
from typing import Any

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


def test_consent_is_a_log_with_the_brand_whatever_the_order() -> None:
    led = Ledger()
    unsub = Engagement("e1", "a@x.com", "unsubscribe", T0, "email")
    resub = Engagement("e2", "a@x.com", "resubscribe", T0 + 10, "email", "acme")
    led.ingest(Batch(engagements=[resub]), account="acc", default_brand="acme")
    led.ingest(Batch(engagements=[unsub]), account="acc", default_brand="acme")
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    assert led.consent_of(cid) == [(T0, "email", "acme", "unsubscribed"), (T0 + 10, "email", "acme", "subscribed")]
    # an opt-out whose brand is unknown binds the whole client; do_not_contact always does
    led.ingest(Batch(engagements=[Engagement("e3", "a@x.com", "complaint", T0 + 20, "sms")]), account="acc")
    led.ingest(Batch(engagements=[Engagement("e4", "a@x.com", "do_not_contact", T0 + 30, "call", "acme")]), account="acc")
    assert led.consent_of(cid)[2:] == [(T0 + 20, "sms", "*", "complained"), (T0 + 30, "call", "*", "unsubscribed")]
    # importing the same events again changes nothing
    led.ingest(Batch(engagements=[resub, unsub]), account="acc", default_brand="acme")
    assert len(led.consent_of(cid)) == 4


def test_the_same_address_at_two_clients_is_two_contacts() -> None:
    led = Ledger()
    led.ingest(Batch(touches=[touch(1, "a@x.com")]), account="one", client="c1")
    led.ingest(Batch(touches=[touch(2, "a@x.com")]), account="two", client="c2")
    one, two = led.contact("a@x.com", "c1"), led.contact("a@x.com", "c2")
    assert one is not None and two is not None and one.id != two.id
    assert (one.client, two.client) == ("c1", "c2")
    assert led.contact("a@x.com") is None  # not in the default client
    assert led.forget("a@x.com", ["c1"]) == ["c1"]
    assert led.contact("a@x.com", "c1") is None and led.contact("a@x.com", "c2") is not None
    # the tombstone keeps it out of c1 only
    assert led.ingest(Batch(touches=[touch(3, "a@x.com")]), account="one", client="c1").skipped_erased == 1
    assert led.ingest(Batch(touches=[touch(4, "a@x.com")]), account="two", client="c2").touches_added == 1


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
    assert led.forget(email) == ["default"]
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
    assert led.forget("never.seen@example.org") == []


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
    assert rows == [("0001_initial",), ("0002_clients_consent_log",)]


def test_a_ledger_made_before_clients_migrates_with_its_consent(tmp_path: Path) -> None:
    import sqlite3

    from sqlite_utils import Database

    from pressure_sdk.ledger.schema import migrations

    p = tmp_path / "old.db"
    conn = sqlite3.connect(p, isolation_level=None)
    db = Database(conn)
    migrations.apply(db, stop_before="0002_clients_consent_log")
    conn.execute("INSERT INTO contacts(id, email, first_seen, tier) VALUES (7, 'a@x.com', 5, 'engaged')")
    conn.execute(
        "INSERT INTO engagements VALUES (0, 7, 100, 1, 'unsubscribe', 'email', 'acme', NULL, 'acc'), "
        "(0, 7, 200, 2, 'complaint', 'sms', NULL, NULL, 'acc')"
    )
    conn.execute("INSERT INTO consent VALUES (7, 'email', 'unsubscribed', 100)")
    conn.close()
    led = Ledger(p)
    row = led.contact("a@x.com")
    assert row is not None and (row.id, row.client, row.first_seen) == (7, "default", 5)
    assert led.consent_of(7) == [(100, "email", "acme", "unsubscribed"), (200, "sms", "*", "complained")]


def executed(led: Ledger, call: Any) -> list[str]:
    """The SQL statements (parameters expanded) that ``call()`` makes the ledger run."""
    seen: list[str] = []
    led.conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        led.conn.set_trace_callback(None)
    return seen


def test_window_query_uses_the_primary_key() -> None:
    led = Ledger()
    led.ingest(Batch(touches=[touch(1, "a@x.com")]), account="acc")
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    (sql,) = [q for q in executed(led, lambda: led.touches_of(cid, T0 - 30 * 86400, T0)) if "touches" in q]
    detail = " ".join(r[-1] for r in led.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
    # the statement the ledger really ran seeks the clustered key, bucket by bucket
    assert "USING PRIMARY KEY" in detail and "SCAN" not in detail, detail
