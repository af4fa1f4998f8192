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
