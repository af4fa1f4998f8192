"""Ledger storage on SQLite through sqlite-utils.

Hot paths use the connection directly with ``executemany``; sqlite-utils owns the
database object, transactions (``atomic``) and migrations.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from ..errors import LedgerError
from ..models import CLIENT_WIDE, CONSENT_TYPES, Batch, ContactUpdate, Opposition, Touch, consent_row, normalize_email
from ..phones import is_phone_key, key_phone, phone_key
from . import text
from .facts import DAY, ContactTimeline, HistoryEngagement, HistoryTouch, ValueFact
from .lists import ListQueries, TouchFilter
from .measure import MeasureSQL, MonthCells, month_cells
from .outcomes import ArmStop, ContactOutcome
from .phones import PhonePlan, route_phones
from .schema import BUCKET_SHIFT, migrations

_CHUNK = 500  # bound parameters per IN (…) query, well under SQLite's limit
_UID_MASK = (1 << 63) - 1
_CONTACT_CACHE = 200_000
#: the client of a workspace that declares none (and of ledgers made before clients)
DEFAULT_CLIENT = "default"
_CONTACT_COLS = "c.id, c.client, c.email, c.timezone, c.paused_until, c.attributes, c.first_seen"


def event_uid(account: str, event_id: str) -> int:
    """Stable 63-bit key of a source event: the same event always maps to the same row."""
    return _uid_maker(account)(event_id)


def _uid_maker(account: str) -> Callable[[str], int]:
    prefix = f"{account}\x00".encode()
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes

    def uid(event_id: str) -> int:
        return from_bytes(blake2b(prefix + event_id.encode(), digest_size=8).digest(), "big") & _UID_MASK

    return uid


def buckets(since: int, until: int) -> list[int]:
    """Buckets covering ``[since, until]``."""
    return list(range(since >> BUCKET_SHIFT, (until >> BUCKET_SHIFT) + 1))


@dataclass(slots=True, frozen=True)
class ContactRow:
    """One contact of one client, as stored."""

    id: int
    client: str
    email: str
    timezone: str | None
    paused_until: int | None
    attributes: dict[str, Any]
    first_seen: int | None


#: one consent change: (at, channel, brand or '*' for client-wide, status)
ConsentEntry = tuple[int, str, str, str]


@dataclass(slots=True, frozen=True)
class ContactHistory:
    """What a decision about one contact reads, in one call (see ``contact_history``)."""

    contact: ContactRow
    #: the consent log, oldest first
    consent: list[ConsentEntry]
    #: (at, type, channel, brand, product) in the engagements' window, by time
    engagements: list[tuple[int, str, str | None, str | None, str | None]]
    #: (at, channel, brand, family, weight) in the touches' window, by time
    touches: list[tuple[int, str, str, str, float | None]]
    #: whether the account asked about already knows the contact (None: not asked)
    known_to_account: bool | None = None


@dataclass(slots=True)
class IngestResult:
    """What one or more ingested batches added to the ledger."""

    touches_added: int = 0
    engagements_added: int = 0
    contacts_added: int = 0
    skipped_erased: int = 0
    contact_ids: set[int] = field(default_factory=set)

    def merge(self, other: IngestResult) -> None:
        """Add ``other``'s figures to these."""
        self.touches_added += other.touches_added
        self.engagements_added += other.engagements_added
        self.contacts_added += other.contacts_added
        self.skipped_erased += other.skipped_erased
        self.contact_ids |= other.contact_ids


@dataclass(slots=True, frozen=True)
class Member:
    """A list member as a connector needs it."""

    contact_id: int
    email: str
    external_id: str | None


class LedgerPathError(LedgerError):
    """The ledger's path cannot be used: a file where a folder should be, a folder or a file
    the user cannot write, a read-only database. The message names the path and what to do."""

    exit_code = 2


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def path_problem(path: str | Path, exc: BaseException, what: str = "ledger") -> str:
    """What is wrong with the ledger's (or its lock's) path, for people: the path, the cause, the fix."""
    p = Path(path)
    fix = "or set the workspace's `ledger` to a path you can write"
    user = _user()
    for parent in reversed(p.parents):
        if parent.exists() and not parent.is_dir():
            return f"{what} {path}: {parent} is a file, not a folder; move it away {fix}"
    if p.is_dir():
        return f"{what} {path} is a folder, not a file; name a file in it, such as {p / 'ledger.db'}"
    folder = p.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    text = str(exc)
    if isinstance(exc, PermissionError) or "unable to open" in text:
        if not p.exists():
            return (
                f"{what} {path}: cannot create it in {folder}: permission denied for user {user}; "
                f"make {folder} writable by {user} {fix}"
            )
        return (
            f"{what} {path}: cannot open it: permission denied for user {user}; "
            f"make it and its folder {p.parent} readable and writable by {user} {fix}"
        )
    if "readonly" in text or "read-only" in text:
        # SQLite gives the -wal and -shm files it creates the database's mode: a file made
        # read-only once leaves them read-only too
        beside = (p, p.parent, p.with_name(f"{p.name}-wal"), p.with_name(f"{p.name}-shm"))
        locked = [str(x) for x in beside if x.exists() and not os.access(x, os.W_OK)]
        which = ", ".join(locked) if locked else f"the file or its folder {p.parent}"
        return (
            f"{what} {path} is read-only for user {user}: {which} cannot be written "
            f"(SQLite also writes {p.name}-wal and {p.name}-shm beside it); make "
            f"{'it' if len(locked) == 1 else 'them'} writable by {user} (e.g. chmod u+w) {fix}"
        )
    return f"{what} {path}: {text}; check the path and its permissions {fix}"


def _is_path_problem(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, OSError) or any(k in text for k in ("unable to open", "readonly", "read-only"))


@dataclass(slots=True, frozen=True)
class RunRecord:
    """One run of the history (see :meth:`Ledger.runs`)."""

    id: int
    started_at: float
    finished_at: float | None
    #: running, ok, failed, interrupted, aborted or died
    result: str
    exit_code: int | None
    #: the instant the run was told to evaluate lists at (``--now``), if any
    now: int | None
    pid: int | None
    #: the run's JSON report, when it finished
    report: dict[str, Any] | None
    #: why it did not finish, when it did not
    error: str | None

    @property
    def duration(self) -> float | None:
        """Seconds the run took; None while it runs or if it never ended."""
        return None if self.finished_at is None else self.finished_at - self.started_at


#: how many runs the history keeps
RUNS_KEPT = 1000


