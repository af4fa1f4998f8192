from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pressure_sdk.errors import LedgerError
from pressure_sdk.ledger import Ledger, event_uid
from pressure_sdk.ledger.schema import migrations
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
    dnc = Engagement("e4", "a@x.com", "do_not_contact", T0 + 30, "call", "acme")
    led.ingest(Batch(engagements=[dnc]), account="acc")
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
    # every migration of the set, each once, in the order they were declared
    assert led.migrations() == [m.name for m in migrations._migrations]
    assert led.migrations()[:4] == ["0001_initial", "0002_clients_consent_log", "0003_runs", "0004_value"]


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
        from pressure_sdk.ledger.postgres_schema import MIGRATIONS

        declared = [name for name, _ in MIGRATIONS]
        assert declared[:3] == ["0001_initial", "0002_runs", "0003_value"]
        assert led.migrations() == declared


def test_an_unreachable_postgresql_gives_ledger_error_without_the_password(postgres_server: Any) -> None:
    from pressure_sdk.ledger.postgres import PostgresLedger

    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(LedgerError, match="cannot connect to PostgreSQL") as err:
        PostgresLedger(url)
    assert "s3cret-pw" not in str(err.value) and "someone:***@" in str(err.value)


def _files_hold(postgres_server: Any, led: Any, secrets: list[bytes]) -> list[tuple[str, bytes]]:
    """(file, secret) for each secret some file of the ledger's database holds, after a checkpoint."""
    # the database's own files, read as anyone with the server's disk would read them
    (dboid,) = led.conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
    led.conn.execute("CHECKPOINT")  # every page the server holds goes to the files
    folder = Path(postgres_server.data) / "base" / str(dboid)
    return [(f.name, s) for f in folder.iterdir() for s in secrets if s in f.read_bytes()]


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
    assert not _files_hold(postgres_server, led, [email.encode(), b"secret-nick", b"ext-erase", b"secret-product"])
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


@pytest.mark.parametrize(
    ("batch", "where"),
    [
        (
            Batch(touches=[touch(1), Touch("t2", "a@x.com", "email", "acme", "marketing", T0, campaign="spring\x00")]),
            r"account 'acc': touch 't2': campaign 'spring\\x00'",
        ),
        (
            Batch(engagements=[Engagement("e1", "b@x.com", "click", T0, "email", product="\x00shoe")]),
            r"account 'acc': engagement 'e1': product '\\x00shoe'",
        ),
        (
            Batch(touches=[touch(1)], contacts=[ContactUpdate("a@x.com", attributes={"nick": ["ok", "n\x00"]})]),
            r"account 'acc': contact 'a@x.com': attributes",
        ),
        (
            Batch(touches=[touch(1, "a\x00@x.com")]),
            r"account 'acc': touch 't1': email 'a\\x00@x.com'",
        ),
    ],
)
def test_a_nul_character_is_refused_on_both_backends_naming_where_and_nothing_is_written(
    ledger_factory: LedgerFactory, batch: Batch, where: str
) -> None:
    # PostgreSQL cannot store a NUL in text: neither ledger stores one, so both hold the same data
    from pressure_sdk.errors import InvalidValueError

    led = ledger_factory()
    with pytest.raises(InvalidValueError, match=where + r".*NUL character") as err:
        led.ingest(batch, account="acc")
    assert "remove it at the source" in str(err.value)
    assert (led.count("contacts"), led.count("touches"), led.count("engagements")) == (0, 0, 0)
    # the same batch without the NUL goes in
    clean = Batch(
        touches=[replace(t, email=t.email.replace("\x00", ""), campaign=None) for t in batch.touches],
        engagements=[replace(e, product=None) for e in batch.engagements],
    )
    assert led.ingest(clean, account="acc").contact_ids


def test_a_touch_recorded_for_a_known_contact_refuses_a_nul_too(ledger_factory: LedgerFactory) -> None:
    from pressure_sdk.errors import InvalidValueError

    led = ledger_factory()
    led.ingest(Batch(touches=[touch(1)]), account="acc")
    cid = led.contact("a@x.com").id  # type: ignore[union-attr]
    bad = Touch("t2", "a@x.com", "email", "acme", "marketing", T0 + 1, product="x\x00")
    with pytest.raises(InvalidValueError, match=r"touch 't2': product 'x\\x00'"):
        led.add_touch(cid, bad, account="sdk")
    assert led.count("touches") == 1


