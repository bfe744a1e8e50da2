"""SQLite store of reply jobs: one row per comment that is due a reply.

A job moves queued -> running (under a lease that expires) -> done, or failed (tried again
after `not_before`) -> dead once its attempts are spent. The comment id is unique and each
`Webhook-Id` maps to its job, so a redelivered mention finds its row instead of making a second
one. Claims are single UPDATE statements, atomic even when several processes share the file,
and a running job whose lease ran out is claimable again: that is how work survives a crash.
`posting_at` notes that a comment POST may have gone out, so the next attempt looks for the
reply on the Hub before posting again.

WAL with synchronous=NORMAL: a commit survives the process being killed (the case that
matters for a Space restart), not a power cut of the host; an fsync per delivery would cost
more than it buys here.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from bot.events import DiscussionRef, Mention
from bot.history import History
from bot.schema import migrate

JobStatus = Literal["queued", "running", "done", "failed", "dead"]
EnqueueOutcome = Literal["queued", "duplicate", "full"]
Enqueue = tuple[Mention, str | None, int | None]  # mention, Webhook-Id, queue cap

_CLAIM = """
UPDATE jobs
SET status = 'running', lease_until = :lease_until, attempts = attempts + 1, updated_at = :now
WHERE id = (
    SELECT j.id FROM jobs AS j
    WHERE (
        (j.status IN ('queued', 'failed') AND j.not_before <= :now)
        OR (j.status = 'running' AND j.lease_until < :now)
    )
    AND (:job_id IS NULL OR j.id = :job_id)
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
RETURNING id, mention, attempts, posting_at, round
"""


@dataclass(frozen=True)
class Job:
    id: int
    mention: Mention
    attempts: int
    posting_at: float | None = None
    round: int = 0


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
    DEPTH_MAX_AGE = 5.0  # seconds a counted queue depth is trusted when far from the cap

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self.history = History(connection)
        self._depth = (0, float("-inf"))  # (count, when it was counted)

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints copy the WAL into the database: slow, so never on the request path.
        # `checkpoint()` does it from a worker thread on its own connection.
        db.execute("PRAGMA wal_autocheckpoint = 0")
        migrate(db)
        return cls(db)

    def close(self) -> None:
        self.history.flush()
        self.checkpoint()
        self._db.close()

    def checkpoint(self) -> None:
        """Fold the WAL into the database file, on a connection of its own (thread-safe)."""
        (path,) = [row[2] for row in self._db.execute("PRAGMA database_list") if row[1] == "main"]
        with contextlib.closing(sqlite3.connect(path, timeout=5.0)) as own:
            own.execute("PRAGMA wal_checkpoint(PASSIVE)")

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

    def enqueue(
        self, mention: Mention, webhook_id: str | None = None, max_depth: int | None = None
    ) -> tuple[EnqueueOutcome, int]:
        """Record a due reply. A comment seen before is a duplicate unless it failed; a new one
        is refused ("full", id 0) when `max_depth` jobs are already waiting or running."""
        return self.enqueue_many([(mention, webhook_id, max_depth)])[0]

    def enqueue_many(self, items: list[Enqueue]) -> list[tuple[EnqueueOutcome, int]]:
        """`enqueue` for several mentions in one transaction: one commit, one WAL write."""
        now = time.time()
        with self._transaction():
            return [self._enqueue(*item, now=now) for item in items]

    def _enqueue(
        self, mention: Mention, webhook_id: str | None, max_depth: int | None, now: float
    ) -> tuple[EnqueueOutcome, int]:
        known = self._db.execute(
            "SELECT id, status FROM jobs WHERE comment_id = ?", (mention.comment_id,)
        ).fetchone()
        if known:
            outcome, job_id = self._redeliver(known[0], known[1], now)
        elif max_depth is not None and self._recent_depth(now, max_depth) >= max_depth:
            return "full", 0
        else:
            outcome, job_id = "queued", self._insert(mention, now)
            count, counted_at = self._depth
            self._depth = (count + 1, counted_at)
        if webhook_id:
            self._db.execute(
                "INSERT OR IGNORE INTO deliveries (webhook_id, job_id, received_at)"
                " VALUES (?, ?, ?)",
                (webhook_id, job_id, now),
            )
        return outcome, job_id

    def redeliver(self, webhook_id: str) -> tuple[EnqueueOutcome, int] | None:
        """The outcome for a `Webhook-Id` seen before, or None for a new delivery."""
        query = (
            "SELECT jobs.id, jobs.status FROM deliveries JOIN jobs ON jobs.id = job_id"
            " WHERE webhook_id = ?"
        )
        # Most deliveries are new: a plain read settles those without taking the write lock.
        if self._db.execute(query, (webhook_id,)).fetchone() is None:
            return None
        with self._transaction():
            known = self._db.execute(query, (webhook_id,)).fetchone()
            return self._redeliver(known[0], known[1], time.time()) if known else None

    def _insert(self, mention: Mention, now: float) -> int:
        (job_id,) = self._db.execute(
            "INSERT INTO jobs (comment_id, discussion_key, author_id, mention, status,"
            " not_before, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)"
            " RETURNING id",
            (
                mention.comment_id,
                mention.where.key,
                mention.author_id,
                _dump(mention),
                now,
                now,
                now,
            ),
        ).fetchone()
        return int(job_id)

    def _redeliver(self, job_id: int, status: str, now: float) -> tuple[EnqueueOutcome, int]:
        # A replay after a failure is a request to try again, at once.
        if status not in ("failed", "dead"):
            return "duplicate", job_id
        self._db.execute(
            "UPDATE jobs SET status = 'queued', attempts = 0, not_before = ?, reason = NULL,"
            " updated_at = ? WHERE id = ?",
            (now, now, job_id),
        )
        return "queued", job_id

    def force(self, comment_id: str) -> bool:
        """Queue a fresh answer to a comment, even one already answered."""
        now = time.time()
        cursor = self._db.execute(
            "UPDATE jobs SET status = 'queued', attempts = 0, not_before = ?, reason = NULL,"
            " posting_at = NULL, lease_until = NULL, round = round + 1, updated_at = ?"
            " WHERE comment_id = ? AND status <> 'running'",
            (now, now, comment_id),
        )
        return cursor.rowcount == 1

    def claim(self, lease_seconds: float, job_id: int | None = None) -> Job | None:
        """The oldest claimable job (or that one job), now running under a lease."""
        now = time.time()
        params = {"now": now, "lease_until": now + lease_seconds, "job_id": job_id}
        row = self._db.execute(_CLAIM, params).fetchone()
        if row is None:
            return None
        claimed, mention, attempts, posting_at, round_ = row
        return Job(int(claimed), _load(mention), int(attempts), posting_at, int(round_))

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

    def mark_posting(self, job_id: int) -> None:
        self._db.execute("UPDATE jobs SET posting_at = ? WHERE id = ?", (time.time(), job_id))

    def finish(
        self, job_id: int, status: JobStatus, reason: str, reply_id: str | None = None
    ) -> None:
        now = time.time()
        self._db.execute(
            "UPDATE jobs SET status = ?, reason = ?, reply_id = ?, lease_until = NULL,"
            " replied_at = CASE WHEN ? = 'done' THEN ? ELSE replied_at END, updated_at = ?"
            " WHERE id = ?",
            (status, reason[:500], reply_id, status, now, now, job_id),
        )

    def retry_later(self, job_id: int, reason: str, delay: float) -> None:
        now = time.time()
        self._db.execute(
            "UPDATE jobs SET status = 'failed', reason = ?, not_before = ?, lease_until = NULL,"
            " updated_at = ? WHERE id = ?",
            (reason[:500], now + delay, now, job_id),
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

    def _recent_depth(self, now: float, max_depth: int) -> int:
        """The queue depth for backpressure. Counting is O(queue), so the count is kept and this
        process's inserts added to it; it is counted again when it nears the cap (where being
        exact matters), or after DEPTH_MAX_AGE seconds (to see other processes' inserts)."""
        count, counted_at = self._depth
        if count >= max_depth * 0.9 or now - counted_at > self.DEPTH_MAX_AGE:
            count, counted_at = self.depth(), now
            self._depth = (count, counted_at)
        return count

    def depth(self) -> int:
        """Jobs not yet finished: what backpressure is measured against."""
        (n,) = self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running', 'failed')"
        ).fetchone()
        return int(n)

    def oldest_unfinished_age(self, now: float) -> float:
        (oldest,) = self._db.execute(
            "SELECT MIN(created_at) FROM jobs WHERE status IN ('queued', 'running', 'failed')"
        ).fetchone()
        return max(0.0, now - oldest) if oldest is not None else 0.0

    def requeue(self, comment_id: str) -> bool:
        """Queue a job that failed or was given up on again, as a replay would."""
        with self._transaction():
            known = self._db.execute(
                "SELECT id, status FROM jobs WHERE comment_id = ?", (comment_id,)
            ).fetchone()
            return (
                known is not None
                and self._redeliver(known[0], known[1], time.time())[0] == "queued"
            )

    def replies_since(
        self, since: float, *, discussion_key: str | None = None, author_id: str | None = None
    ) -> int:
        (n,) = self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE replied_at >= ?"
            " AND (? IS NULL OR discussion_key = ?) AND (? IS NULL OR author_id = ?)",
            (since, discussion_key, discussion_key, author_id, author_id),
        ).fetchone()
        return int(n)

    def prune(self, finished_before: float) -> int:
        """Delete finished jobs (and their deliveries) last touched before the cutoff."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM deliveries WHERE job_id IN (SELECT id FROM jobs"
                " WHERE status IN ('done', 'dead') AND updated_at < ?)",
                (finished_before,),
            )
            cursor = self._db.execute(
                "DELETE FROM jobs WHERE status IN ('done', 'dead') AND updated_at < ?",
                (finished_before,),
            )
            self._db.execute("DELETE FROM delivery_log WHERE received_at < ?", (finished_before,))
            return cursor.rowcount


def _dump(mention: Mention) -> str:
    return json.dumps(asdict(mention), separators=(",", ":"))


def _load(text: str) -> Mention:
    data = json.loads(text)
    data["where"] = DiscussionRef(**data["where"])
    return Mention(**data)
