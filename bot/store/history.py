"""What happened, for operators: every authentic delivery with its outcome, and job listings;
and the write probe, which asks the database whether it would take a delivery.

Read by the status page and `python -m bot jobs`. Nothing here holds comment text, and a
private repo's name is never written: it is stored as NULL and shown as "private repo".
Delivery rows are a log, not the durable record of a mention (that is the job), so the store
buffers them and writes many in one transaction a few times a second.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from bot.events import Mention
from bot.store.jobs import BY_KEY
from bot.store.queries import Transaction, many, one, rows, run
from bot.store.records import DeliveryRecord, JobKind, JobStatus, JobSummary, load_mention

DeliveryRow = tuple[float, str, str | None, str | None, int, str, str | None, int | None]
_JOB_COLUMNS = (
    "id, comment_id, discussion_key, status, attempts, round, reply_id, reason,"
    " created_at, updated_at, not_before, private, reply_text, kind, sources"
)
_JOB_FIELDS = tuple(field.name for field in fields(JobSummary))  # the columns, in order
_DELIVERY_COLUMNS = "received_at, delivery, event, repo, status, outcome, reason, job_id"
_DELIVERY_WITH_JOB = (  # what became of each delivery's job since
    "d.received_at, d.delivery, d.event, d.repo, d.status, d.outcome, d.reason, d.job_id, j.status"
)


def write_probe() -> Transaction[None]:
    """Inserts that insert nothing, into the tables a delivery writes (not the delivery log,
    which it only buffers): a read-only file, a read-only transaction, a missing privilege or
    a held lock fail here as a delivery would, and nothing is changed when they do not."""
    yield run("INSERT INTO jobs (comment_id) SELECT 'write-probe' WHERE 1 = 0")
    yield run("INSERT INTO deliveries (webhook_id) SELECT 'write-probe' WHERE 1 = 0")


def record_deliveries(batch: Sequence[DeliveryRow]) -> Transaction[None]:
    names = ("received_at", "delivery", "event", "repo", "status", "outcome", "reason", "job_id")
    yield many(
        f"INSERT INTO delivery_log ({_DELIVERY_COLUMNS})"  # noqa: S608 - fixed columns
        " VALUES (:received_at, :delivery, :event, :repo, :status, :outcome, :reason, :job_id)",
        [dict(zip(names, row, strict=True)) for row in batch],
    )


def deliveries(limit: int = 20, job_id: int | None = None) -> Transaction[list[DeliveryRecord]]:
    found = yield rows(
        f"SELECT {_DELIVERY_WITH_JOB} FROM delivery_log AS d"  # noqa: S608 - fixed columns
        " LEFT JOIN jobs AS j ON j.id = d.job_id"
        " WHERE CAST(:job_id AS BIGINT) IS NULL OR d.job_id = :job_id"
        " ORDER BY d.id DESC LIMIT :limit",
        job_id=job_id,
        limit=limit,
    )
    return [_delivery(row) for row in found]


def _delivery(row: Sequence[Any]) -> DeliveryRecord:
    received_at, delivery, event, repo, status, outcome, reason, job_id, job_status = row
    known = JobStatus(job_status) if job_status else None
    return DeliveryRecord(
        received_at, delivery, event, repo, status, outcome, reason, job_id, known
    )


def jobs(limit: int = 20, status: JobStatus | None = None) -> Transaction[list[JobSummary]]:
    found = yield rows(
        f"SELECT {_JOB_COLUMNS} FROM jobs"  # noqa: S608 - fixed columns
        " WHERE CAST(:status AS TEXT) IS NULL OR status = :status"
        " ORDER BY updated_at DESC, id DESC LIMIT :limit",
        status=str(status) if status else None,  # a JobStatus, or its value
        limit=limit,
    )
    return [_summary(row) for row in found]


def job(key: str) -> Transaction[JobSummary | None]:
    """A job by its number or by the id of the comment it answers."""
    row = yield one(
        f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {BY_KEY} ORDER BY id LIMIT 1",  # noqa: S608
        key=key,
    )
    return _summary(row) if row else None


def _summary(row: Sequence[Any]) -> JobSummary:
    values: dict[str, Any] = dict(zip(_JOB_FIELDS, row, strict=True))
    values["status"] = JobStatus(values["status"])
    values["private"] = bool(values["private"])  # 0 or 1 in SQLite
    values["kind"] = JobKind(values["kind"])
    values["sources"] = json.loads(values["sources"]) if values["sources"] else []
    return JobSummary(**values)


def job_counts() -> Transaction[dict[JobStatus, int]]:
    """How many jobs are in each state, every state named (in the order a job moves)."""
    found = yield rows("SELECT status, COUNT(*) FROM jobs GROUP BY status")
    counts = dict.fromkeys(JobStatus, 0)
    counts.update({JobStatus(status): int(n) for status, n in found})
    return counts


def delivery_counts(since: float) -> Transaction[dict[str, int]]:
    found = yield rows(
        "SELECT outcome, COUNT(*) FROM delivery_log WHERE received_at >= :since GROUP BY outcome",
        since=since,
    )
    return {outcome: int(n) for outcome, n in found}


def latest_mention(discussion_key: str) -> Transaction[Mention | None]:
    """The mention of the latest job in a discussion (`ns/name` keyed as `models/ns/name#4`)."""
    row = yield one(
        "SELECT mention FROM jobs WHERE discussion_key = :key AND kind = :kind"
        " ORDER BY id DESC LIMIT 1",
        key=discussion_key,
        kind=str(JobKind.MENTION),
    )
    return load_mention(row[0]) if row else None
