"""Ledger storage on PostgreSQL (psycopg 3, a connection pool per server URL).

Same public methods and semantics as the SQLite :class:`~pressure_sdk.ledger.Ledger`,
for deployments with several workers or machines. Differences that matter:

- ``reserve()`` is atomic across processes and machines through a per-contact advisory
  lock: inside ``transaction(immediate=True)`` the first read of a contact takes
  ``pg_advisory_xact_lock`` on (client, email) before it reads, and holds it to the
  commit. Other contacts are not blocked.
- Batches are written through ``COPY`` into a session-local staging table, then merged
  with ``INSERT … ON CONFLICT DO NOTHING`` (the first copy of an event wins).
- Scores live in a temporary table of the ledger's own connection, never in the database.
- Erasure deletes every row of the contact and rewrites the tables it had rows in, so no
  dead row version stays in the tables' files (see :meth:`PostgresLedger.purge_erased` for
  the locks that takes and how it bounds them); the server's write-ahead log and backups
  are kept as its operator configures them.

psycopg is an optional dependency: ``pip install "pressure-sdk[postgresql]"``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from ..errors import LedgerError, LockedError
from ..models import CLIENT_WIDE, CONSENT_TYPES, Batch, ContactUpdate, Opposition, Touch, consent_row, normalize_email
from ..phones import is_phone_key, key_phone, phone_key
from . import postgres_schema, text
from .facts import DAY, ContactTimeline, HistoryEngagement, HistoryTouch, ValueFact
from .lists import Scope, SumFloor, TouchFilter, _filters, _scope_sql, _weight_sql
from .measure import MeasureSQL, MonthCells, month_cells
from .outcomes import ArmStop, ContactOutcome
from .phones import PhonePlan, route_phones
from .store import (
    _CONTACT_CACHE,
    _UID_MASK,
    DEFAULT_CLIENT,
    RUNS_KEPT,
    ConsentEntry,
    ContactHistory,
    ContactRow,
    IngestResult,
    Member,
    RunRecord,
    _uid_maker,
    batch_emails,
    event_uid,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

#: staging through COPY pays off from this many rows; smaller batches use one INSERT
COPY_FROM = 64
#: connections one process keeps per server URL at most
POOL_MAX = 32
#: rows a streamed read (a server-side cursor) fetches at a time: the process holds at most
#: this many of a large scan, whatever the ledger's size
STREAM_PAGE = 5_000
_COLS = "c.id, c.client, c.email, c.timezone, c.paused_until, c.attributes, c.first_seen"
_TOUCH_COLS = ("contact_id", "at", "uid", "channel", "brand", "family", "weight", "account", "campaign", "product")
_ENG_COLS = ("contact_id", "at", "uid", "type", "channel", "brand", "product", "account", "amount", "currency")
#: the tables an erasure deletes from, the one holding the address first
ERASED_TABLES = ("contacts", "identities", "touches", "engagements", "consent", "list_members", "phones")
#: meta key of the tables an erasure deleted from and that are not rewritten yet
PURGE_KEY = "erase_purge_pending"
#: seconds a purge's rewrite waits for its table's lock before it lets others go and retries
PURGE_LOCK_TIMEOUT = 2.0
PURGE_ATTEMPTS = 5
PURGE_PAUSE = 1.0
#: advisory lock namespace (first int of the two-int form) of run locks
RUN_LOCK_SPACE = 0x70726573  # "pres"

_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()


def is_url(target: object) -> bool:
    """Whether a ledger target names a PostgreSQL server rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _import_psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - depends on the installation
        msg = 'a postgresql:// ledger needs psycopg: pip install "pressure-sdk[postgresql]"'
        raise LedgerError(msg) from None
    return psycopg, psycopg_pool


def _reset(conn: psycopg.Connection[Any]) -> None:
    # a connection goes back to the pool without this ledger's temporary tables, locks or
    # streamed reads left open
    conn.execute("CLOSE ALL")
    conn.execute("DISCARD TEMP")
    conn.execute("SELECT pg_advisory_unlock_all()")


def pool_for(url: str) -> ConnectionPool:
    """The process's connection pool for ``url`` (opened on first use)."""
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            psycopg, psycopg_pool = _import_psycopg()
            try:  # fail at once, with the server's reason, rather than after the pool's timeout
                psycopg.connect(url, connect_timeout=10).close()
            except Exception as exc:
                msg = f"ledger {redact_url(url)}: cannot connect to PostgreSQL: {exc}"
                raise LedgerError(msg) from None
            pool = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=POOL_MAX,
                kwargs={"autocommit": True},
                reset=_reset,
                open=False,
                name=f"pressure-ledger-{len(_pools)}",
            )
            try:
                pool.open(wait=True, timeout=15)
            except Exception as exc:
                pool.close()
                msg = f"ledger {redact_url(url)}: cannot connect to PostgreSQL: {exc}"
                raise LedgerError(msg) from None
            _pools[url] = pool
        return pool


def close_pool(url: str) -> None:
    """Close the process's pool for ``url`` (its ledgers must be closed first)."""
    with _pools_lock:
        pool = _pools.pop(url, None)
    if pool is not None:
        pool.close()