class Ledger(ListQueries):
    """The pressure ledger: one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path = ":memory:", *, cache_mb: int = 64) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerPathError(path_problem(self.path, exc)) from None
        try:
            conn = self._open(cache_mb)
        except sqlite3.DatabaseError as exc:
            if self.path != ":memory:" and _is_path_problem(exc):
                raise LedgerPathError(path_problem(self.path, exc)) from None
            msg = f"{self.path}: cannot open the ledger: {exc} (is it a pressure-sdk ledger file?)"
            raise LedgerError(msg) from None
        self.conn = conn
        self._lock = threading.RLock()
        #: (client, email) -> (contact id, first_seen, bit mask of accounts known to know it);
        #: bounded, first in first out; tuples of ints stay out of the garbage collector's way
        self._ids: OrderedDict[tuple[str, str], tuple[int, int | None, int]] = OrderedDict()
        #: the evaluation time of the scores in the connection's temporary table, if any
        self.scores_at: int | None = None
        #: (tier, capital) of contacts the score table has no row for
        self.default_score: tuple[str, float] = ("unscored", 0.0)
        self._account_bits: dict[str, int] = {}
        #: contacts this object created, for ingest figures
        self.contacts_created = 0
        self._salt = self._meta_salt()

    # -- plumbing ---------------------------------------------------------------

    # Switching a new file to WAL takes an exclusive lock that SQLite's busy handler does
    # not wait for: processes opening one new ledger at once retry for a short while.
    @retry(
        retry=retry_if_exception(lambda e: isinstance(e, sqlite3.OperationalError) and "locked" in str(e)),
        wait=wait_random(0.01, 0.1),
        stop=stop_after_delay(30),
        reraise=True,
    )
    def _open(self, cache_mb: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            self.db = Database(conn)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Erasure must leave nothing readable in the file's free pages.
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
            # Checkpoints (and their fsyncs) land inside some unlucky write: make them rarer.
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            # Several processes may open a new file at once: migrate under the write lock.
            conn.execute("BEGIN IMMEDIATE")
            try:
                migrations.apply(self.db)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def migrations(self) -> list[str]:
        """Names of the migrations applied to this ledger, in order."""
        rows = self.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY name", (migrations.name,)
        )
        return [name for (name,) in rows]

    def close(self) -> None:
        """Close the connection (a write in progress is rolled back)."""
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``immediate`` takes the write lock before reading."""
        with self._lock:
            try:
                if immediate and not self.conn.in_transaction:
                    self.conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield self.conn
                    except BaseException:
                        self.conn.execute("ROLLBACK")
                        raise
                    self.conn.execute("COMMIT")
                elif self.conn.in_transaction:
                    # nested in the caller's transaction, which commits or rolls back the whole
                    yield self.conn
                else:
                    with self.db.atomic():
                        yield self.conn
            except BaseException:
                # ids cached inside a rolled-back transaction may not exist any more
                self._ids.clear()
                raise

    @contextmanager
    def scratch(self) -> Iterator[None]:
        """Everything written inside is rolled back at the end: dry runs leave the ledger as it was.

        Holds the write lock until it ends (readers are not blocked).
        """
        with self._lock:
            if self.conn.in_transaction:
                msg = "a dry run cannot start inside another transaction"
                raise LedgerError(msg)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                self.conn.execute("ROLLBACK")
                self._ids.clear()
                self.scores_at = None

    def check_writable(self) -> None:
        """Raise :class:`LedgerPathError` unless the ledger can be written (nothing is changed).

        A read-only file, or a folder where SQLite cannot write its journal, opens fine for
        reading: a run must learn it before it pulls anything.
        """
        if self.path == ":memory:":
            return
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._write_problem(exc) from None
            try:
                self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('write_check', '1')")
            except sqlite3.OperationalError as exc:
                raise self._write_problem(exc) from None
            finally:
                self.conn.execute("ROLLBACK")

    def _write_problem(self, exc: sqlite3.OperationalError) -> LedgerError:
        if "locked" in str(exc):
            return LedgerError(f"ledger {self.path}: another process keeps it locked for writing ({exc})")
        return LedgerPathError(path_problem(self.path, exc))

    def _meta_salt(self) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key='tombstone_salt'").fetchone()
        if row:
            return str(row[0])
        salt = os.urandom(16).hex()
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('tombstone_salt', ?)", (salt,))
        return str(self.conn.execute("SELECT value FROM meta WHERE key='tombstone_salt'").fetchone()[0])

    def _tombstone(self, client: str, email: str) -> str:
        # ledgers made before clients hashed the email alone: their client keeps that form
        key = email if client == DEFAULT_CLIENT else f"{client}\x00{email}"
        return hashlib.sha256(f"{self._salt}:{key}".encode()).hexdigest()

    # -- contacts ---------------------------------------------------------------

    def _resolve(self, first_seen: dict[str, int | None], account: str, client: str) -> dict[str, int]:
        """Contact ids of normalized emails, creating missing contacts (never erased ones).

        Keeps each contact's first_seen at its earliest known event and records that
        ``account`` knows it. A bounded cache of (id, first_seen, accounts) spares the
        lookups and no-op writes a time-ordered import would otherwise make per row.
        """
        cache = self._ids
        missing = [e for e in first_seen if (client, e) not in cache]
        if missing:
            self._load_known(client, missing)
            new = [e for e in missing if (client, e) not in cache]
            if new:
                dead = self._erased(client, new)
                n0 = self.conn.total_changes
                self.conn.executemany(
                    "INSERT OR IGNORE INTO contacts(client, email, first_seen) VALUES (?, ?, ?)",
                    [(client, e, first_seen[e]) for e in new if e not in dead],
                )
                self.contacts_created += self.conn.total_changes - n0
                self._load_known(client, new)
        out: dict[str, int] = {}
        earlier: list[tuple[int, int, int]] = []
        unknown_to_account: list[tuple[str, int]] = []
        bit = self._account_bits.setdefault(account, 1 << len(self._account_bits))
        get = cache.get
        for e, at in first_seen.items():
            known = get((client, e))
            if known is None:  # erased
                continue
            cid, seen, mask = known
            out[e] = cid
            if at is not None and (seen is None or at < seen):
                earlier.append((at, cid, at))
                seen = at
            if not mask & bit:
                unknown_to_account.append((account, cid))
                mask |= bit
            if known[1] != seen or known[2] != mask:
                cache[client, e] = (cid, seen, mask)
        if earlier:
            self.conn.executemany(
                "UPDATE contacts SET first_seen = ? WHERE id = ? AND (first_seen IS NULL OR first_seen > ?)", earlier
            )
        if unknown_to_account:
            self.conn.executemany(
                "INSERT OR IGNORE INTO identities(account, contact_id) VALUES (?,?)", unknown_to_account
            )
        while len(cache) > _CONTACT_CACHE:
            cache.popitem(last=False)
        return out

    def _load_known(self, client: str, emails: Sequence[str]) -> None:
        # Which accounts know a contact is not read back: the identity insert that follows
        # a miss is an INSERT OR IGNORE, cheaper than looking it up.
        for i in range(0, len(emails), _CHUNK):
            chunk = emails[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for email, cid, seen in self.conn.execute(
                f"SELECT email, id, first_seen FROM contacts WHERE client = ? AND email IN ({marks})", [client, *chunk]
            ):
                self._ids[client, email] = (cid, seen, 0)

    def _erased(self, client: str, emails: Sequence[str]) -> set[str]:
        if not self.conn.execute("SELECT 1 FROM tombstones LIMIT 1").fetchone():
            return set()
        hashes = {self._tombstone(client, e): e for e in emails}
        found: set[str] = set()
        keys = list(hashes)
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for (h,) in self.conn.execute(f"SELECT hash FROM tombstones WHERE hash IN ({marks})", chunk):
                found.add(hashes[h])
        return found

    def contact(self, email: str, client: str = DEFAULT_CLIENT) -> ContactRow | None:
        """The contact of ``client`` with this email (normalized first), or None."""
        row = self.conn.execute(
            f"SELECT {_CONTACT_COLS} FROM contacts c WHERE c.client = ? AND c.email = ?",
            (client, normalize_email(email)),
        ).fetchone()
        return _contact_row(row) if row else None

    def contact_and_consent(
        self, email: str, client: str = DEFAULT_CLIENT
    ) -> tuple[ContactRow | None, list[ConsentEntry]]:
        """A contact and its consent log, oldest first, in one query (the hot path of decide and reserve)."""
        row = self.conn.execute(
            f"SELECT {_CONTACT_COLS}, "
            "(SELECT group_concat(at || char(31) || channel || char(31) || brand || char(31) || status, char(30)) "
            "FROM consent WHERE contact_id = c.id) FROM contacts c WHERE c.client = ? AND c.email = ?",
            (client, normalize_email(email)),
        ).fetchone()
        if row is None:
            return None, []
        consent: list[ConsentEntry] = []
        if row[7]:
            for item in row[7].split("\x1e"):
                at, channel, brand, status = item.split("\x1f")
                consent.append((int(at), channel, brand, status))
            consent.sort()
        return _contact_row(row), consent

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
        """A contact, its consent log, its engagements in ``(engagements_since, until]`` and its
        touches in ``(touches_since, until]`` (None if the contact is unknown): what a decision
        reads, in two queries. With ``account``, also whether that account knows the contact.
        """
        row = self.conn.execute(
            f"SELECT {_CONTACT_COLS}, "
            "(SELECT group_concat(at || char(31) || channel || char(31) || brand || char(31) || status, char(30)) "
            "FROM consent WHERE contact_id = c.id), "
            "EXISTS (SELECT 1 FROM identities WHERE account = ? AND contact_id = c.id) "
            "FROM contacts c WHERE c.client = ? AND c.email = ?",
            (account, client, normalize_email(email)),
        ).fetchone()
        if row is None:
            return None
        consent: list[ConsentEntry] = []
        if row[7]:
            for item in row[7].split("\x1e"):
                at, channel, brand, status = item.split("\x1f")
                consent.append((int(at), channel, brand, status))
            consent.sort()
        # Both windows in one statement, one index seek per bucket each; the union's rows
        # come back by table, then in primary-key order within the contact (at, uid).
        cid = row[0]
        eb, tb = buckets(engagements_since, until), buckets(touches_since, until)
        rows = self.conn.execute(
            "SELECT 0, at, uid, type, channel, brand, product FROM engagements "
            f"WHERE bucket IN ({','.join('?' * len(eb))}) AND contact_id = ? AND at > ? AND at <= ? "
            "UNION ALL SELECT 1, at, uid, channel, brand, family, weight FROM touches "
            f"WHERE bucket IN ({','.join('?' * len(tb))}) AND contact_id = ? AND at > ? AND at <= ? "
            "ORDER BY 1, 2, 3",
            [*eb, cid, engagements_since, until, *tb, cid, touches_since, until],
        ).fetchall()
        engagements: list[Any] = []
        touches: list[Any] = []
        for r in rows:
            (touches if r[0] else engagements).append(r[1:2] + r[3:])
        return ContactHistory(
            _contact_row(row),
            consent,
            engagements,
            touches,
            None if account is None else bool(row[8]),
        )

    def contacts_by_id(self, ids: Iterable[int]) -> dict[int, ContactRow]:
        """The contacts with these ids (those that exist), by id."""
        ids = list(ids)
        out: dict[int, ContactRow] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT {_CONTACT_COLS} FROM contacts c WHERE c.id IN ({marks})", chunk):
                out[row[0]] = _contact_row(row)
        return out

    def iter_contacts(self, account: str | None = None, *, page: int = 10_000) -> Iterator[ContactRow]:
        """Every contact (of one account, through its identities), in id order.

        Read in keyset pages so callers may write to the ledger while iterating.
        """
        cols = _CONTACT_COLS
        last = -1
        while True:
            if account is None:
                rows = self.conn.execute(
                    f"SELECT {cols} FROM contacts c WHERE c.id > ? ORDER BY c.id LIMIT ?", (last, page)
                ).fetchall()
            else:
                rows = self.conn.execute(
                    f"SELECT {cols} FROM identities i JOIN contacts c ON c.id = i.contact_id "
                    "WHERE i.account = ? AND c.id > ? GROUP BY c.id ORDER BY c.id LIMIT ?",
                    (account, last, page),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _contact_row(row)
            last = rows[-1][0]

    def ingest(
        self,
        batch: Batch,
        *,
        account: str,
        client: str = DEFAULT_CLIENT,
        default_brand: str | None = None,
        watermark: str | None = None,
    ) -> IngestResult:
        """Write one batch of ``client``'s data and, if it carries one, its watermark, in one transaction.

        ``watermark`` names the watermark the batch's state is kept under (default: the
        account's own; an audience pull keeps its own).
        """
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
        conn = self.conn
        if batch.touches:
            brand0 = default_brand or ""
            # The per-row hot loop: the uid hash is inlined (no call per row) and each row is
            # built in the table's column order, ready for executemany.
            prefix = f"{account}\x00".encode()
            blake2b, from_bytes, mask = hashlib.blake2b, int.from_bytes, _UID_MASK
            rows = [
                (
                    (at := t.at) >> BUCKET_SHIFT,
                    cid,
                    at,
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
            # Clustered-key order makes the inserts walk the tree once, left to right; the
            # sort is stable, so the first copy of an event still wins.
            rows.sort(key=_bucket_contact)
            n0 = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO touches VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            result.touches_added = conn.total_changes - n0
        if batch.engagements:
            erows = []
            consent: list[tuple[int, str, str, int, str]] = []
            for e in batch.engagements:
                cid = cid_of.get(e.email)
                if cid is None:
                    continue
                erows.append(
                    (
                        e.at >> BUCKET_SHIFT,
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
            erows.sort(key=_pk)  # the first copy of an event wins
            n0 = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO engagements VALUES (?,?,?,?,?,?,?,?,?,?,?)", erows)
            result.engagements_added = conn.total_changes - n0
            # A log: decisions read the latest change at or before their own time.
            conn.executemany("INSERT OR IGNORE INTO consent VALUES (?,?,?,?,?)", consent)
        if batch.contacts:
            self._update_contacts(
                batch.contacts, {raw: ids[k] for raw, k in key.items() if k in ids}, account, default_brand
            )
        return result

    # -- phones -----------------------------------------------------------------

    def phone_owners(self, client: str, numbers: Sequence[str]) -> dict[str, str]:
        """The contact key (email, or ``tel:+…``) holding each of these E.164 numbers in ``client``."""
        out: dict[str, str] = {}
        nums = list(numbers)
        for i in range(0, len(nums), _CHUNK):
            chunk = nums[i : i + _CHUNK]
            out.update(
                self.conn.execute(
                    "SELECT p.e164, c.email FROM phones p JOIN contacts c ON c.id = p.contact_id "
                    f"WHERE p.client = ? AND p.e164 IN ({','.join('?' * len(chunk))})",
                    [client, *chunk],
                ).fetchall()
            )
        return out

    def phones_of(self, contact_id: int) -> list[str]:
        """The contact's E.164 numbers, sorted."""
        return [
            p for (p,) in self.conn.execute("SELECT e164 FROM phones WHERE contact_id = ? ORDER BY e164", (contact_id,))
        ]

    def oppositions_of(self, contact_id: int) -> list[tuple[str, int]]:
        """(number, listed since) of the contact's numbers on the opposition list, oldest first."""
        return self.conn.execute(
            "SELECT o.e164, o.listed_at FROM phones p JOIN contacts c ON c.id = p.contact_id "
            "JOIN phone_oppositions o ON o.client = c.client AND o.e164 = p.e164 "
            "WHERE p.contact_id = ? ORDER BY o.listed_at, o.e164",
            (contact_id,),
        ).fetchall()

    def opposed_contacts(self, until: int) -> Iterator[tuple[int, int]]:
        """(contact id, latest listing date at or before ``until``) of contacts with a number on the opposition list."""
        return self.conn.execute(
            "SELECT p.contact_id, MAX(o.listed_at) FROM phones p "
            "JOIN phone_oppositions o ON o.client = p.client AND o.e164 = p.e164 "
            "WHERE o.listed_at <= ? GROUP BY p.contact_id ORDER BY p.contact_id",
            (until,),
        )

    def _add_oppositions(self, client: str, rows: Sequence[Opposition]) -> None:
        # a number stays listed from the earliest answer that returned it
        self.conn.executemany(
            "INSERT INTO phone_oppositions(client, e164, listed_at, source) VALUES (?,?,?,?) "
            "ON CONFLICT(client, e164) DO UPDATE SET listed_at = excluded.listed_at, source = excluded.source "
            "WHERE excluded.listed_at < phone_oppositions.listed_at",
            [(client, o.phone, o.at, o.source) for o in rows],
        )

    def _apply_phones(self, client: str, ids: dict[str, int], plan: PhonePlan) -> None:
        for old, new in plan.merges:
            into = ids.get(new)
            row = self.conn.execute("SELECT id FROM contacts WHERE client = ? AND email = ?", (client, old)).fetchone()
            if into is None or row is None or row[0] == into:
                continue
            self._merge_contact(row[0], into)
            self._ids.pop((client, old), None)
        self.conn.executemany(
            "INSERT OR IGNORE INTO phones(client, e164, contact_id) VALUES (?,?,?)",
            [(client, p, ids[k]) for k, p in plan.links if k in ids],
        )

    def _merge_contact(self, old: int, into: int) -> None:
        """Move everything of contact ``old`` (a phone-only one) to ``into``, then delete it."""
        for table in ("touches", "engagements", "consent", "identities", "list_members", "phones"):
            self.conn.execute(f"UPDATE OR IGNORE {table} SET contact_id = ? WHERE contact_id = ?", (into, old))
            self.conn.execute(f"DELETE FROM {table} WHERE contact_id = ?", (old,))
        a = self.conn.execute("SELECT attributes FROM contacts WHERE id = ?", (into,)).fetchone()
        b = self.conn.execute("SELECT attributes FROM contacts WHERE id = ?", (old,)).fetchone()
        attrs = {**(json.loads(b[0]) if b and b[0] else {}), **(json.loads(a[0]) if a and a[0] else {})}
        self.conn.execute(
            "UPDATE contacts SET first_seen = (SELECT MIN(first_seen) FROM contacts WHERE id IN (?, ?)), "
            "timezone = COALESCE(timezone, (SELECT timezone FROM contacts WHERE id = ?)), "
            "paused_until = COALESCE(paused_until, (SELECT paused_until FROM contacts WHERE id = ?)), "
            "attributes = ? WHERE id = ?",
            (into, old, old, old, json.dumps(attrs, sort_keys=True) if attrs else None, into),
        )
        self.conn.execute("DELETE FROM contacts WHERE id = ?", (old,))

    def _update_contacts(
        self, updates: list[ContactUpdate], ids: dict[str, int], account: str, brand: str | None
    ) -> None:
        for u in updates:
            cid = ids.get(u.email)
            if cid is None:
                continue
            if u.status in ("unsubscribed", "complained"):
                # The platform's own opt-out binds the account's brand; with no date it binds
                # from the start, the conservative reading. "subscribed" lifts nothing.
                self.conn.execute(
                    "INSERT OR IGNORE INTO consent VALUES (?,?,?,?,?)",
                    (cid, u.channel, brand or CLIENT_WIDE, u.status_at or 0, u.status),
                )
            row = self.conn.execute("SELECT attributes FROM contacts WHERE id = ?", (cid,)).fetchone()
            attrs = json.loads(row[0]) if row and row[0] else {}
            attrs.update(u.attributes)
            self.conn.execute(
                # An empty value never erases what another source said; a pause ends at its date.
                "UPDATE contacts SET timezone = COALESCE(?, timezone), paused_until = COALESCE(?, paused_until), "
                "attributes = ? WHERE id = ?",
                (u.timezone, u.paused_until, json.dumps(attrs, sort_keys=True) if attrs else None, cid),
            )
            if u.external_id:
                self.conn.execute(
                    "INSERT INTO identities(account, contact_id, external_id) VALUES (?,?,?) "
                    "ON CONFLICT(account, contact_id) DO UPDATE SET external_id = excluded.external_id",
                    (account, cid, u.external_id),
                )

    def add_touch(self, contact_id: int, t: Touch, *, account: str, history: ContactHistory | None = None) -> bool:
        """Record one touch of a known contact; returns whether it was new.

        ``history``, read in the same write transaction (as ``reserve()`` does), spares the
        writes that would change nothing: the identity when the account knows the contact
        already, ``first_seen`` when it is not later than the touch.
        """
        text.check_touch(t, account)
        with self._lock:
            conn = self.conn
            nested = conn.in_transaction
            if not nested:
                conn.execute("BEGIN")
            try:
                n0 = conn.total_changes
                conn.execute(
                    "INSERT OR IGNORE INTO touches VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        t.at >> BUCKET_SHIFT,
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
                    ),
                )
                added = conn.total_changes > n0
                if history is None or not history.known_to_account:
                    conn.execute(
                        "INSERT OR IGNORE INTO identities(account, contact_id) VALUES (?, ?)", (account, contact_id)
                    )
                seen = None if history is None else history.contact.first_seen
                if seen is None or seen > t.at:
                    conn.execute(
                        "UPDATE contacts SET first_seen = ? WHERE id = ? AND (first_seen IS NULL OR first_seen > ?)",
                        (t.at, contact_id, t.at),
                    )
            except BaseException:
                if not nested:
                    conn.execute("ROLLBACK")
                self._ids.clear()
                raise
            if not nested:
                conn.execute("COMMIT")
        return added

    def record(self, touches: Sequence[Touch], *, account: str = "sdk") -> IngestResult:
        """Record sends made by the caller's own code (the ``record()`` of decide/record)."""
        return self.ingest(Batch(touches=list(touches)), account=account)

    # -- reads for the policy ---------------------------------------------------

    def _window_of(self, table: str, cols: str, contact_id: int, since: int, until: int) -> list[Any]:
        # one index seek per bucket: (bucket, contact_id, at) leads the primary key
        bs = buckets(since, until)
        marks = ",".join("?" * len(bs))
        return self.conn.execute(
            f"SELECT {cols} FROM {table} WHERE bucket IN ({marks}) "
            "AND contact_id = ? AND at > ? AND at <= ? ORDER BY at",
            [*bs, contact_id, since, until],
        ).fetchall()

    def touches_of(self, contact_id: int, since: int, until: int) -> list[tuple[int, str, str, str, float | None]]:
        """(at, channel, brand, family, weight) of one contact with ``since < at <= until``."""
        return self._window_of("touches", "at, channel, brand, family, weight", contact_id, since, until)

    def engagements_of(
        self, contact_id: int, since: int, until: int
    ) -> list[tuple[int, str, str | None, str | None, str | None]]:
        """(at, type, channel, brand, product) of one contact with ``since < at <= until``."""
        return self._window_of("engagements", "at, type, channel, brand, product", contact_id, since, until)

    def consent_of(self, contact_id: int) -> list[ConsentEntry]:
        """The contact's consent log (at, channel, brand or '*', status), oldest first."""
        return self.conn.execute(
            "SELECT at, channel, brand, status FROM consent WHERE contact_id = ? ORDER BY at, channel, brand, status",
            (contact_id,),
        ).fetchall()

    def consent_log(self, channel: str, until: int) -> Iterator[tuple[int, str, int, str]]:
        """(contact_id, brand, at, status) of every consent change on ``channel`` at or before ``until``.

        Ordered by contact and time, so the last row of a contact and brand is its state then.
        """
        return self.conn.execute(
            "SELECT contact_id, brand, at, status FROM consent WHERE channel = ? AND at <= ? "
            "ORDER BY contact_id, at, status != 'subscribed'",
            (channel, until),
        )

    def scan_engagements(
        self, since: int, until: int
    ) -> Iterator[tuple[int, int, str, str | None, str | None, str | None]]:
        """(contact_id, at, type, channel, brand, product) in the window, by contact, streamed."""
        return self.conn.execute(
            "SELECT contact_id, at, type, channel, brand, product FROM engagements "
            "WHERE bucket >= ? AND bucket <= ? AND at > ? AND at <= ? ORDER BY contact_id, at",
            (since >> BUCKET_SHIFT, until >> BUCKET_SHIFT, since, until),
        )

    def start_scores(self, at: int, default: tuple[str, float]) -> None:
        """Empty the connection's temporary score table, for scores as of ``at``.

        Scores are a function of the ledger and the evaluation time (DESIGN §6.8): they
        live in a temporary table of this connection only, never in the ledger's file.
        Contacts the table has no row for have the ``default`` (tier, capital).
        """
        self._score_table()
        self.conn.execute("DELETE FROM temp.scores")
        self.scores_at = at
        self.default_score = default

    def _score_table(self) -> None:
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS scores ("
            "contact_id INTEGER PRIMARY KEY, tier TEXT, score REAL, capital REAL, care INTEGER)"
        )

    def first_seen_since(self, since: int) -> dict[int, int]:
        """Contacts first seen after ``since``, with that time."""
        return dict(self.conn.execute("SELECT id, first_seen FROM contacts WHERE first_seen > ?", (since,)))

    def first_seen_of(self, ids: Sequence[int]) -> dict[int, int | None]:
        """When each of these contacts was first seen (None when unknown), by id."""
        out: dict[int, int | None] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out.update(self.conn.execute(f"SELECT id, first_seen FROM contacts WHERE id IN ({marks})", chunk))
        return out

    def set_scores(self, rows: Iterable[tuple[str, float, float, int, int]]) -> None:
        """(tier, score, capital, care, contact_id) for each contact, in the temporary score table."""
        with self._lock:
            self.conn.executemany(
                "INSERT OR REPLACE INTO temp.scores(tier, score, capital, care, contact_id) VALUES (?,?,?,?,?)", rows
            )

    def score_of(self, contact_id: int) -> tuple[str, float, bool] | None:
        """(tier, capital, care) of a contact in the score table, as of :attr:`scores_at`."""
        if self.scores_at is None:
            return None
        row = self.conn.execute(
            "SELECT tier, capital, care FROM temp.scores WHERE contact_id = ?", (contact_id,)
        ).fetchone()
        if row is None:
            return self.default_score[0], self.default_score[1], False
        return (row[0], row[1], bool(row[2]))

    # -- watermarks -------------------------------------------------------------

    def watermark(self, account: str) -> dict[str, Any] | None:
        """The state a pull of ``account`` (or an audience key) resumes from; None before its first pull."""
        row = self.conn.execute("SELECT state FROM watermarks WHERE account = ?", (account,)).fetchone()
        return json.loads(row[0]) if row else None

    def _set_watermark(self, account: str, state: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO watermarks(account, state, updated_at) VALUES (?, ?, strftime('%s','now')) "
            "ON CONFLICT(account) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (account, json.dumps(state, sort_keys=True)),
        )

    # -- run history ------------------------------------------------------------

    def start_run(self, *, started_at: float, now: int | None = None, pid: int | None = None) -> int:
        """Record a run that starts; return its id. Call it under the workspace lock.

        Runs still marked running were left by a process that died (the lock is held by
        this one): they are marked ``died``. Only the last :data:`RUNS_KEPT` runs are kept.
        """
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET result = 'died', error = COALESCE(error, "
                "'the process ended before the run did (killed, or the machine stopped)') WHERE result = 'running'"
            )
            cur = self.conn.execute(
                "INSERT INTO runs(started_at, result, now, pid) VALUES (?, 'running', ?, ?)", (started_at, now, pid)
            )
            run_id = int(cur.lastrowid or 0)
            self.conn.execute("DELETE FROM runs WHERE id <= ?", (run_id - RUNS_KEPT,))
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
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, result = ?, exit_code = ?, report = ?, error = ? WHERE id = ?",
                (finished_at, result, exit_code, None if report is None else json.dumps(report), error, run_id),
            )

    def last_run_at(self, result: str) -> tuple[float, float | None] | None:
        """(start, end) of the last run that ended with ``result``, if any is kept."""
        row = self.conn.execute(
            "SELECT started_at, finished_at FROM runs WHERE result = ? ORDER BY id DESC LIMIT 1", (result,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def runs(self, limit: int = 10) -> list[RunRecord]:
        """The last ``limit`` runs, newest first."""
        rows = self.conn.execute(
            "SELECT id, started_at, finished_at, result, exit_code, now, pid, report, error FROM runs "
            "ORDER BY id DESC LIMIT ?",
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
        return {
            cid
            for (cid,) in self.conn.execute(
                "SELECT contact_id FROM list_members WHERE account = ? AND list = ?", (account, list_name)
            )
        }

    def members(self, account: str, contact_ids: Iterable[int]) -> list[Member]:
        """Email and the account's external id of each contact, in contact-id order."""
        ids = sorted(set(contact_ids))
        out: list[Member] = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out.extend(
                Member(cid, email, ext)
                for cid, email, ext in self.conn.execute(
                    "SELECT c.id, c.email, (SELECT external_id FROM identities i WHERE i.account = ? "
                    "AND i.contact_id = c.id) FROM contacts c "
                    f"WHERE c.id IN ({marks}) ORDER BY c.id",
                    [account, *chunk],
                )
            )
        return out

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
                self.conn.executemany(
                    "INSERT INTO identities(account, contact_id, external_id) VALUES (?,?,?) "
                    "ON CONFLICT(account, contact_id) DO UPDATE SET external_id = excluded.external_id",
                    [(account, cid, ext) for cid, ext in external_ids.items()],
                )
            self.conn.executemany(
                "INSERT OR IGNORE INTO list_members(account, list, contact_id) VALUES (?,?,?)",
                [(account, list_name, c) for c in added],
            )
            self.conn.executemany(
                "DELETE FROM list_members WHERE account = ? AND list = ? AND contact_id = ?",
                [(account, list_name, c) for c in removed],
            )

    def list_target(self, account: str, list_name: str) -> int | None:
        """The size the list was meant to have at its last push, if any."""
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key = ?", (f"list-target\x00{account}\x00{list_name}",)
        ).fetchone()
        return int(row[0]) if row else None

    def set_list_target(self, account: str, list_name: str, size: int) -> None:
        """Record the size a list is meant to have after the push that starts (the growth guard's base)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"list-target\x00{account}\x00{list_name}", str(size)),
            )

    def replace_list(self, account: str, list_name: str, contact_ids: Iterable[int]) -> None:
        """Set the confirmed state of a list to what the platform really holds (after a reconcile)."""
        with self.transaction():
            self.conn.execute("DELETE FROM list_members WHERE account = ? AND list = ?", (account, list_name))
            self.conn.executemany(
                "INSERT OR IGNORE INTO list_members(account, list, contact_id) VALUES (?,?,?)",
                [(account, list_name, c) for c in contact_ids],
            )

    def match_members(
        self, account: str, client: str, emails: Iterable[str], external_ids: Iterable[str]
    ) -> tuple[set[int], int]:
        """Contact ids of a platform list's members, by the account's external id or by email.

        Returns the ids and how many members matched no contact of ``client``.
        """
        found: set[int] = set()
        unknown = 0
        exts = sorted(set(external_ids))
        for i in range(0, len(exts), _CHUNK):
            chunk = exts[i : i + _CHUNK]
            rows = self.conn.execute(
                f"SELECT external_id, contact_id FROM identities WHERE account = ? "
                f"AND external_id IN ({','.join('?' * len(chunk))})",
                [account, *chunk],
            ).fetchall()
            found.update(cid for _, cid in rows)
            unknown += len(chunk) - len({e for e, _ in rows})
        keys = sorted({normalize_email(e) for e in emails})
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            rows = self.conn.execute(
                f"SELECT email, id FROM contacts WHERE client = ? AND email IN ({','.join('?' * len(chunk))})",
                [client, *chunk],
            ).fetchall()
            found.update(cid for _, cid in rows)
            unknown += len(chunk) - len(rows)
        return found, unknown

    # -- erasure ----------------------------------------------------------------

    def forget(self, email: str, clients: Sequence[str] = (DEFAULT_CLIENT,), *, purge: bool = True) -> list[str]:
        """Erase a contact from each of ``clients`` and keep one-way tombstones so it never comes back.

        Returns the clients it existed in. ``secure_delete`` zeroes the rows in the ledger's
        file; then, unless ``purge`` is false, :meth:`purge_erased` empties the write-ahead
        log, which still holds copies of the pages.
        """
        key = normalize_email(email)
        text.check_text(key, "email")
        found: list[str] = []
        with self.transaction():
            for client in clients:
                # a number (``tel:+…``) erases the contact holding it, whatever its key
                owner = self.phone_owners(client, [key_phone(key)]) if is_phone_key(key) else {}
                ckey = next(iter(owner.values()), key)
                row = self.conn.execute(
                    "SELECT id FROM contacts WHERE client = ? AND email = ?", (client, ckey)
                ).fetchone()
                keys = {key, ckey}
                if row:
                    keys.update(phone_key(p) for p in self.phones_of(row[0]))
                self.conn.executemany(
                    "INSERT OR IGNORE INTO tombstones(hash) VALUES (?)", [(self._tombstone(client, k),) for k in keys]
                )
                if row:
                    found.append(client)
                    cid = row[0]
                    for table in ("touches", "engagements", "consent", "identities", "list_members", "phones"):
                        self.conn.execute(f"DELETE FROM {table} WHERE contact_id = ?", (cid,))
                    self.conn.execute("DELETE FROM contacts WHERE id = ?", (cid,))
                for k in keys:
                    self._ids.pop((client, k), None)
        if purge:
            self.purge_erased()
        return found

    def purge_erased(self) -> list[str]:
        """Checkpoint and truncate the write-ahead log, so no copy of erased rows stays in the
        ledger's files; returns the tables rewritten (none: ``secure_delete`` zeroed the rows
        in place)."""
        if self.path != ":memory:" and not self.conn.in_transaction:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return []

    # -- figures ----------------------------------------------------------------

    def count(self, table: str, client: str | None = None) -> int:
        """Rows of a ledger table (of one client's contacts, if given; tombstones are not per client)."""
        if table not in {"contacts", "touches", "engagements", "identities", "list_members", "tombstones", "phones"}:
            msg = f"unknown ledger table {table!r}"
            raise LedgerError(msg)
        if client is None or table == "tombstones":
            return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        if table == "contacts":
            return int(self.conn.execute("SELECT COUNT(*) FROM contacts WHERE client = ?", (client,)).fetchone()[0])
        return int(
            self.conn.execute(
                f"SELECT COUNT(*) FROM {table} t JOIN contacts c ON c.id = t.contact_id WHERE c.client = ?", (client,)
            ).fetchone()[0]
        )

    def clients(self) -> list[str]:
        """Clients that have contacts in the ledger."""
        return [c for (c,) in self.conn.execute("SELECT DISTINCT client FROM contacts ORDER BY client")]

    def weekly_pressure(
        self, now: int, policy_weights: dict[str, float], client: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(tier, weighted touches in the last 7 days capped at 5 meaning 5+, contacts).

        Tiers come from the temporary score table (see :meth:`start_scores`); contacts it
        has no score for count as 'unscored'.
        """
        since = now - 7 * 86400
        cases = " ".join(f"WHEN ? THEN {float(w)!r}" for w in policy_weights.values())
        weight = f"COALESCE(t.weight, CASE t.family {cases} ELSE 1.0 END)" if cases else "COALESCE(t.weight, 1.0)"
        self._score_table()
        where, params = ("WHERE c.client = ?", [client]) if client is not None else ("", [])
        unscored = self.default_score[0] if self.scores_at == now else "unscored"
        return self.conn.execute(
            f"""SELECT COALESCE(s.tier, ?) AS tier, MIN(CAST(COALESCE(p.n, 0) AS INTEGER), 5) AS level,
                       COUNT(*) FROM contacts c
                LEFT JOIN temp.scores s ON s.contact_id = c.id
                LEFT JOIN (SELECT contact_id, SUM({weight}) AS n FROM touches t
                           WHERE bucket >= ? AND bucket <= ? AND at > ? AND at <= ? GROUP BY contact_id) p
                       ON p.contact_id = c.id
                {where}
                GROUP BY tier, level ORDER BY tier, level""",
            [unscored, *policy_weights.keys(), since >> BUCKET_SHIFT, now >> BUCKET_SHIFT, since, now, *params],
        ).fetchall()

    def watermarks(self) -> list[tuple[str, str, int]]:
        """Every watermark: (key, state as JSON, when it was written), by key."""
        return self.conn.execute("SELECT account, state, updated_at FROM watermarks ORDER BY account").fetchall()

    def list_sizes(self) -> list[tuple[str, str, int]]:
        """Confirmed members per list: (account, list, count)."""
        return self.conn.execute(
            "SELECT account, list, COUNT(*) FROM list_members GROUP BY account, list ORDER BY account, list"
        ).fetchall()

    def touch_counts(self, by: str, client: str | None = None) -> list[tuple[str, int]]:
        """Touches per channel, brand, family or account (of one client's contacts, if given), most first."""
        if by not in {"channel", "brand", "family", "account"}:
            msg = f"cannot group touches by {by!r}"
            raise LedgerError(msg)
        if client is None:
            return self.conn.execute(
                f"SELECT {by}, COUNT(*) FROM touches GROUP BY {by} ORDER BY COUNT(*) DESC, {by}"
            ).fetchall()
        return self.conn.execute(
            f"SELECT t.{by}, COUNT(*) FROM touches t JOIN contacts c ON c.id = t.contact_id WHERE c.client = ? "
            f"GROUP BY t.{by} ORDER BY COUNT(*) DESC, t.{by}",
            (client,),
        ).fetchall()

    # -- experiments ------------------------------------------------------------

    def experiment_outcomes(self, client: str, *, since: int, until: int, pre_since: int) -> Iterator[ContactOutcome]:
        """Every contact of ``client`` with its outcomes in ``[since, until)`` and pre-period ``[pre_since, since)``.

        One set-wise query: contacts without any touch or engagement come back with zeros,
        so an experiment's denominators are its whole population. In contact-id order.
        """
        e_lo, e_hi = min(pre_since, since), until
        sql = """
            SELECT c.id, c.email, COALESCE(t.n, 0),
                   COALESCE(e.clicks, 0), COALESCE(e.purchases, 0), COALESCE(e.revenue, 0.0),
                   COALESCE(e.unsubs, 0), COALESCE(e.complaints, 0),
                   COALESCE(e.pre_clicks, 0), COALESCE(e.pre_revenue, 0.0),
                   COALESCE(e.pre_unsubs, 0), COALESCE(e.pre_complaints, 0)
            FROM contacts c
            LEFT JOIN (SELECT contact_id, COUNT(*) AS n FROM touches
                       WHERE bucket BETWEEN ? AND ? AND at >= ? AND at < ? GROUP BY contact_id) t
                   ON t.contact_id = c.id
            LEFT JOIN (SELECT contact_id,
                              SUM(at >= ? AND type = 'click') AS clicks,
                              SUM(at >= ? AND type = 'purchase') AS purchases,
                              SUM(CASE WHEN at >= ? AND type = 'purchase' THEN COALESCE(amount, 0) ELSE 0 END)
                                  AS revenue,
                              SUM(at >= ? AND type = 'unsubscribe') AS unsubs,
                              SUM(at >= ? AND type = 'complaint') AS complaints,
                              SUM(at < ? AND type = 'click') AS pre_clicks,
                              SUM(CASE WHEN at < ? AND type = 'purchase' THEN COALESCE(amount, 0) ELSE 0 END)
                                  AS pre_revenue,
                              SUM(at < ? AND type = 'unsubscribe') AS pre_unsubs,
                              SUM(at < ? AND type = 'complaint') AS pre_complaints
                       FROM engagements
                       WHERE bucket BETWEEN ? AND ? AND at >= ? AND at < ?
                         AND type IN ('click', 'purchase', 'unsubscribe', 'complaint')
                       GROUP BY contact_id) e
                   ON e.contact_id = c.id
            WHERE c.client = ?
            ORDER BY c.id"""
        params = [
            since >> BUCKET_SHIFT,
            until >> BUCKET_SHIFT,
            since,
            until,
            *([since] * 5),
            *([since] * 4),
            e_lo >> BUCKET_SHIFT,
            e_hi >> BUCKET_SHIFT,
            e_lo,
            e_hi,
            client,
        ]
        for row in self.conn.execute(sql, params):
            yield ContactOutcome(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                float(row[5]),
                row[6],
                row[7],
                row[8],
                float(row[9]),
                row[10],
                row[11],
            )

    def experiment_stops(self) -> list[ArmStop]:
        """Every arm stopped automatically, by experiment and arm."""
        return [
            ArmStop(*row)
            for row in self.conn.execute("SELECT experiment, arm, at, reason FROM experiment_stops ORDER BY 1, 2")
        ]

    def stop_arm(self, stop: ArmStop) -> bool:
        """Record that an arm stopped; returns False (and changes nothing) if it already was."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO experiment_stops(experiment, arm, at, reason) VALUES (?, ?, ?, ?)",
                (stop.experiment, stop.arm, stop.at, stop.reason),
            )
            return cur.rowcount > 0

    # -- measurement (DESIGN §8) ------------------------------------------------

    def keep_scores(self) -> None:
        """Keep a copy of the score table as the tiers at the start of the month measured next."""
        with self._lock:
            self._score_table()
            for stmt in MeasureSQL("sqlite").keep():
                self.conn.execute(stmt)
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
            return self.conn.execute(sql, params).fetchall()

        with self._lock:
            self._score_table()
            return month_cells(
                run,
                MeasureSQL("sqlite"),
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
            ids = sorted(set(contact_ids))
            if not ids:
                return iter(())
            only, params = f" AND e.contact_id IN ({','.join('?' * len(ids))})", ids
        rows = self.conn.execute(
            "SELECT e.contact_id, c.first_seen, e.type, e.brand, e.currency, "
            "SUM(CASE WHEN e.amount < 0 THEN 0 ELSE 1 END), "
            f"COUNT(DISTINCT CASE WHEN e.amount < 0 THEN NULL ELSE e.at / {DAY} END), "
            "SUM(CASE WHEN e.amount < 0 THEN 1 ELSE 0 END), MIN(e.at), MAX(e.at), "
            "COALESCE(SUM(e.amount), 0.0), COUNT(e.amount) "
            "FROM engagements e JOIN contacts c ON c.id = e.contact_id "
            f"WHERE c.client = ? AND e.bucket <= ? AND e.at <= ? AND e.type IN ({','.join('?' * len(ts))}){only} "
            "GROUP BY e.contact_id, e.type, e.brand, e.currency "
            "ORDER BY e.contact_id, e.type, COALESCE(e.brand, ''), COALESCE(e.currency, '')",
            [client, until >> BUCKET_SHIFT, until, *ts, *params],
        )
        return (ValueFact(*row) for row in rows)

    def history_of(self, contact_id: int) -> ContactTimeline:
        """Every touch and engagement of one contact, oldest first, and the accounts that know it."""
        touches = self.conn.execute(
            "SELECT at, channel, brand, family, weight, account, campaign, product FROM touches "
            "WHERE contact_id = ? ORDER BY at, uid",
            (contact_id,),
        ).fetchall()
        engagements = self.conn.execute(
            "SELECT at, type, channel, brand, product, account, amount, currency FROM engagements "
            "WHERE contact_id = ? ORDER BY at, uid",
            (contact_id,),
        ).fetchall()
        identities = self.conn.execute(
            "SELECT account, external_id FROM identities WHERE contact_id = ? ORDER BY account", (contact_id,)
        ).fetchall()
        return ContactTimeline(
            tuple(HistoryTouch(*r) for r in touches),
            tuple(HistoryEngagement(*r) for r in engagements),
            tuple((a, x) for a, x in identities),
        )


_pk = operator.itemgetter(0, 1, 2, 3)
# (bucket, contact) is enough for the tree's locality and cheaper to compare; the sort is
# stable, so rows of one contact keep their order and the first copy of an event wins
_bucket_contact = operator.itemgetter(0, 1)


def batch_emails(batch: Batch) -> tuple[dict[str, str], dict[str, int | None]]:
    """Each raw email of a batch → its normalized key, and each key → its earliest event time.

    Sources should send normalized emails; each distinct value is normalized once anyway.
    Contacts without events get ``None``.
    """
    # Earliest time per raw email first (the per-row work), then per normalized key over
    # the distinct raw emails only.
    earliest: dict[str, int] = {}
    for group in (batch.touches, batch.engagements):
        if not group:
            continue
        emails = [ev.email for ev in group]
        ats = [ev.at for ev in group]
        if ats == sorted(ats):
            # time-ordered, as exports are: the first time an email appears is its earliest,
            # and dict() keeps the last value it is given, so feed it in reverse; then put
            # the emails back in order of appearance (contacts are created in that order)
            last_first = dict(zip(reversed(emails), reversed(ats), strict=True))
            first = {raw: last_first[raw] for raw in dict.fromkeys(emails)}
        else:
            first = {}
            get = first.get
            for raw, at in zip(emails, ats, strict=True):
                seen = get(raw)
                if seen is None or at < seen:
                    first[raw] = at
        if earliest:
            for raw, at in first.items():
                seen = earliest.get(raw)
                if seen is None or at < seen:
                    earliest[raw] = at
        else:
            earliest = first
    key: dict[str, str] = {}
    first_seen: dict[str, int | None] = {}
    for raw, at in earliest.items():
        k = key[raw] = normalize_email(raw)
        seen = first_seen.get(k)
        if seen is None or at < seen:
            first_seen[k] = at
    for c in batch.contacts:
        k = key.setdefault(c.email, normalize_email(c.email))
        first_seen.setdefault(k, None)
    return key, first_seen


def group_by_contact(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    """Consecutive rows of one contact (first column), without that column."""
    cid = None
    acc: list[tuple[Any, ...]] = []
    for row in rows:
        if row[0] != cid:
            if cid is not None:
                yield cid, acc
            cid, acc = row[0], []
        acc.append(row[1:])
    if cid is not None:
        yield cid, acc


def _contact_row(row: Sequence[Any]) -> ContactRow:
    return ContactRow(
        id=row[0],
        client=row[1],
        email=row[2],
        timezone=row[3],
        paused_until=row[4],
        attributes=json.loads(row[5]) if row[5] else {},
        first_seen=row[6],
    )
