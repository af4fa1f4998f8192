from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pressure_sdk.errors import LedgerError
from pressure_sdk.ledger import Ledger, event_uid
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch

T0 = 1_780_000_000

LedgerFactory = Callable[[], Any]


def touch(i: int, email: str = "a@x.com", at: int = T0, **kw: object) -> Touch:
    return Touch(f"t{i}", email, kw.get("channel", "email"), kw.get("brand", "acme"), kw.get("family", "marketing"), at)  # type: ignore[arg-type]


def test_ingest_counts_new_rows_only_and_is_idempotent(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
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


def test_touches_of_reads_a_half_open_window_across_buckets(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    times = [T0 - 30 * 86400, T0 - 7 * 86400, T0 - 86400, T0, T0 + 1]
    led.ingest(Batch(touches=[touch(i, at=t) for i, t in enumerate(times)]), account="acc")
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    got = [row[0] for row in led.touches_of(cid, T0 - 7 * 86400, T0)]
    assert got == [T0 - 86400, T0]


def test_emails_are_normalized(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(touches=[touch(1, " A@X.com ".strip().lower()), touch(2, "a@x.com")]), account="acc")
    assert led.count("contacts") == 1
    assert led.contact("  A@X.COM ") is not None


def test_consent_is_a_log_with_the_brand_whatever_the_order(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
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


def test_the_same_address_at_two_clients_is_two_contacts(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
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


def test_contact_updates_merge_attributes_and_keep_external_id(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
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


def test_watermark_moves_only_with_its_batch(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
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


def test_list_members_record_confirmed_batches(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
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
    assert rows == [("0001_initial",), ("0002_clients_consent_log",), ("0003_runs",)]


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


def test_window_query_uses_the_primary_key_on_postgresql(postgres_url: str) -> None:
    from pressure_sdk.ledger.postgres import PostgresLedger

    led = PostgresLedger(postgres_url)
    led.ingest(Batch(touches=[touch(i, f"c{i % 50}@x.com", T0 - i * 3600) for i in range(2000)]), account="acc")
    cid = led.contact("c7@x.com").id  # type: ignore[union-attr]
    seen: list[tuple[str, Any]] = []
    run = led._x

    def traced(sql: str, params: Any = None) -> Any:
        seen.append((sql, params))
        return run(sql, params)

    led._x = traced  # type: ignore[method-assign]
    try:
        led.touches_of(cid, T0 - 30 * 86400, T0)
    finally:
        led._x = run  # type: ignore[method-assign]
    ((sql, params),) = [q for q in seen if "touches" in q[0]]
    led.conn.execute("ANALYZE touches")
    (plan,) = led.conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()  # type: ignore[misc]
    text = str(plan)
    # the statement the ledger really ran reads one contact's range of the primary key
    assert "touches_pkey" in text and "Seq Scan" not in text, text
    led.close()


def test_a_large_batch_goes_in_once_and_the_first_copy_of_an_event_wins(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    rows = [touch(i, f"c{i % 40}@x.com", T0 + i) for i in range(600)]
    dupes = [Touch(f"t{i}", f"c{i % 40}@x.com", "sms", "acme", "marketing", T0 + i) for i in range(0, 600, 7)]
    first = led.ingest(Batch(touches=rows + dupes), account="acc")
    assert (first.touches_added, first.contacts_added) == (600, 40)
    assert led.ingest(Batch(touches=dupes + rows), account="acc").touches_added == 0
    assert led.count("touches") == 600
    assert led.touch_counts("channel") == [("email", 600)]
    cid = led.contact("c0@x.com").id  # type: ignore[union-attr]
    assert [r[0] for r in led.touches_of(cid, T0 - 1, T0 + 600)] == list(range(T0, T0 + 600, 40))


def test_a_dry_run_scratch_leaves_the_ledger_as_it_was(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(touches=[touch(1)], state={"page": 1}), account="acc")
    with led.scratch():
        led.ingest(Batch(touches=[touch(2, "b@x.com")], state={"page": 2}), account="acc")
        led.confirm_push("acc", "l", [led.contact("b@x.com").id], [])  # type: ignore[union-attr]
        assert led.count("touches") == 2 and led.watermark("acc") == {"page": 2}
    assert led.count("touches") == 1 and led.count("contacts") == 1
    assert led.watermark("acc") == {"page": 1}
    assert led.list_sizes() == []
    # the contact cache forgot what the rolled-back batch made
    assert led.ingest(Batch(touches=[touch(3, "b@x.com")]), account="acc").contacts_added == 1


def test_list_targets_reconcile_and_matching(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(
        Batch(touches=[touch(1), touch(2, "b@x.com")], contacts=[ContactUpdate("b@x.com", None, None, {}, "ext-b")]),
        account="acc",
    )
    a, b = led.contact("a@x.com").id, led.contact("b@x.com").id  # type: ignore[union-attr]
    assert led.list_target("acc", "l") is None
    led.set_list_target("acc", "l", 7)
    led.set_list_target("acc", "l", 2)
    assert led.list_target("acc", "l") == 2 and led.list_target("acc", "other") is None
    led.confirm_push("acc", "l", [a], [], external_ids={a: "ext-a"})
    led.replace_list("acc", "l", [b])
    assert led.list_members("acc", "l") == {b}
    assert led.list_sizes() == [("acc", "l", 1)]
    found, unknown = led.match_members("acc", "default", ["A@x.com", "nobody@x.com"], ["ext-b", "ext-zzz"])
    assert (found, unknown) == ({a, b}, 2)
    got = [(m.email, m.external_id) for m in led.members("acc", [b, a])]
    assert got == [("a@x.com", "ext-a"), ("b@x.com", "ext-b")]


def test_postgresql_migrations_are_recorded_once(postgres_url: str) -> None:
    from pressure_sdk.ledger.postgres import PostgresLedger

    PostgresLedger(postgres_url).close()
    with PostgresLedger(postgres_url) as led:
        assert led.migrations() == ["0001_initial", "0002_runs", "0007_ingest"]
        rows = led.conn.execute("SELECT name FROM ledger_migrations ORDER BY name").fetchall()
        assert rows == [("0001_initial",), ("0002_runs",), ("0007_ingest",)]


def test_an_unreachable_postgresql_gives_ledger_error_without_the_password(postgres_server: Any) -> None:
    from pressure_sdk.ledger.postgres import PostgresLedger

    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(LedgerError, match="cannot connect to PostgreSQL") as err:
        PostgresLedger(url)
    assert "s3cret-pw" not in str(err.value) and "someone:***@" in str(err.value)


def test_forget_on_postgresql_leaves_nothing_in_the_database_files(postgres_url: str, postgres_server: Any) -> None:
    from pressure_sdk.ledger.postgres import PostgresLedger

    led = PostgresLedger(postgres_url)
    email = "erase.me@example.org"
    batch = Batch(
        touches=[touch(i, email, T0 + i) for i in range(100)] + [touch(1000, "keep@example.org")],
        engagements=[Engagement("e1", email, "unsubscribe", T0, "email", product="secret-product")],
        contacts=[ContactUpdate(email, "Europe/Paris", None, {"nickname": "secret-nick"}, "ext-erase")],
    )
    led.ingest(batch, account="acc")
    cid = led.contact(email).id  # type: ignore[union-attr]
    led.confirm_push("acc", "l", [cid], [])
    assert led.forget(email) == ["default"]
    assert led.contact(email) is None and led.count("touches") == 1
    assert led.list_members("acc", "l") == set()
    (dboid,) = led.conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()  # type: ignore[misc]
    led.conn.execute("CHECKPOINT")  # every page the server holds goes to the files
    folder = Path(postgres_server.data) / "base" / str(dboid)
    for f in folder.iterdir():
        data = f.read_bytes()
        for secret in (email.encode(), b"secret-nick", b"ext-erase", b"secret-product"):
            assert secret not in data, (f.name, secret)
    # the tombstone keeps it out of later imports
    assert led.ingest(batch, account="acc").skipped_erased == 1
    assert led.contact(email) is None and led.count("contacts") == 1
    led.close()


def test_run_history_records_runs_and_marks_the_dead(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    first = led.start_run(started_at=100.0, now=T0, pid=11)
    second = led.start_run(started_at=200.0, pid=12)  # the first never finished: it died
    led.finish_run(second, finished_at=260.5, result="ok", exit_code=0, report={"accounts": []})
    newest, oldest = led.runs(10)
    assert (newest.id, newest.result, newest.exit_code, newest.report, newest.duration) == (
        second,
        "ok",
        0,
        {"accounts": []},
        60.5,
    )
    assert (oldest.id, oldest.result, oldest.now, oldest.pid) == (first, "died", T0, 11)
    assert oldest.error is not None and "ended before the run did" in oldest.error
    assert led.last_run_at("ok") == (200.0, 260.5) and led.last_run_at("failed") is None