def _key64(*parts: str) -> int:
    """A signed 64-bit advisory lock key."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _key32(*parts: str) -> int:
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _q(sql: str) -> str:
    """SQL built by the shared list helpers (``?`` markers) for psycopg (``%s``)."""
    return sql.replace("?", "%s")


class PostgresLedger:
    """The pressure ledger in a PostgreSQL database named by a ``postgresql://`` URL."""

    def __init__(self, url: str) -> None:
        if not is_url(url):
            msg = f"not a PostgreSQL URL: {url!r} (expected postgresql://user@host/db)"
            raise LedgerError(msg)
        self.url = url
        #: where the ledger is, for messages (never with a password)
        self.path = redact_url(url)
        self._psycopg, _ = _import_psycopg()
        self._pool = pool_for(url)
        try:
            self.conn: psycopg.Connection[Any] = self._pool.getconn(timeout=60)
        except Exception as exc:
            msg = f"ledger {self.path}: no connection: {exc}"
            raise LedgerError(msg) from None
        self._lock = threading.RLock()
        self._depth = 0
        #: an outer transaction's BEGIN not sent yet (it goes out with the first statement)
        self._begin_pending = False
        self._contact_locks = False
        self._locked: set[int] = set()
        self._ids: OrderedDict[tuple[str, str], tuple[int, int | None, int]] = OrderedDict()
        self.scores_at: int | None = None
        self.default_score: tuple[str, float] = ("unscored", 0.0)
        self._account_bits: dict[str, int] = {}
        self._streams = 0
        self.contacts_created = 0
        self._closed = False
        try:
            # Streamed reads (_stream) are server-side cursors, which PostgreSQL plans for
            # their first tenth of rows by default: a nested loop that starts fast and then
            # takes minutes over a whole ledger. They are always read to the end: plan for it.
            self._x("SET cursor_tuple_fraction = 1.0")
            self._migrate()
            self._salt = self._meta_salt()
        except BaseException:
            self.close()
            raise

    # -- plumbing ---------------------------------------------------------------

    def _x(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> psycopg.Cursor[Any]:
        if self._begin_pending:
            self._send_begin()
        return self.conn.execute(sql, params)  # type: ignore[arg-type]

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """Rows of ``sql`` through a server-side cursor, :data:`STREAM_PAGE` at a time.

        The cursor is declared ``WITH HOLD``, so it lives outside the transaction that made it
        (the ledger's connection is in autocommit between transactions) and the caller may run
        other queries on the connection while it reads; the server keeps the result, not this
        process. The cursor closes when the rows run out or the caller drops the iterator.
        """
        with self._lock:
            self._streams += 1
            cur = self.conn.cursor(name=f"pressure_stream_{self._streams}", withhold=True)
            cur.execute(sql, params)  # type: ignore[arg-type]
        try:
            while True:
                with self._lock:
                    rows = cur.fetchmany(STREAM_PAGE)
                if not rows:
                    return
                yield from rows
        finally:
            if not self._closed and not cur.closed:
                with self._lock:
                    try:
                        cur.close()
                    except self._psycopg.Error:  # a rollback since dropped it: nothing left to close
                        pass

    def _send_begin(self) -> None:
        # Sent on its own only when the first statement of a deferred transaction does not
        # go through a pipeline that carries it (see contact_history).
        self._begin_pending = False
        self.conn.execute("BEGIN")

    def _migrate(self) -> None:
        with self.transaction():
            self._x("SELECT pg_advisory_xact_lock(%s)", (postgres_schema.MIGRATION_LOCK,))
            self._x(
                "CREATE TABLE IF NOT EXISTS ledger_migrations ("
                "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {name for (name,) in self._x("SELECT name FROM ledger_migrations")}
            postgres_schema.apply(self._x, applied)

    def migrations(self) -> list[str]:
        """Names of the migrations applied to this database, in order."""
        return [n for (n,) in self._x("SELECT name FROM ledger_migrations ORDER BY name")]

    def close(self) -> None:
        """Close the connection (a write in progress is rolled back)."""
        if self._closed:
            return
        self._closed = True
        conn = getattr(self, "conn", None)
        if conn is not None:
            if conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            self._pool.putconn(conn)

    def __enter__(self) -> PostgresLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Any]:
        """One write transaction (a savepoint when nested in another).

        ``immediate`` makes the transaction lock each contact it reads through
        :meth:`contact`, :meth:`contact_and_consent` or :meth:`contact_history` (an
        advisory lock on client and email, held to the commit): decide-then-record is then
        atomic per contact across processes and machines, which is what ``reserve()``
        needs. Its BEGIN goes out with its first statement through the ledger's methods
        (one round trip fewer), so use those rather than the connection it yields.
        """
        with self._lock:
            nested = self._depth > 0
            sp = f"sp{self._depth}"
            if nested:
                self._x(f"SAVEPOINT {sp}")
            elif immediate:
                # reserve()'s transaction: BEGIN goes out with its first statement (one round
                # trip fewer); see _send_begin
                self._begin_pending = True
            else:
                self._x("BEGIN")
            self._depth += 1
            outer_locks = self._contact_locks
            if immediate:
                self._contact_locks = True
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                self._contact_locks = outer_locks
                try:
                    if nested:
                        self._x(f"ROLLBACK TO SAVEPOINT {sp}")
                    elif self._begin_pending:
                        self._begin_pending = False  # nothing was sent: nothing to roll back
                    else:
                        self._x("ROLLBACK")
                finally:
                    self._ids.clear()
                    if not nested:
                        self._locked.clear()
                raise
            self._depth -= 1
            self._contact_locks = outer_locks
            try:
                if nested:
                    self._x(f"RELEASE SAVEPOINT {sp}")
                elif self._begin_pending:
                    self._begin_pending = False  # nothing was sent: nothing to commit
                else:
                    self._x("COMMIT")
            except BaseException:
                self._ids.clear()
                raise
            finally:
                if not nested:
                    self._locked.clear()

    @contextmanager
    def scratch(self) -> Iterator[None]:
        """Everything written inside is rolled back at the end: dry runs leave the ledger as it was."""
        with self._lock:
            if self._depth:
                msg = "a dry run cannot start inside another transaction"
                raise LedgerError(msg)
            self._x("BEGIN")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                self._x("ROLLBACK")
                self._ids.clear()
                self._locked.clear()
                self.scores_at = None

    def lock_contact(self, email: str, client: str = DEFAULT_CLIENT) -> None:
        """Hold the contact's advisory lock until the current transaction ends (needs one)."""
        if not self._depth:
            msg = "lock_contact needs a transaction"
            raise LedgerError(msg)
        key = _key64("contact", client, normalize_email(email))
        if key not in self._locked:
            self._x("SELECT pg_advisory_xact_lock(%s)", (key,))
            self._locked.add(key)

    def check_writable(self) -> None:
        """Raise :class:`LedgerError` unless this user may write the ledger's tables (nothing is changed)."""
        row = self._x(
            "SELECT bool_and(has_table_privilege(t, 'INSERT,UPDATE,DELETE')) FROM unnest(%s::text[]) t",
            (["contacts", "touches", "engagements", "consent", "identities", "list_members", "watermarks", "meta"],),
        ).fetchone()
        if not (row and row[0]):
            user = self._x("SELECT current_user").fetchone()
            msg = f"ledger {self.path}: user {user[0] if user else '?'} may not write the ledger's tables"
            raise LedgerError(msg)

    def _meta_salt(self) -> str:
        row = self._x("SELECT value FROM meta WHERE key = 'tombstone_salt'").fetchone()
        if row:
            return str(row[0])
        with self.transaction():
            self._x(
                "INSERT INTO meta(key, value) VALUES ('tombstone_salt', %s) ON CONFLICT DO NOTHING",
                (os.urandom(16).hex(),),
            )
        row = self._x("SELECT value FROM meta WHERE key = 'tombstone_salt'").fetchone()
        assert row is not None
        return str(row[0])

    def _tombstone(self, client: str, email: str) -> str:
        key = email if client == DEFAULT_CLIENT else f"{client}\x00{email}"
        return hashlib.sha256(f"{self._salt}:{key}".encode()).hexdigest()

    # -- contacts ---------------------------------------------------------------

    def _resolve(self, first_seen: dict[str, int | None], account: str, client: str) -> dict[str, int]:
        """Contact ids of normalized emails, creating missing contacts (never erased ones)."""
        cache = self._ids
        missing = sorted(e for e in first_seen if (client, e) not in cache)
        if missing:
            self._load_known(client, missing)
            new = [e for e in missing if (client, e) not in cache]
            if new:
                dead = self._erased(client, new)
                keep = [e for e in new if e not in dead]  # sorted: concurrent writers lock in one order
                if keep:
                    cur = self._x(
                        "INSERT INTO contacts(client, email, first_seen) "
                        "SELECT %s, e, f FROM unnest(%s::text[], %s::bigint[]) AS u(e, f) "
                        "ON CONFLICT (client, email) DO NOTHING",
                        (client, keep, [first_seen[e] for e in keep]),
                    )
                    self.contacts_created += max(cur.rowcount, 0)
                    self._load_known(client, keep)
        out: dict[str, int] = {}
        earlier: list[tuple[int, int]] = []
        unknown_to_account: list[int] = []
        bit = self._account_bits.setdefault(account, 1 << len(self._account_bits))
        for e, at in first_seen.items():
            known = cache.get((client, e))
            if known is None:  # erased
                continue
            cid, seen, mask = known
            out[e] = cid
            if at is not None and (seen is None or at < seen):
                earlier.append((cid, at))
                seen = at
            if not mask & bit:
                unknown_to_account.append(cid)
                mask |= bit
            if known[1] != seen or known[2] != mask:
                cache[client, e] = (cid, seen, mask)
        if earlier:
            earlier.sort()
            self._x(
                "UPDATE contacts c SET first_seen = u.f FROM unnest(%s::bigint[], %s::bigint[]) AS u(id, f) "
                "WHERE c.id = u.id AND (c.first_seen IS NULL OR c.first_seen > u.f)",
                ([c for c, _ in earlier], [f for _, f in earlier]),
            )
        if unknown_to_account:
            self._x(
                "INSERT INTO identities(contact_id, account) SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
                (sorted(unknown_to_account), account),
            )
        while len(cache) > _CONTACT_CACHE:
            cache.popitem(last=False)
        return out

    def _load_known(self, client: str, emails: Sequence[str]) -> None:
        for email, cid, seen in self._x(
            "SELECT email, id, first_seen FROM contacts WHERE client = %s AND email = ANY(%s)", (client, list(emails))
        ):
            self._ids[client, email] = (cid, seen, 0)

    def _erased(self, client: str, emails: Sequence[str]) -> set[str]:
        if not self._x("SELECT 1 FROM tombstones LIMIT 1").fetchone():
            return set()
        hashes = {self._tombstone(client, e): e for e in emails}
        rows = self._x("SELECT hash FROM tombstones WHERE hash = ANY(%s)", (list(hashes),))
        return {hashes[h] for (h,) in rows}

    def _lock_if_reserving(self, email: str, client: str) -> None:
        if self._contact_locks and self._depth:
            self.lock_contact(email, client)

    def contact(self, email: str, client: str = DEFAULT_CLIENT) -> ContactRow | None:
        """The contact of ``client`` with this email (normalized first), or None."""
        key = normalize_email(email)
        with self._lock:
            self._lock_if_reserving(key, client)
            row = self._x(
                f"SELECT {_COLS} FROM contacts c WHERE c.client = %s AND c.email = %s", (client, key)
            ).fetchone()
        return _contact_row(row) if row else None

    def contact_and_consent(
        self, email: str, client: str = DEFAULT_CLIENT
    ) -> tuple[ContactRow | None, list[ConsentEntry]]:
        """A contact and its consent log, oldest first, in one query (the hot path of decide and reserve)."""
        key = normalize_email(email)
        with self._lock:
            self._lock_if_reserving(key, client)
            rows = self._x(
                f"SELECT {_COLS}, k.at, k.channel, k.brand, k.status FROM contacts c "
                "LEFT JOIN consent k ON k.contact_id = c.id WHERE c.client = %s AND c.email = %s "
                "ORDER BY k.at, k.channel, k.brand, k.status",
                (client, key),
            ).fetchall()
        if not rows:
            return None, []
        consent: list[ConsentEntry] = [(r[7], r[8], r[9], r[10]) for r in rows if r[7] is not None]
        return _contact_row(rows[0]), consent

    def contact_history(
        self,
        email: str,
        client: str = DEFAULT_CLIENT,
        *,
        engagements_since: int,
        touches_since: int,
        until: int,
        account: str | None = None,
    ) -> ContactHistory | None:
        """A contact, its consent log, its engagements and touches in their windows ending at
        ``until`` (None if the contact is unknown), and with ``account`` whether that account
        knows it: one call of the ledger's ``pressure_contact_history`` function, one round
        trip with the BEGIN of ``reserve()``'s transaction and the contact's lock included.
        """
        key = normalize_email(email)
        with self._lock:
            conn = self.conn
            lock: int | None = None
            if self._contact_locks and self._depth:
                lock = _key64("contact", client, key)
                if lock in self._locked:
                    lock = None
            params = (client, key, engagements_since, touches_since, until, account, lock)
            sql = "SELECT pressure_contact_history(%s, %s, %s, %s, %s, %s, %s)"
            if self._begin_pending:
                self._begin_pending = False
                with conn.pipeline():
                    conn.execute("BEGIN")
                    cur = conn.execute(sql, params)
            else:
                cur = conn.execute(sql, params)
            row = cur.fetchone()
            if lock is not None:
                self._locked.add(lock)
        got = row[0] if row else None
        if got is None:
            return None
        return ContactHistory(
            _contact_row(got[:7]),
            [tuple(x) for x in got[7]],
            [tuple(x) for x in got[8]],
            [tuple(x) for x in got[9]],
            got[10],
        )

    def contacts_by_id(self, ids: Iterable[int]) -> dict[int, ContactRow]:
        """The contacts with these ids (those that exist), by id."""
        rows = self._x(f"SELECT {_COLS} FROM contacts c WHERE c.id = ANY(%s)", (list(ids),))
        return {row[0]: _contact_row(row) for row in rows}

    def iter_contacts(self, account: str | None = None, *, page: int = 10_000) -> Iterator[ContactRow]:
        """Every contact (of one account, through its identities), in id order, in keyset pages."""
        last = -1
        while True:
            if account is None:
                rows = self._x(
                    f"SELECT {_COLS} FROM contacts c WHERE c.id > %s ORDER BY c.id LIMIT %s", (last, page)
                ).fetchall()
            else:
                rows = self._x(
                    f"SELECT {_COLS} FROM identities i JOIN contacts c ON c.id = i.contact_id "
                    "WHERE i.account = %s AND c.id > %s ORDER BY c.id LIMIT %s",
                    (account, last, page),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _contact_row(row)
            last = rows[-1][0]

    # -- writes -------------------------------------------------------------------

    def ingest(
        self,
        batch: Batch,
        *,
        account: str,
        client: str = DEFAULT_CLIENT,
        default_brand: str | None = None,
        watermark: str | None = None,
    ) -> IngestResult:
        """Write one batch of ``client``'s data and, if it carries one, its watermark, in one transaction."""
        text.check_batch(batch, account, client, default_brand, watermark)
        with self.transaction():
            result = self._ingest(batch, account, client, default_brand)
            if batch.state is not None:
                self._set_watermark(watermark or account, batch.state)
        return result

    def _ingest(self, batch: Batch, account: str, client: str, default_brand: str | None) -> IngestResult:
        result = IngestResult()
        if batch.oppositions:
            self._add_oppositions(client, batch.oppositions)
        batch, phones = route_phones(
            batch, lambda ps: self.phone_owners(client, ps), lambda ks: self._erased(client, ks)
        )
        key, first_seen = batch_emails(batch)
        if not first_seen:
            return result
        created0 = self.contacts_created
        ids = self._resolve(first_seen, account, client)
        if phones.links or phones.merges:
            self._apply_phones(client, ids, phones)
        result.contacts_added = self.contacts_created - created0
        result.skipped_erased = sum(1 for e in first_seen if e not in ids)
        result.contact_ids = set(ids.values())
        cid_of = {raw: ids[k] for raw, k in key.items() if k in ids}
        uid = _uid_maker(account)
        if batch.touches:
            brand0 = default_brand or ""
            # the per-row hot loop: the uid hash inlined, no call per row
            prefix = f"{account}\x00".encode()
            blake2b, from_bytes, mask = hashlib.blake2b, int.from_bytes, _UID_MASK
            rows = [
                (
                    cid,
                    t.at,
                    from_bytes(blake2b(prefix + t.event_id.encode(), digest_size=8).digest(), "big") & mask,
                    t.channel,
                    t.brand or brand0,
                    t.family,
                    t.weight,
                    account,
                    t.campaign,
                    t.product,
                )
                for t in batch.touches
                if (cid := cid_of.get(t.email)) is not None
            ]
            result.touches_added = self._merge("touches", _TOUCH_COLS, rows)
        if batch.engagements:
            erows = []
            consent: list[tuple[int, str, str, int, str]] = []
            for e in batch.engagements:
                cid = cid_of.get(e.email)
                if cid is None:
                    continue
                erows.append(
                    (
                        cid,
                        e.at,
                        uid(e.event_id),
                        e.type,
                        e.channel,
                        e.brand or default_brand,
                        e.product,
                        account,
                        e.amount,
                        e.currency,
                    )
                )
                if e.type in CONSENT_TYPES:
                    brand, status = consent_row(e.type, e.brand or default_brand)
                    consent.append((cid, e.channel or "email", brand, e.at, status))
            result.engagements_added = self._merge("engagements", _ENG_COLS, erows)
            if consent:
                self.conn.cursor().executemany(
                    "INSERT INTO consent VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", sorted(set(consent))
                )
        if batch.contacts:
            self._update_contacts(batch.contacts, cid_of, account, default_brand)
        return result

    def _merge(self, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
        """Insert rows keyed by (contact_id, at, uid); the first copy of an event wins. Returns rows added."""
        if not rows:
            return 0
        names = ", ".join(cols)
        if len(rows) < COPY_FROM:
            seen: set[tuple[int, int, int]] = set()
            first = []
            for r in rows:
                pk = (r[0], r[1], r[2])
                if pk not in seen:
                    seen.add(pk)
                    first.append(r)
            first.sort(key=lambda r: (r[0], r[1], r[2]))
            marks = ", ".join(["(" + ", ".join(["%s"] * len(cols)) + ")"] * len(first))
            cur = self._x(
                f"INSERT INTO {table} ({names}) VALUES {marks} ON CONFLICT DO NOTHING",
                [v for r in first for v in r],
            )
            return max(cur.rowcount, 0)
        stage = f"{table}_in"
        self._x(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}, seq bigint)")
        cur = self.conn.cursor()
        with cur.copy(f"COPY {stage} ({names}, seq) FROM STDIN") as cp:
            for i, r in enumerate(rows):
                cp.write_row((*r, i))
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT DISTINCT ON (contact_id, at, uid) {names} FROM {stage} "
            "ORDER BY contact_id, at, uid, seq ON CONFLICT DO NOTHING"
        )
        added = max(cur.rowcount, 0)
        cur.execute(f"TRUNCATE {stage}")
        return added

    # -- phones -----------------------------------------------------------------

    def phone_owners(self, client: str, numbers: Sequence[str]) -> dict[str, str]:
        """The contact key (email, or ``tel:+…``) holding each of these E.164 numbers in ``client``."""
        rows = self._x(
            "SELECT p.e164, c.email FROM phones p JOIN contacts c ON c.id = p.contact_id "
            "WHERE p.client = %s AND p.e164 = ANY(%s)",
            (client, list(numbers)),
        )
        return {p: k for p, k in rows}

    def phones_of(self, contact_id: int) -> list[str]:
        """The contact's E.164 numbers, sorted."""
        rows = self._x("SELECT e164 FROM phones WHERE contact_id = %s ORDER BY e164", (contact_id,))
        return [p for (p,) in rows]

    def oppositions_of(self, contact_id: int) -> list[tuple[str, int]]:
        """(number, listed since) of the contact's numbers on the opposition list, oldest first."""
        rows = self._x(
            "SELECT o.e164, o.listed_at FROM phones p JOIN contacts c ON c.id = p.contact_id "
            "JOIN phone_oppositions o ON o.client = c.client AND o.e164 = p.e164 "
            "WHERE p.contact_id = %s ORDER BY o.listed_at, o.e164",
            (contact_id,),
        )
        return [(p, at) for p, at in rows]

    def opposed_contacts(self, until: int) -> Iterator[tuple[int, int]]:
        """(contact id, latest listing date at or before ``until``) of contacts with a number on the opposition list."""
        rows = self._x(
            "SELECT p.contact_id, MAX(o.listed_at) FROM phones p "
            "JOIN phone_oppositions o ON o.client = p.client AND o.e164 = p.e164 "
            "WHERE o.listed_at <= %s GROUP BY p.contact_id ORDER BY p.contact_id",
            (until,),
        ).fetchall()
        return iter([(cid, at) for cid, at in rows])

    def _add_oppositions(self, client: str, rows: Sequence[Opposition]) -> None:
        # a number stays listed from the earliest answer that returned it
        self.conn.cursor().executemany(
            "INSERT INTO phone_oppositions(client, e164, listed_at, source) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (client, e164) DO UPDATE SET listed_at = excluded.listed_at, source = excluded.source "
            "WHERE excluded.listed_at < phone_oppositions.listed_at",
            sorted({(client, o.phone, o.at, o.source) for o in rows}),
        )

    def _apply_phones(self, client: str, ids: dict[str, int], plan: PhonePlan) -> None:
        for old, new in plan.merges:
            into = ids.get(new)
            row = self._x("SELECT id FROM contacts WHERE client = %s AND email = %s", (client, old)).fetchone()
            if into is None or row is None or row[0] == into:
                continue
            self._merge_contact(row[0], into)
            self._ids.pop((client, old), None)
        links = sorted({(client, p, ids[k]) for k, p in plan.links if k in ids})
        if links:
            self.conn.cursor().executemany(
                "INSERT INTO phones(client, e164, contact_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", links
            )

    def _merge_contact(self, old: int, into: int) -> None:
        """Move everything of contact ``old`` (a phone-only one) to ``into``, then delete it."""
        for table in ("touches", "engagements", "consent", "identities", "list_members"):
            cols = [
                c
                for (c,) in self._x(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND table_schema = current_schema() ORDER BY ordinal_position",
                    (table,),
                )
            ]
            picked = ", ".join("%s" if c == "contact_id" else c for c in cols)
            self._x(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {picked} FROM {table} WHERE contact_id = %s "
                "ON CONFLICT DO NOTHING",
                (into, old),
            )
            self._x(f"DELETE FROM {table} WHERE contact_id = %s", (old,))
        self._x("UPDATE phones SET contact_id = %s WHERE contact_id = %s", (into, old))
        self._x(
            "UPDATE contacts c SET first_seen = LEAST(c.first_seen, o.first_seen), "
            "timezone = COALESCE(c.timezone, o.timezone), paused_until = COALESCE(c.paused_until, o.paused_until), "
            "attributes = NULLIF(COALESCE(o.attributes, '{}'::jsonb) || COALESCE(c.attributes, '{}'::jsonb), "
            "'{}'::jsonb) FROM contacts o WHERE c.id = %s AND o.id = %s",
            (into, old),
        )
        self._x("DELETE FROM contacts WHERE id = %s", (old,))

    def _update_contacts(
        self, updates: list[ContactUpdate], ids: dict[str, int], account: str, brand: str | None
    ) -> None:
        for u in updates:
            cid = ids.get(u.email)
            if cid is None:
                continue
            if u.status in ("unsubscribed", "complained"):
                self._x(
                    "INSERT INTO consent VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (cid, u.channel, brand or CLIENT_WIDE, u.status_at or 0, u.status),
                )
            self._x(
                # An empty value never erases what another source said; a pause ends at its date.
                "UPDATE contacts SET timezone = COALESCE(%s, timezone), paused_until = COALESCE(%s, paused_until), "
                "attributes = NULLIF(COALESCE(attributes, '{}'::jsonb) || %s::jsonb, '{}'::jsonb) WHERE id = %s",
                (u.timezone, u.paused_until, json.dumps(u.attributes, sort_keys=True), cid),
            )
            if u.external_id:
                self._x(
                    "INSERT INTO identities(contact_id, account, external_id) VALUES (%s, %s, %s) "
                    "ON CONFLICT (contact_id, account) DO UPDATE SET external_id = excluded.external_id",
                    (cid, account, u.external_id),
                )

    def add_touch(self, contact_id: int, t: Touch, *, account: str, history: ContactHistory | None = None) -> bool:
        """Record one touch of a known contact; returns whether it was new (one statement).

        Inside a caller's transaction (``reserve()``) the statement needs no savepoint: it
        is atomic on its own. ``history``, read in that transaction, spares the identity
        and ``first_seen`` writes that would change nothing.
        """
        text.check_touch(t, account)
        parts = [
            "WITH t AS (INSERT INTO touches VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1)"
        ]
        params: list[Any] = [
            contact_id,
            t.at,
            event_uid(account, t.event_id),
            t.channel,
            t.brand,
            t.family,
            t.weight,
            account,
            t.campaign,
            t.product,
        ]
        if history is None or not history.known_to_account:
            parts.append("i AS (INSERT INTO identities(contact_id, account) VALUES (%s, %s) ON CONFLICT DO NOTHING)")
            params += [contact_id, account]
        seen = None if history is None else history.contact.first_seen
        if seen is None or seen > t.at:
            parts.append(
                "u AS (UPDATE contacts SET first_seen = %s WHERE id = %s AND (first_seen IS NULL OR first_seen > %s))"
            )
            params += [t.at, contact_id, t.at]
        sql = ", ".join(parts) + " SELECT count(*) FROM t"
        with self._lock:
            if self._depth:
                row = self._x(sql, params).fetchone()
            else:
                with self.transaction():
                    row = self._x(sql, params).fetchone()
        return bool(row and row[0])

    def record(self, touches: Sequence[Touch], *, account: str = "sdk") -> IngestResult:
        """Record sends made by the caller's own code (the ``record()`` of decide/record)."""
        return self.ingest(Batch(touches=list(touches)), account=account)

    # -- reads for the policy ---------------------------------------------------

    def touches_of(self, contact_id: int, since: int, until: int) -> list[tuple[int, str, str, str, float | None]]:
        """(at, channel, brand, family, weight) of one contact with ``since < at <= until``."""
        return self._x(
            "SELECT at, channel, brand, family, weight FROM touches "
            "WHERE contact_id = %s AND at > %s AND at <= %s ORDER BY at, uid",
            (contact_id, since, until),
        ).fetchall()

    def engagements_of(
        self, contact_id: int, since: int, until: int
    ) -> list[tuple[int, str, str | None, str | None, str | None]]:
        """(at, type, channel, brand, product) of one contact with ``since < at <= until``."""
        return self._x(
            "SELECT at, type, channel, brand, product FROM engagements "
            "WHERE contact_id = %s AND at > %s AND at <= %s ORDER BY at, uid",
            (contact_id, since, until),
        ).fetchall()

    def consent_of(self, contact_id: int) -> list[ConsentEntry]:
        """The contact's consent log (at, channel, brand or '*', status), oldest first."""
        return self._x(
            "SELECT at, channel, brand, status FROM consent WHERE contact_id = %s ORDER BY at, channel, brand, status",
            (contact_id,),
        ).fetchall()

    def consent_log(self, channel: str, until: int) -> Iterator[tuple[int, str, int, str]]:
        """(contact_id, brand, at, status) of every consent change on ``channel`` at or before ``until``."""
        return self._stream(
            "SELECT contact_id, brand, at, status FROM consent WHERE channel = %s AND at <= %s "
            "ORDER BY contact_id, at, status <> 'subscribed'",
            (channel, until),
        )

    def scan_engagements(
        self, since: int, until: int
    ) -> Iterator[tuple[int, int, str, str | None, str | None, str | None]]:
        """(contact_id, at, type, channel, brand, product) in the window, by contact, streamed."""
        return self._stream(
            "SELECT contact_id, at, type, channel, brand, product FROM engagements "
            "WHERE at > %s AND at <= %s ORDER BY contact_id, at, uid",
            (since, until),
        )

    def start_scores(self, at: int, default: tuple[str, float]) -> None:
        """Empty the connection's temporary score table, for scores as of ``at``."""
        with self._lock:
            self._score_table()
            self._x("DELETE FROM pg_temp.scores")
        self.scores_at = at
        self.default_score = default

    def _score_table(self) -> None:
        self._x(
            "CREATE TEMP TABLE IF NOT EXISTS scores ("
            "contact_id bigint PRIMARY KEY, tier text, score double precision, capital double precision, care integer)"
        )

    def first_seen_since(self, since: int) -> dict[int, int]:
        """Contacts first seen after ``since``, with that time."""
        return dict(self._x("SELECT id, first_seen FROM contacts WHERE first_seen > %s", (since,)).fetchall())

    def first_seen_of(self, ids: Sequence[int]) -> dict[int, int | None]:
        """When each of these contacts was first seen (None when unknown), by id."""
        return dict(self._x("SELECT id, first_seen FROM contacts WHERE id = ANY(%s)", (list(ids),)).fetchall())

    def set_scores(self, rows: Iterable[tuple[str, float, float, int, int]]) -> None:
        """(tier, score, capital, care, contact_id) for each contact, in the temporary score table."""
        with self._lock:
            self._score_table()
            self.conn.cursor().executemany(
                "INSERT INTO pg_temp.scores(tier, score, capital, care, contact_id) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (contact_id) DO UPDATE SET tier = excluded.tier, score = excluded.score, "
                "capital = excluded.capital, care = excluded.care",
                list(rows),
            )

    def score_of(self, contact_id: int) -> tuple[str, float, bool] | None:
        """(tier, capital, care) of a contact in the score table, as of :attr:`scores_at`."""
        if self.scores_at is None:
            return None
        row = self._x("SELECT tier, capital, care FROM pg_temp.scores WHERE contact_id = %s", (contact_id,)).fetchone()
        if row is None:
            return self.default_score[0], self.default_score[1], False
        return (row[0], row[1], bool(row[2]))

    # -- watermarks -------------------------------------------------------------

    def watermark(self, account: str) -> dict[str, Any] | None:
        """The state a pull of ``account`` (or an audience key) resumes from; None before its first pull."""
        row = self._x("SELECT state FROM watermarks WHERE account = %s", (account,)).fetchone()
        return json.loads(row[0]) if row else None

    def _set_watermark(self, account: str, state: dict[str, Any]) -> None:
        self._x(
            "INSERT INTO watermarks(account, state, updated_at) VALUES (%s, %s, extract(epoch from now())::bigint) "
            "ON CONFLICT (account) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (account, json.dumps(state, sort_keys=True)),
        )

    # -- run history ------------------------------------------------------------

    def start_run(self, *, started_at: float, now: int | None = None, pid: int | None = None) -> int:
        """Record a run that starts; return its id (see :meth:`pressure_sdk.ledger.Ledger.start_run`)."""
        with self.transaction():
            self._x(
                "UPDATE runs SET result = 'died', error = COALESCE(error, "
                "'the process ended before the run did (killed, or the machine stopped)') WHERE result = 'running'"
            )
            row = self._x(
                "INSERT INTO runs(started_at, result, now, pid) VALUES (%s, 'running', %s, %s) RETURNING id",
                (started_at, now, pid),
            ).fetchone()
            run_id = int(row[0]) if row else 0
            self._x("DELETE FROM runs WHERE id <= %s", (run_id - RUNS_KEPT,))
        return run_id

    def finish_run(
        self,
        run_id: int,
        *,
        finished_at: float,
        result: str,
        exit_code: int | None,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a run ended."""
        with self.transaction():
            self._x(
                "UPDATE runs SET finished_at = %s, result = %s, exit_code = %s, report = %s, error = %s WHERE id = %s",
                (finished_at, result, exit_code, None if report is None else json.dumps(report), error, run_id),
            )

    def last_run_at(self, result: str) -> tuple[float, float | None] | None:
        """(start, end) of the last run that ended with ``result``, if any is kept."""
        row = self._x(
            "SELECT started_at, finished_at FROM runs WHERE result = %s ORDER BY id DESC LIMIT 1", (result,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def runs(self, limit: int = 10) -> list[RunRecord]:
        """The last ``limit`` runs, newest first."""
        rows = self._x(
            "SELECT id, started_at, finished_at, result, exit_code, now, pid, report, error FROM runs "
            "ORDER BY id DESC LIMIT %s",
            (limit,),
        ).fetchall()
        return [
            RunRecord(
                id=r[0],
                started_at=r[1],
                finished_at=r[2],
                result=r[3],
                exit_code=r[4],
                now=r[5],
                pid=r[6],
                report=json.loads(r[7]) if r[7] else None,
                error=r[8],
            )
            for r in rows
        ]

    # -- suppression lists ------------------------------------------------------

    def list_members(self, account: str, list_name: str) -> set[int]:
        """Contact ids the platform last confirmed in this list."""
        rows = self._x("SELECT contact_id FROM list_members WHERE account = %s AND list = %s", (account, list_name))
        return {cid for (cid,) in rows}

    def members(self, account: str, contact_ids: Iterable[int]) -> list[Member]:
        """Email and the account's external id of each contact, in contact-id order."""
        rows = self._x(
            "SELECT c.id, c.email, i.external_id FROM contacts c "
            "LEFT JOIN identities i ON i.contact_id = c.id AND i.account = %s WHERE c.id = ANY(%s) ORDER BY c.id",
            (account, sorted(set(contact_ids))),
        )
        return [Member(cid, email, ext) for cid, email, ext in rows]

    def confirm_push(
        self,
        account: str,
        list_name: str,
        added: Iterable[int],
        removed: Iterable[int],
        external_ids: dict[int, str] | None = None,
    ) -> None:
        """Record one batch the platform confirmed, and the platform ids the push learned."""
        with self.transaction():
            if external_ids:
                self.conn.cursor().executemany(
                    "INSERT INTO identities(contact_id, account, external_id) VALUES (%s, %s, %s) "
                    "ON CONFLICT (contact_id, account) DO UPDATE SET external_id = excluded.external_id",
                    [(cid, account, ext) for cid, ext in sorted(external_ids.items())],
                )
            self._x(
                "INSERT INTO list_members(account, list, contact_id) SELECT %s, %s, unnest(%s::bigint[]) "
                "ON CONFLICT DO NOTHING",
                (account, list_name, sorted(set(added))),
            )
            self._x(
                "DELETE FROM list_members WHERE account = %s AND list = %s AND contact_id = ANY(%s)",
                (account, list_name, sorted(set(removed))),
            )

    def list_target(self, account: str, list_name: str) -> int | None:
        """The size the list was meant to have at its last push, if any."""
        row = self._x("SELECT value FROM meta WHERE key = %s", (_target_key(account, list_name),)).fetchone()
        return int(row[0]) if row else None

    def set_list_target(self, account: str, list_name: str, size: int) -> None:
        """Record the size a list is meant to have after the push that starts (the growth guard's base)."""
        with self.transaction():
            self._x(
                "INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_target_key(account, list_name), str(size)),
            )

    def replace_list(self, account: str, list_name: str, contact_ids: Iterable[int]) -> None:
        """Set the confirmed state of a list to what the platform really holds (after a reconcile)."""
        with self.transaction():
            self._x("DELETE FROM list_members WHERE account = %s AND list = %s", (account, list_name))
            self._x(
                "INSERT INTO list_members(account, list, contact_id) SELECT %s, %s, unnest(%s::bigint[]) "
                "ON CONFLICT DO NOTHING",
                (account, list_name, sorted(set(contact_ids))),
            )

    def match_members(
        self, account: str, client: str, emails: Iterable[str], external_ids: Iterable[str]
    ) -> tuple[set[int], int]:
        """Contact ids of a platform list's members, by the account's external id or by email."""
        found: set[int] = set()
        exts = sorted(set(external_ids))
        rows = self._x(
            "SELECT external_id, contact_id FROM identities WHERE account = %s AND external_id = ANY(%s)",
            (account, exts),
        ).fetchall()
        found.update(cid for _, cid in rows)
        unknown = len(exts) - len({e for e, _ in rows})
        keys = sorted({normalize_email(e) for e in emails})
        rows = self._x(
            "SELECT email, id FROM contacts WHERE client = %s AND email = ANY(%s)", (client, keys)
        ).fetchall()
        found.update(cid for _, cid in rows)
        unknown += len(keys) - len(rows)
        return found, unknown

    # -- erasure ----------------------------------------------------------------

    def forget(self, email: str, clients: Sequence[str] = (DEFAULT_CLIENT,), *, purge: bool = True) -> list[str]:
        """Erase a contact from each of ``clients`` and keep one-way tombstones so it never comes back.

        Returns the clients it existed in. The rows are deleted at once (no read sees them
        again) and the tables they were in are recorded as pending a purge, in the same
        transaction; then, unless ``purge`` is false or a caller's transaction is open,
        :meth:`purge_erased` rewrites them. Erasing many contacts with ``purge=False`` and
        purging once rewrites each table once.
        """
        key = normalize_email(email)
        text.check_text(key, "email")
        found: list[str] = []
        touched: set[str] = set()
        with self.transaction():
            for client in clients:
                # a number (``tel:+…``) erases the contact holding it, whatever its key
                owner = self.phone_owners(client, [key_phone(key)]) if is_phone_key(key) else {}
                ckey = next(iter(owner.values()), key)
                self.lock_contact(ckey, client)
                row = self._x("SELECT id FROM contacts WHERE client = %s AND email = %s", (client, ckey)).fetchone()
                keys = {key, ckey}
                if row:
                    keys.update(phone_key(p) for p in self.phones_of(row[0]))
                for k in sorted(keys):
                    self._x(
                        "INSERT INTO tombstones(hash) VALUES (%s) ON CONFLICT DO NOTHING", (self._tombstone(client, k),)
                    )
                if row:
                    found.append(client)
                    cid = row[0]
                    for table in (*ERASED_TABLES[1:], "contacts"):  # the contact's row last
                        where = "id" if table == "contacts" else "contact_id"
                        if self._x(f"DELETE FROM {table} WHERE {where} = %s", (cid,)).rowcount:
                            touched.add(table)
                for k in keys:
                    self._ids.pop((client, k), None)
            if touched:
                self._set_pending(self._pending() | touched)
        if purge and not self._depth:
            self.purge_erased()
        return found

    def _pending(self) -> set[str]:
        row = self._x("SELECT value FROM meta WHERE key = %s", (PURGE_KEY,)).fetchone()
        return {t for t in (row[0] if row else "").split(",") if t in ERASED_TABLES}

    def _set_pending(self, tables: set[str]) -> None:
        if tables:
            self._x(
                "INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PURGE_KEY, ",".join(sorted(tables))),
            )
        else:
            self._x("DELETE FROM meta WHERE key = %s", (PURGE_KEY,))

    def purge_erased(self) -> list[str]:
        """Rewrite the tables erased contacts had rows in, so no byte of those rows stays in
        their files; returns the tables rewritten (none when nothing is pending).

        PostgreSQL keeps a deleted row's bytes in its page until the page is rewritten (a
        plain ``VACUUM`` frees the space without wiping it), so each such table is rewritten
        with ``VACUUM (FULL)``. That holds the table's exclusive lock for the rewrite, and,
        worse, while it *waits* for the lock every later query on the table queues behind it.
        So the wait is bounded (:data:`PURGE_LOCK_TIMEOUT` per attempt, :data:`PURGE_ATTEMPTS`
        attempts with a pause between, during which others go on), the table holding the
        address (``contacts``) comes first, and each table leaves the pending record as soon
        as it is rewritten. If a table stays locked by a long transaction, the error says so
        and the tables not yet rewritten stay pending: the next erasure, or this call again,
        finishes them.
        """
        import time

        if self._depth:
            msg = "purge_erased cannot run inside a transaction (VACUUM cannot)"
            raise LedgerError(msg)
        done: list[str] = []
        with self._lock:
            pending = self._pending()
            for table in sorted(pending, key=ERASED_TABLES.index):
                for attempt in range(PURGE_ATTEMPTS):
                    try:
                        self._x(f"SET lock_timeout = {int(PURGE_LOCK_TIMEOUT * 1000)}")
                        self._x(f"VACUUM (FULL) {table}")
                        break
                    except self._psycopg.errors.LockNotAvailable:
                        if attempt + 1 == PURGE_ATTEMPTS:
                            msg = (
                                f"ledger {self.path}: the erased rows are deleted, but table {table} stayed locked "
                                f"by another session, so its files may still hold their bytes; run the same "
                                f"forget again once long transactions on the ledger have ended "
                                f"(pending: {', '.join(sorted(pending))})"
                            )
                            raise LedgerError(msg) from None
                        time.sleep(PURGE_PAUSE * (attempt + 1))
                    finally:
                        self._x("RESET lock_timeout")
                pending.discard(table)
                with self.transaction():
                    self._set_pending(pending)
                done.append(table)
        return done

    # -- figures ----------------------------------------------------------------

    def count(self, table: str, client: str | None = None) -> int:
        """Rows of a ledger table (of one client's contacts, if given; tombstones are not per client)."""
        if table not in {"contacts", "touches", "engagements", "identities", "list_members", "tombstones", "phones"}:
            msg = f"unknown ledger table {table!r}"
            raise LedgerError(msg)
        if client is None or table == "tombstones":
            row = self._x(f"SELECT COUNT(*) FROM {table}").fetchone()
        elif table == "contacts":
            row = self._x("SELECT COUNT(*) FROM contacts WHERE client = %s", (client,)).fetchone()
        else:
            row = self._x(
                f"SELECT COUNT(*) FROM {table} t JOIN contacts c ON c.id = t.contact_id WHERE c.client = %s", (client,)
            ).fetchone()
        return int(row[0]) if row else 0

    def clients(self) -> list[str]:
        """Clients that have contacts in the ledger."""
        return [c for (c,) in self._x("SELECT DISTINCT client FROM contacts ORDER BY client")]

    def weekly_pressure(
        self, now: int, policy_weights: dict[str, float], client: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(tier, weighted touches in the last 7 days capped at 5 meaning 5+, contacts)."""
        since = now - 7 * 86400
        cases = " ".join(f"WHEN %s THEN {float(w)!r}::float8" for w in policy_weights.values())
        weight = f"COALESCE(t.weight, CASE t.family {cases} ELSE 1.0 END)" if cases else "COALESCE(t.weight, 1.0)"
        with self._lock:
            self._score_table()
            where, params = ("WHERE c.client = %s", [client]) if client is not None else ("", [])
            unscored = self.default_score[0] if self.scores_at == now else "unscored"
            rows = self._x(
                f"""SELECT COALESCE(s.tier, %s) AS tier, LEAST(FLOOR(COALESCE(p.n, 0))::int, 5) AS level,
                           COUNT(*) FROM contacts c
                    LEFT JOIN pg_temp.scores s ON s.contact_id = c.id
                    LEFT JOIN (SELECT contact_id, SUM({weight}) AS n FROM touches t
                               WHERE at > %s AND at <= %s GROUP BY contact_id) p
                           ON p.contact_id = c.id
                    {where}
                    GROUP BY 1, 2 ORDER BY 1, 2""",
                [unscored, *policy_weights.keys(), since, now, *params],
            ).fetchall()
        return [(tier, int(level), int(n)) for tier, level, n in rows]

    def watermarks(self) -> list[tuple[str, str, int]]:
        """Every watermark: (key, state as JSON, when it was written), by key."""
        return self._x("SELECT account, state, updated_at FROM watermarks ORDER BY account").fetchall()

    def list_sizes(self) -> list[tuple[str, str, int]]:
        """Confirmed members per list: (account, list, count)."""
        return self._x(
            "SELECT account, list, COUNT(*) FROM list_members GROUP BY account, list ORDER BY account, list"
        ).fetchall()

    def touch_counts(self, by: str, client: str | None = None) -> list[tuple[str, int]]:
        """Touches per channel, brand, family or account (of one client's contacts, if given), most first."""
        if by not in {"channel", "brand", "family", "account"}:
            msg = f"cannot group touches by {by!r}"
            raise LedgerError(msg)
        if client is None:
            return self._x(f"SELECT {by}, COUNT(*) FROM touches GROUP BY {by} ORDER BY COUNT(*) DESC, {by}").fetchall()
        return self._x(
            f"SELECT t.{by}, COUNT(*) FROM touches t JOIN contacts c ON c.id = t.contact_id WHERE c.client = %s "
            f"GROUP BY t.{by} ORDER BY COUNT(*) DESC, t.{by}",
            (client,),
        ).fetchall()

    # -- set-wise reads behind suppression lists (see ledger.lists) -------------

    def paused_contacts(self, now: int) -> list[int]:
        """Contacts paused past ``now``."""
        return [cid for (cid,) in self._x("SELECT id FROM contacts WHERE paused_until > %s", (now,))]

    def low_capital_contacts(self, threshold: float) -> list[int]:
        """Contacts whose capital in the score table is below ``threshold``."""
        with self._lock:
            self._score_table()
            return [cid for (cid,) in self._x("SELECT contact_id FROM pg_temp.scores WHERE capital < %s", (threshold,))]

    def contact_timezones(self) -> set[str | None]:
        """Every time zone contacts have (None for contacts without one)."""
        return {z for (z,) in self._x("SELECT DISTINCT timezone FROM contacts")}

    def _limit_columns(self, attribute: str | None) -> tuple[str, list[Any]]:
        if attribute is not None:
            return ", COALESCE(s.tier, %s), c.attributes -> %s::text", [self.default_score[0], attribute]
        return ", COALESCE(s.tier, %s), NULL", [self.default_score[0]]

    def cap_sums(
        self,
        *,
        until: int,
        counts: TouchFilter,
        scope: Scope,
        groups: Mapping[str, str | None],
        weights: Mapping[str, float],
        since: int | None = None,
        period_starts: Mapping[str, int] | None = None,
        default_tz: str = "UTC",
        per_contact: bool = False,
        attribute: str | None = None,
        floor: SumFloor | None = None,
    ) -> Iterator[tuple[int, str, float, str | None, Any]]:
        """(contact id, scope key, weighted sum, tier, attribute) of counted touches in a period.

        As :meth:`pressure_sdk.ledger.Ledger.cap_sums`: the period is ``(since, until]`` or,
        with ``period_starts``, from each contact's local period start to ``until``.
        """
        key_sql, key_params = _scope_sql(scope, groups, "t.")
        weight_sql, weight_params = _weight_sql(weights, "t.")
        filt_sql, filt_params = _filters(counts, "t.")
        params: list[Any] = [*key_params, *weight_params]
        inner = f"SELECT t.contact_id, {_q(key_sql)} AS k, SUM({_q(weight_sql)}) AS total FROM touches t"
        if period_starts is not None:
            whens = " ".join("WHEN %s THEN %s" for _ in period_starts)
            inner += f" JOIN contacts c ON c.id = t.contact_id WHERE t.at >= CASE COALESCE(c.timezone, %s) {whens} END"
            params += [default_tz, *(x for z, s in sorted(period_starts.items()) for x in (z, s))]
        else:
            assert since is not None
            inner += " WHERE t.at > %s"
            params.append(since)
        inner += f" AND t.at <= %s{_q(filt_sql)} GROUP BY 1, 2"
        params += [until, *filt_params]
        tiered = floor is not None and floor.tiers is not None
        outer_cols, outer_params = self._limit_columns(attribute) if per_contact else ("", [])
        join = ""
        if per_contact or tiered:
            with self._lock:
                self._score_table()
            join = " JOIN contacts c ON c.id = x.contact_id LEFT JOIN pg_temp.scores s ON s.contact_id = x.contact_id"
        where, where_params = "", cast(list[Any], [])
        if floor is not None and floor.fixed is not None:
            where, where_params = " WHERE x.total + %s > %s", [floor.heaviest, floor.fixed]
        elif floor is not None and floor.tiers is not None:
            whens = " ".join("WHEN %s THEN %s" for _ in floor.tiers)
            where = f" WHERE x.total + %s > CASE COALESCE(s.tier, %s) {whens} ELSE %s END"
            where_params = [
                floor.heaviest,
                self.default_score[0],
                *(x for kv in sorted(floor.tiers.items()) for x in kv),
                floor.default,
            ]
        sql = f"SELECT x.contact_id, x.k, x.total{outer_cols} FROM ({inner}) x{join}{where}"
        for row in self._stream(sql, [*outer_params, *params, *where_params]):
            yield (row[0], row[1], row[2], row[3] if per_contact else None, row[4] if per_contact else None)

    def account_limits(self, account: str, attribute: str | None) -> Iterator[tuple[int, str, Any]]:
        """(contact id, tier, attribute value) of every contact of ``account``."""
        extra_sql, extra_params = self._limit_columns(attribute)
        with self._lock:
            self._score_table()
        return self._stream(
            f"SELECT c.id{extra_sql} FROM identities i JOIN contacts c ON c.id = i.contact_id "
            "LEFT JOIN pg_temp.scores s ON s.contact_id = c.id WHERE i.account = %s",
            [*extra_params, account],
        )

    def gap_hits(
        self, *, since: int, until: int, counts: TouchFilter, scope: Scope, groups: Mapping[str, str | None]
    ) -> Iterator[tuple[int, str]]:
        """(contact id, scope key) of contacts with a counted touch in ``(since, until]``."""
        key_sql, key_params = _scope_sql(scope, groups)
        filt_sql, filt_params = _filters(counts)
        sql = f"SELECT DISTINCT contact_id, {_q(key_sql)} FROM touches WHERE at > %s AND at <= %s{_q(filt_sql)}"
        return self._stream(sql, [*key_params, since, until, *filt_params])

    def events_between(
        self, since: int, until: int, types: Iterable[str]
    ) -> Iterator[tuple[int, str | None, str | None, str | None]]:
        """(contact id, channel, brand, product) of engagements of ``types`` in ``(since, until]``."""
        return self._stream(
            "SELECT contact_id, channel, brand, product FROM engagements WHERE at > %s AND at <= %s AND type = ANY(%s)",
            (since, until, sorted(types)),
        )

    def account_contacts(self, account: str, among: Iterable[int] | None = None) -> set[int]:
        """The contacts ``account`` holds (its audience and contacts with events there), or those of ``among``."""
        if among is None:
            rows = self._x("SELECT contact_id FROM identities WHERE account = %s", (account,))
        else:
            rows = self._x(
                "SELECT contact_id FROM identities WHERE account = %s AND contact_id = ANY(%s)",
                (account, sorted(among)),
            )
        return {cid for (cid,) in rows}

    # -- experiments ------------------------------------------------------------

    def experiment_outcomes(self, client: str, *, since: int, until: int, pre_since: int) -> Iterator[ContactOutcome]:
        """Every contact of ``client`` with its outcomes in ``[since, until)`` and pre-period ``[pre_since, since)``.

        One set-wise query (see :meth:`pressure_sdk.ledger.Ledger.experiment_outcomes`).
        """
        e_lo = min(pre_since, since)
        sql = """
            SELECT c.id, c.email, COALESCE(t.n, 0),
                   COALESCE(e.clicks, 0), COALESCE(e.purchases, 0), COALESCE(e.revenue, 0.0),
                   COALESCE(e.unsubs, 0), COALESCE(e.complaints, 0),
                   COALESCE(e.pre_clicks, 0), COALESCE(e.pre_revenue, 0.0),
                   COALESCE(e.pre_unsubs, 0), COALESCE(e.pre_complaints, 0)
            FROM contacts c
            LEFT JOIN (SELECT contact_id, COUNT(*) AS n FROM touches
                       WHERE at >= %(since)s AND at < %(until)s GROUP BY contact_id) t
                   ON t.contact_id = c.id
            LEFT JOIN (SELECT contact_id,
                              COUNT(*) FILTER (WHERE at >= %(since)s AND type = 'click') AS clicks,
                              COUNT(*) FILTER (WHERE at >= %(since)s AND type = 'purchase') AS purchases,
                              SUM(COALESCE(amount, 0)) FILTER (WHERE at >= %(since)s AND type = 'purchase') AS revenue,
                              COUNT(*) FILTER (WHERE at >= %(since)s AND type = 'unsubscribe') AS unsubs,
                              COUNT(*) FILTER (WHERE at >= %(since)s AND type = 'complaint') AS complaints,
                              COUNT(*) FILTER (WHERE at < %(since)s AND type = 'click') AS pre_clicks,
                              SUM(COALESCE(amount, 0)) FILTER (WHERE at < %(since)s AND type = 'purchase')
                                  AS pre_revenue,
                              COUNT(*) FILTER (WHERE at < %(since)s AND type = 'unsubscribe') AS pre_unsubs,
                              COUNT(*) FILTER (WHERE at < %(since)s AND type = 'complaint') AS pre_complaints
                       FROM engagements
                       WHERE at >= %(lo)s AND at < %(until)s
                         AND type IN ('click', 'purchase', 'unsubscribe', 'complaint')
                       GROUP BY contact_id) e
                   ON e.contact_id = c.id
            WHERE c.client = %(client)s
            ORDER BY c.id"""
        with self._lock:
            rows = self._x(sql, {"since": since, "until": until, "lo": e_lo, "client": client}).fetchall()
        for row in rows:
            yield ContactOutcome(
                int(row[0]),
                row[1],
                int(row[2]),
                int(row[3]),
                int(row[4]),
                float(row[5]),
                int(row[6]),
                int(row[7]),
                int(row[8]),
                float(row[9]),
                int(row[10]),
                int(row[11]),
            )

    def experiment_stops(self) -> list[ArmStop]:
        """Every arm stopped automatically, by experiment and arm."""
        rows = self._x("SELECT experiment, arm, at, reason FROM experiment_stops ORDER BY 1, 2").fetchall()
        return [ArmStop(e, a, int(at), r) for e, a, at, r in rows]

    def stop_arm(self, stop: ArmStop) -> bool:
        """Record that an arm stopped; returns False (and changes nothing) if it already was."""
        with self.transaction():
            cur = self._x(
                "INSERT INTO experiment_stops(experiment, arm, at, reason) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (experiment, arm) DO NOTHING",
                (stop.experiment, stop.arm, stop.at, stop.reason),
            )
            return cur.rowcount > 0

    # -- measurement (DESIGN §8) ------------------------------------------------

    def keep_scores(self) -> None:
        """Keep a copy of the score table as the tiers at the start of the month measured next."""
        with self._lock:
            self._score_table()
            for stmt in MeasureSQL("postgresql").keep():
                self._x(stmt)
        self._kept_default = self.default_score[0]

    def measure_month(
        self,
        *,
        since: int,
        until: int,
        weights: Mapping[str, float],
        counts: TouchFilter,
        level_cap: int,
        last_tier: str,
        end_scored: bool,
    ) -> MonthCells:
        """Messages sent in ``[since, until)`` matching ``counts``, grouped by client, tier and level.

        Tiers are those kept by :meth:`keep_scores`; with ``end_scored`` the score table
        holds the tiers as of ``until``, and contacts who fell to ``last_tier`` or stayed are counted.
        """
        kept = getattr(self, "_kept_default", None)
        if kept is None:
            msg = "measure_month needs the tiers at the month's start: call keep_scores() first"
            raise LedgerError(msg)

        def run(sql: str, params: Sequence[Any]) -> list[Any]:
            cur = self._x(_q(sql), params)
            return cur.fetchall() if cur.description is not None else []

        with self._lock:
            self._score_table()
            return month_cells(
                run,
                MeasureSQL("postgresql"),
                since=since,
                until=until,
                weights=weights,
                counts=counts,
                level_cap=level_cap,
                start_default=kept,
                end_default=self.default_score[0] if end_scored else None,
                last_tier=last_tier,
            )

    # -- value and audit ----------------------------------------------------------

    def value_facts(
        self, client: str, until: int, types: Iterable[str], contact_ids: Sequence[int] | None = None
    ) -> Iterator[ValueFact]:
        """Per contact of ``client``, its events of ``types`` at or before ``until``, grouped by
        type, brand and currency, ordered by contact: one aggregate over the client's engagements."""
        ts = sorted(set(types))
        if not ts:
            return iter(())
        only, params = "", []
        if contact_ids is not None:
            only, params = " AND e.contact_id = ANY(%s)", [sorted(set(contact_ids))]
        rows = self._x(
            "SELECT e.contact_id, c.first_seen, e.type, e.brand, e.currency, "
            "SUM(CASE WHEN e.amount < 0 THEN 0 ELSE 1 END)::bigint, "
            f"COUNT(DISTINCT CASE WHEN e.amount < 0 THEN NULL ELSE e.at / {DAY} END), "
            "SUM(CASE WHEN e.amount < 0 THEN 1 ELSE 0 END)::bigint, MIN(e.at), MAX(e.at), "
            "COALESCE(SUM(e.amount), 0.0), COUNT(e.amount) "
            "FROM engagements e JOIN contacts c ON c.id = e.contact_id "
            f"WHERE c.client = %s AND e.at <= %s AND e.type = ANY(%s){only} "
            "GROUP BY e.contact_id, c.first_seen, e.type, e.brand, e.currency "
            "ORDER BY e.contact_id, e.type, COALESCE(e.brand, ''), COALESCE(e.currency, '')",
            [client, until, ts, *params],
        ).fetchall()
        return (ValueFact(*row) for row in rows)

    def history_of(self, contact_id: int) -> ContactTimeline:
        """Every touch and engagement of one contact, oldest first, and the accounts that know it."""
        touches = self._x(
            "SELECT at, channel, brand, family, weight, account, campaign, product FROM touches "
            "WHERE contact_id = %s ORDER BY at, uid",
            (contact_id,),
        ).fetchall()
        engagements = self._x(
            "SELECT at, type, channel, brand, product, account, amount, currency FROM engagements "
            "WHERE contact_id = %s ORDER BY at, uid",
            (contact_id,),
        ).fetchall()
        identities = self._x(
            "SELECT account, external_id FROM identities WHERE contact_id = %s ORDER BY account", (contact_id,)
        ).fetchall()
        return ContactTimeline(
            tuple(HistoryTouch(*r) for r in touches),
            tuple(HistoryEngagement(*r) for r in engagements),
            tuple((a, x) for a, x in identities),
        )


def _target_key(account: str, list_name: str) -> str:
    # PostgreSQL text holds no NUL: the unit separator keeps account and list apart
    return f"list-target\x1f{account}\x1f{list_name}"


def _contact_row(row: Sequence[Any]) -> ContactRow:
    return ContactRow(
        id=row[0],
        client=row[1],
        email=row[2],
        timezone=row[3],
        paused_until=row[4],
        attributes=dict(row[5]) if row[5] else {},
        first_seen=row[6],
    )


class PostgresRunLock:
    """One run at a time per workspace and client, across machines: session advisory locks.

    Each key (the workspace's name and a client) is an advisory lock held by a connection
    of its own for the run's duration; a run of other clients takes other keys and does not
    wait. A dead process's session ends and its locks with it (no stale lock to take over).
    """

    def __init__(self, url: str, workspace: str, clients: Sequence[str], *, wait: float = 0.0, poll: float = 0.2):
        self.url = url
        self.keys = sorted({(_key32("run", workspace, c), c) for c in clients})
        self.wait = wait
        self.poll = poll
        self._conn: Any = None

    def acquire(self) -> None:
        """Take every client's lock, waiting up to ``wait`` seconds; LockedError if a run keeps one."""
        import time

        psycopg, _ = _import_psycopg()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=15)
        except Exception as exc:
            msg = f"ledger {redact_url(self.url)}: cannot connect to PostgreSQL: {exc}"
            raise LedgerError(msg) from None
        deadline = time.monotonic() + self.wait
        taken: list[int] = []
        try:
            for key, client in self.keys:
                while True:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK_SPACE, key)).fetchone()
                    if row and row[0]:
                        taken.append(key)
                        break
                    if time.monotonic() >= deadline:
                        msg = (
                            f"another pressure-sync run holds the lock of client {client!r} on "
                            f"{redact_url(self.url)}; wait for it to finish or pass --wait SECONDS"
                        )
                        raise LockedError(msg)
                    time.sleep(self.poll)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def release(self) -> None:
        """Let the next run in: closing the session ends its advisory locks."""
        if self._conn is not None:
            self._conn.close()  # the session's advisory locks end with it
            self._conn = None

    def __enter__(self) -> PostgresRunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
