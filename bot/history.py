"""What happened, for operators: every authentic delivery with its outcome, and job listings.

Read by the status page and `python -m bot jobs`. Nothing here holds comment text, and a
private repo's name is never written: it is stored as NULL and shown as "private repo".
Delivery rows are a log, not the durable record of a mention (that is the job), so they are
buffered and written together by `flush()`, which the app calls a few times a second: one
transaction for many deliveries instead of one each.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryRecord:
    received_at: float
    delivery: str
    event: str | None
    repo: str | None
    status: int
    outcome: str
    reason: str | None
    job_id: int | None


@dataclass(frozen=True)
class JobSummary:
    id: int
    comment_id: str
    discussion: str
    status: str
    attempts: int
    round: int
    reply_id: str | None
    reason: str | None
    created_at: float
    updated_at: float


_JOB_COLUMNS = (
    "id, comment_id, discussion_key, status, attempts, round, reply_id, reason,"
    " created_at, updated_at"
)


class History:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._pending: list[tuple[object, ...]] = []

    def record(
        self,
        delivery: str,
        event: str | None,
        repo: str | None,
        status: int,
        outcome: str,
        reason: str | None,
        job_id: int | None,
    ) -> None:
        self._pending.append((time.time(), delivery, event, repo, status, outcome, reason, job_id))

    def flush(self) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO delivery_log (received_at, delivery, event, repo, status, outcome,"
                " reason, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def deliveries(self, limit: int = 20, job_id: int | None = None) -> list[DeliveryRecord]:
        self.flush()
        rows = self._db.execute(
            "SELECT received_at, delivery, event, repo, status, outcome, reason, job_id"
            " FROM delivery_log WHERE ? IS NULL OR job_id = ? ORDER BY id DESC LIMIT ?",
            (job_id, job_id, limit),
        ).fetchall()
        return [DeliveryRecord(*row) for row in rows]

    def jobs(self, limit: int = 20, status: str | None = None) -> list[JobSummary]:
        rows = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE ? IS NULL OR status = ?"  # noqa: S608 - fixed columns
            " ORDER BY updated_at DESC LIMIT ?",
            (status, status, limit),
        ).fetchall()
        return [JobSummary(*row) for row in rows]

    def job(self, key: str) -> JobSummary | None:
        """A job by its number or by the id of the comment it answers."""
        row = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE comment_id = ? OR CAST(id AS TEXT) = ?",  # noqa: S608
            (key, key),
        ).fetchone()
        return JobSummary(*row) if row else None

    def job_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        counts = dict.fromkeys(("queued", "running", "failed", "done", "dead"), 0)
        counts.update({status: int(n) for status, n in rows})
        return counts

    def delivery_counts(self, since: float) -> dict[str, int]:
        self.flush()
        rows = self._db.execute(
            "SELECT outcome, COUNT(*) FROM delivery_log WHERE received_at >= ? GROUP BY outcome",
            (since,),
        ).fetchall()
        return {outcome: int(n) for outcome, n in rows}
