"""The database schema, as numbered migrations applied once each, in order.

`PRAGMA user_version` records how many have run. Entry N brings the schema from version N to
N+1. Only append: a released migration never changes. Statements are split on ';', so none
may contain one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS = (
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        comment_id TEXT NOT NULL UNIQUE,
        discussion_key TEXT NOT NULL,
        mention TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('queued', 'running', 'done', 'failed', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL,
        lease_until REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        reply_id TEXT,
        reason TEXT
    );
    CREATE INDEX jobs_by_status ON jobs (status, not_before);
    CREATE INDEX jobs_by_discussion ON jobs (discussion_key, id);
    """,
    """
    ALTER TABLE jobs ADD COLUMN author_id TEXT;
    ALTER TABLE jobs ADD COLUMN replied_at REAL;
    ALTER TABLE jobs ADD COLUMN posting_at REAL;
    ALTER TABLE jobs ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_by_reply_time ON jobs (replied_at);
    CREATE TABLE deliveries (
        webhook_id TEXT PRIMARY KEY,
        job_id INTEGER NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE INDEX deliveries_by_job ON deliveries (job_id);
    """,
    """
    CREATE TABLE delivery_log (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        delivery TEXT NOT NULL,
        event TEXT,
        repo TEXT,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        job_id INTEGER
    );
    CREATE INDEX delivery_log_by_time ON delivery_log (received_at);
    """,
)


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this database has not had, under the write lock, so two processes
    starting at once cannot both apply one."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