def test_large_scans_on_postgresql_stream_through_a_server_side_cursor_and_read_what_sqlite_reads(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pressure_sdk.ledger import postgres
    from pressure_sdk.ledger.lists import TouchFilter

    monkeypatch.setattr(postgres, "STREAM_PAGE", 7)  # many pages out of a few hundred rows
    emails = [f"c{i:02d}@x.com" for i in range(40)]
    kinds = ["click", "open", "unsubscribe", "resubscribe"]
    batch = Batch(
        touches=[touch(i, emails[i % 40], T0 - i * 600, brand=("acme", "beta")[i % 2]) for i in range(300)],
        engagements=[Engagement(f"e{i}", emails[i % 40], kinds[i % 4], T0 - i * 900, "email") for i in range(200)],
    )
    sqlite, pg = Ledger(":memory:"), postgres.PostgresLedger(postgres_url)
    scans: dict[str, list[Any]] = {}
    for name, led in (("sqlite", sqlite), ("postgresql", pg)):
        led.ingest(batch, account="acc", default_brand="acme")
        who = {cid: c.email for cid, c in led.contacts_by_id(range(1, 1000)).items()}
        since, counts = T0 - 30 * 86400, TouchFilter(channels=frozenset({"email"}))
        reads = {
            "scan_engagements": led.scan_engagements(since, T0),
            "consent_log": led.consent_log("email", T0),
            "events_between": led.events_between(since, T0, {"click", "open"}),
            "gap_hits": led.gap_hits(since=since, until=T0, counts=counts, scope="brand", groups={}),
            "cap_sums": led.cap_sums(
                since=since, until=T0, counts=counts, scope="brand", groups={}, weights={"marketing": 1.0}
            ),
        }
        scans[name] = [(what, sorted((who[row[0]], *row[1:]) for row in rows)) for what, rows in sorted(reads.items())]
    # the rows are the same on both backends, page after page
    assert scans["postgresql"] == scans["sqlite"]
    assert all(rows for _, rows in scans["sqlite"])
    # on PostgreSQL the rows come through a cursor the server holds, closed once read, and
    # planned to be read whole (a plan for the first rows took minutes over the demo)
    assert pg.conn.execute("SHOW cursor_tuple_fraction").fetchone() == ("1",)
    stream = pg.scan_engagements(T0 - 30 * 86400, T0)
    first = next(stream)
    open_cursors = [n for (n,) in pg.conn.execute("SELECT name FROM pg_cursors")]
    assert [n for n in open_cursors if n.startswith("pressure_stream_")], open_cursors
    assert len([first, *stream]) == 200
    assert not pg.conn.execute("SELECT name FROM pg_cursors").fetchall()
    pg.close()


def _erasable(led: Any, emails: list[str]) -> None:
    batch = Batch(
        touches=[touch(i, e, T0 + i) for i, e in enumerate(emails)] + [touch(99, "keep@example.org")],
        engagements=[
            Engagement(f"e{i}", e, "click", T0, "email", product=f"secret-product-{i}") for i, e in enumerate(emails)
        ],
    )
    led.ingest(batch, account="acc")


def test_erasing_many_contacts_on_postgresql_rewrites_each_table_once(postgres_url: str, postgres_server: Any) -> None:
    from pressure_sdk.ledger.postgres import PostgresLedger

    led = PostgresLedger(postgres_url)
    emails = [f"gone{i}@example.org" for i in range(3)]
    _erasable(led, emails)

    def files() -> dict[str, int]:
        sql = "SELECT relname, relfilenode FROM pg_class WHERE relname IN ('touches', 'contacts')"
        return dict(led.conn.execute(sql))

    before = files()
    for e in emails:
        assert led.forget(e, purge=False) == ["default"]
        assert led.contact(e) is None  # gone for every read at once
    assert files() == before  # nothing rewritten yet: the bytes are still in the files
    assert _files_hold(postgres_server, led, [emails[0].encode()])
    assert led.purge_erased() == ["contacts", "identities", "touches", "engagements"]
    after = files()
    assert all(after[t] != before[t] for t in before)  # each table rewritten, once for the three
    secrets = [s for i, e in enumerate(emails) for s in (e.encode(), f"secret-product-{i}".encode())]
    assert not _files_hold(postgres_server, led, secrets)
    assert led.purge_erased() == []  # nothing left pending
    assert led.count("touches") == 1 and led.contact("keep@example.org") is not None
    led.close()


def test_an_erasure_on_postgresql_waits_for_a_locked_table_a_bounded_time_and_the_next_one_finishes_it(
    postgres_url: str, postgres_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from pressure_sdk.ledger import postgres

    monkeypatch.setattr(postgres, "PURGE_LOCK_TIMEOUT", 0.1)
    monkeypatch.setattr(postgres, "PURGE_ATTEMPTS", 2)
    monkeypatch.setattr(postgres, "PURGE_PAUSE", 0.0)
    led = postgres.PostgresLedger(postgres_url)
    email = "gone@example.org"
    _erasable(led, [email])
    # another worker in a long transaction that read the touches table
    with psycopg.connect(postgres_url) as other:
        other.execute("SELECT COUNT(*) FROM touches").fetchone()
        with pytest.raises(LedgerError, match=r"table touches stayed locked.*run the same forget again") as err:
            led.forget(email)
        assert "engagements" in str(err.value)
        assert led.contact(email) is None  # erased for every reader all the same
        # the table holding the address was rewritten before the wait
        assert not _files_hold(postgres_server, led, [email.encode()])
        assert _files_hold(postgres_server, led, [b"secret-product-0"])
    # the transaction ended: the same command again finishes the purge
    assert led.forget(email) == []
    assert not _files_hold(postgres_server, led, [email.encode(), b"secret-product-0"])
    led.close()


def test_erasures_without_purge_hide_the_contact_at_once_and_one_purge_follows(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    emails = ["one@example.org", "two@example.org"]
    batch = Batch(touches=[touch(i, e) for i, e in enumerate(emails)] + [touch(9, "keep@example.org")])
    led.ingest(batch, account="acc")
    assert [led.forget(e, purge=False) for e in emails] == [["default"], ["default"]]
    assert [led.contact(e) for e in emails] == [None, None] and led.count("touches") == 1
    assert led.count("tombstones") == 2
    led.purge_erased()
    assert led.purge_erased() == []  # nothing left to do
    assert led.ingest(batch, account="acc").skipped_erased == 2
    assert led.count("contacts") == 1
