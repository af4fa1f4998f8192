"""Ledger schema, as one named migration set.

Touches and engagements are WITHOUT ROWID tables clustered on
``(bucket, contact_id, at, uid)``: ``bucket`` is the instant shifted right by
``BUCKET_SHIFT`` (about six days), so time-ordered imports append near the end of the
tree (ingest stays cache-friendly at tens of millions of rows), a whole-ledger window
scan is a range scan, and one contact's window is a handful of index seeks, one per
bucket. ``uid`` is a 63-bit hash of (account, source event id): importing an event twice
hits the same key and changes nothing.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

BUCKET_SHIFT = 19

migrations = Migrations("pressure_sdk")


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    db.execute(
        """CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            timezone TEXT,
            paused_until INTEGER,
            attributes TEXT,
            first_seen INTEGER,
            tier TEXT,
            score REAL,
            capital REAL,
            care INTEGER NOT NULL DEFAULT 0,
            scored_at INTEGER
        )"""
    )
    db.execute(
        """CREATE TABLE identities (
            account TEXT NOT NULL,
            contact_id INTEGER NOT NULL,
            external_id TEXT,
            PRIMARY KEY (account, contact_id)
        ) WITHOUT ROWID"""
    )
    # one row per contact an account knows; external_id is the platform's own id, if any
    db.execute("CREATE INDEX identities_contact ON identities (contact_id)")
    db.execute("CREATE INDEX identities_external ON identities (account, external_id)")
    db.execute(
        """CREATE TABLE touches (
            bucket INTEGER NOT NULL,
            contact_id INTEGER NOT NULL,
            at INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            channel TEXT NOT NULL,
            brand TEXT NOT NULL,
            family TEXT NOT NULL,
            weight REAL,
            account TEXT NOT NULL,
            campaign TEXT,
            product TEXT,
            PRIMARY KEY (bucket, contact_id, at, uid)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE engagements (
            bucket INTEGER NOT NULL,
            contact_id INTEGER NOT NULL,
            at INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            type TEXT NOT NULL,
            channel TEXT,
            brand TEXT,
            product TEXT,
            account TEXT NOT NULL,
            PRIMARY KEY (bucket, contact_id, at, uid)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE consent (
            contact_id INTEGER NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (contact_id, channel)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE watermarks (
            account TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE list_members (
            account TEXT NOT NULL,
            list TEXT NOT NULL,
            contact_id INTEGER NOT NULL,
            PRIMARY KEY (account, list, contact_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX list_members_contact ON list_members (contact_id)")
    db.execute("CREATE TABLE tombstones (hash TEXT PRIMARY KEY) WITHOUT ROWID")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations(name="0002_clients_consent_log")
def _clients(db: Database) -> None:
    """Contacts keyed by (client, email); consent as a log judged at each candidate's time.

    Contacts of a ledger made before clients existed belong to the client ``default``.
    Scores (tier, capital) are no longer stored: they are a function of the ledger and
    the evaluation time, computed when needed. The consent log is rebuilt from the
    consent events already in ``engagements``; an opt-out that names no brand binds the
    whole client (``brand = '*'``), the conservative reading.
    """
    db.execute(
        """CREATE TABLE contacts_v2 (
            id INTEGER PRIMARY KEY,
            client TEXT NOT NULL,
            email TEXT NOT NULL,
            timezone TEXT,
            paused_until INTEGER,
            attributes TEXT,
            first_seen INTEGER,
            UNIQUE (client, email)
        )"""
    )
    db.execute(
        "INSERT INTO contacts_v2 (id, client, email, timezone, paused_until, attributes, first_seen) "
        "SELECT id, 'default', email, timezone, paused_until, attributes, first_seen FROM contacts"
    )
    db.execute("DROP TABLE contacts")
    db.execute("ALTER TABLE contacts_v2 RENAME TO contacts")
    db.execute("DROP TABLE consent")
    db.execute(
        """CREATE TABLE consent (
            contact_id INTEGER NOT NULL,
            channel TEXT NOT NULL,
            brand TEXT NOT NULL,
            at INTEGER NOT NULL,
            status TEXT NOT NULL,
            PRIMARY KEY (contact_id, channel, brand, at, status)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "INSERT OR IGNORE INTO consent SELECT contact_id, COALESCE(channel, 'email'), "
        "CASE WHEN type = 'do_not_contact' OR type = 'do_not_contact_lifted' THEN '*' ELSE COALESCE(brand, '*') END, "
        "at, CASE type WHEN 'unsubscribe' THEN 'unsubscribed' WHEN 'complaint' THEN 'complained' "
        "WHEN 'do_not_contact' THEN 'unsubscribed' ELSE 'subscribed' END FROM engagements "
        "WHERE type IN ('unsubscribe', 'complaint', 'resubscribe', 'do_not_contact', 'do_not_contact_lifted')"
    )


@migrations(name="0003_runs")
def _runs(db: Database) -> None:
    """Run history: one row per run of ``pressure-sync run`` that was not a dry run.

    ``result`` is ``running`` while it runs, then ``ok``, ``failed``, ``interrupted``,
    ``aborted`` (stopped at once, or an unexpected error) or ``died`` (the process was
    killed: found still running by the next run). ``report`` is the run's JSON report.
    Times are epoch seconds; ``now`` is the instant the command was given with ``--now``.
    """
    db.execute(
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at REAL NOT NULL,
            finished_at REAL,
            result TEXT NOT NULL,
            exit_code INTEGER,
            now INTEGER,
            pid INTEGER,
            report TEXT,
            error TEXT
        )"""
    )


@migrations(name="0004_value")
def _value(db: Database) -> None:
    """What an engagement was worth: ``amount`` (a purchase's value) in ``currency``."""
    db.execute("ALTER TABLE engagements ADD COLUMN amount REAL")
    db.execute("ALTER TABLE engagements ADD COLUMN currency TEXT")


@migrations(name="0005_phones")
def _phones(db: Database) -> None:
    """Phone identities and the opposition list.

    ``phones`` maps a client's E.164 numbers to their contact (one contact per number and
    client); a contact known only by a number is keyed ``tel:+…`` in ``contacts.email``.
    ``phone_oppositions`` holds the numbers an opposition list (Bloctel) returned, per
    client and number, with the earliest answer file's date: they are kept whether or not
    a contact holds the number yet.
    """
    db.execute(
        """CREATE TABLE phones (
            client TEXT NOT NULL,
            e164 TEXT NOT NULL,
            contact_id INTEGER NOT NULL,
            PRIMARY KEY (client, e164)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX phones_contact ON phones (contact_id)")
    db.execute(
        """CREATE TABLE phone_oppositions (
            client TEXT NOT NULL,
            e164 TEXT NOT NULL,
            listed_at INTEGER NOT NULL,
            source TEXT NOT NULL,
            PRIMARY KEY (client, e164)
        ) WITHOUT ROWID"""
    )


@migrations(name="0007_experiments")
def _experiments(db: Database) -> None:
    """Arms of experiments stopped automatically (a complaint rate past its threshold).

    One row per (experiment, arm); ``at`` is when the stop takes effect, ``reason`` what
    the report shows. Assignment itself is not stored: it is a stable hash.
    """
    db.execute(
        """CREATE TABLE experiment_stops (
            experiment TEXT NOT NULL,
            arm TEXT NOT NULL,
            at INTEGER NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (experiment, arm)
        )"""
    )
