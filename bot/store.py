"""SQLite store of reply jobs: one row per comment that is due a reply.

A job moves queued -> running (under a lease that expires) -> done, or failed (tried again
after `not_before`) -> dead. The comment id is unique, so a redelivered mention finds its
row instead of making a second one. Claims are single UPDATE statements, atomic even when
several processes share the file, and a running job whose lease ran out is claimable again,
which is how work survives a crash.

WAL with synchronous=NORMAL: a commit survives the process being killed (the case that
matters for a Space restart), not a power cut of the host; fsync per delivery would cost
more than it buys here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from bot.events import DiscussionRef, Mention

JobStatus = Literal["queued", "running", "done", "failed", "dead"]
EnqueueOutcome = Literal["queued", "duplicate"]

# Numbered migrations: entry N brings the schema from user_version N to N+1. Only append;
# statements are split on ';', so none may contain one.
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
)

_CLAIM = """
UPDATE jobs
SET status = 'running', lease_until = :lease_until, attempts = attempts + 1, updated_at = :now
WHERE id = (
    SELECT j.id FROM jobs AS j
    WHERE (
        (j.status IN ('queued', 'failed') AND j.not_before <= :now)
        OR (j.status = 'running' AND j.lease_until < :now)
    )
    -- one at a time per discussion, oldest first
    AND NOT EXISTS (
        SELECT 1 FROM jobs AS e
        WHERE e.discussion_key = j.discussion_key AND e.id < j.id
          AND e.status IN ('queued', 'running', 'failed')
    )
    AND NOT EXISTS (
        SELECT 1 FROM jobs AS r
        WHERE r.discussion_key = j.discussion_key AND r.id <> j.id
          AND r.status = 'running' AND r.lease_until >= :now
    )
    ORDER BY j.id
    LIMIT 1
)
RETURNING id, mention, attempts
"""


@dataclass(frozen=True)
class Job:
    id: int
    mention: Mention
    attempts: int


@dataclass(frozen=True)
class JobRecord:
    """A job as an operator sees it."""

    id: int
    comment_id: str
    discussion_key: str
    status: JobStatus
    attempts: int
    reply_id: str | None
    reason: str | None


class Store:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        store = cls(db)
        store._migrate()
        return store

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        with self._transaction():
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock up front, so read-then-write cannot interleave.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def enqueue(self, mention: Mention) -> tuple[EnqueueOutcome, int]:
        """Record a due reply; a comment seen before is a duplicate unless it failed."""
        now = time.time()
        with self._transaction():
            row = self._db.execute(
                "INSERT INTO jobs (comment_id, discussion_key, mention, status, not_before,"
                " created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?)"
                " ON CONFLICT (comment_id) DO NOTHING RETURNING id",
                (mention.comment_id, mention.where.key, _dump(mention), now, now, now),
            ).fetchone()
            if row:
                return "queued", int(row[0])
            job_id, status = self._db.execute(
                "SELECT id, status FROM jobs WHERE comment_id = ?", (mention.comment_id,)
            ).fetchone()
            if status not in ("failed", "dead"):
                return "duplicate", int(job_id)
            self._db.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, not_before = ?, reason = NULL,"
                " updated_at = ? WHERE id = ?",
                (now, now, job_id),
            )
            return "queued", int(job_id)

    def claim(self, lease_seconds: float) -> Job | None:
        now = time.time()
        row = self._db.execute(_CLAIM, {"now": now, "lease_until": now + lease_seconds}).fetchone()
        if row is None:
            return None
        return Job(id=int(row[0]), mention=_load(row[1]), attempts=int(row[2]))

    def renew(self, job_id: int, lease_seconds: float) -> None:
        now = time.time()
        self._db.execute(
            "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND status = 'running'",
            (now + lease_seconds, now, job_id),
        )

    def release(self, job_id: int) -> None:
        """Give a running job back to the queue, as if it had never been claimed."""
        self._db.execute(
            "UPDATE jobs SET status = 'queued', lease_until = NULL, attempts = attempts - 1,"
            " updated_at = ? WHERE id = ? AND status = 'running'",
            (time.time(), job_id),
        )

    def finish(
        self, job_id: int, status: JobStatus, reason: str, reply_id: str | None = None
    ) -> None:
        self._db.execute(
            "UPDATE jobs SET status = ?, reason = ?, reply_id = ?, lease_until = NULL,"
            " updated_at = ? WHERE id = ?",
            (status, reason[:500], reply_id, time.time(), job_id),
        )

    def get(self, comment_id: str) -> JobRecord | None:
        row = self._db.execute(
            "SELECT id, comment_id, discussion_key, status, attempts, reply_id, reason"
            " FROM jobs WHERE comment_id = ?",
            (comment_id,),
        ).fetchone()
        return JobRecord(*row) if row else None

    def count(self, status: JobStatus) -> int:
        (n,) = self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (status,)).fetchone()
        return int(n)


def _dump(mention: Mention) -> str:
    return json.dumps(asdict(mention), separators=(",", ":"))


def _load(text: str) -> Mention:
    data = json.loads(text)
    data["where"] = DiscussionRef(**data["where"])
    return Mention(**data)
