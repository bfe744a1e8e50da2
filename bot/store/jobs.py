"""The rules of the job queue, written once for both backends (see `queries`).

A job moves queued -> running (under a lease that expires) -> done, or failed (tried again
after `not_before`) -> dead once its attempts are spent (how jobs are made: `enqueue`). A
claim takes the oldest claimable job whose discussion has nothing earlier
unfinished and nothing running, so one discussion is answered one mention at a time, in
order; a running job whose lease ran out is claimable again, which is how work survives a
crash. Reply limits are counted, and the claimed job's reply reserved, in the claim's own
transaction, so jobs running at once cannot overshoot a limit together.

On PostgreSQL every claim first takes one advisory lock, so claims from several replicas
take turns (each is a few milliseconds); on SQLite `BEGIN IMMEDIATE` does the same.
"""

from __future__ import annotations

from dataclasses import replace

from bot.store.queries import Transaction, one, run
from bot.store.records import (
    Job,
    JobRecord,
    Limits,
    load_mention,
)

HOUR, DAY = 3600.0, 86400.0
CLAIM_LOCK = 7_420_031  # pg_advisory_xact_lock key: "claims take turns"
BY_KEY = "(comment_id = :key OR CAST(id AS TEXT) = :key)"  # a job number or a comment id
_UNFINISHED = "('queued', 'running', 'failed')"

_CLAIM = """
UPDATE jobs
SET status = 'running', lease_until = :lease_until, attempts = attempts + 1, updated_at = :now
WHERE id = (
    SELECT j.id FROM jobs AS j
    WHERE (
        (j.status IN ('queued', 'failed') AND j.not_before <= :now)
        OR (j.status = 'running' AND j.lease_until < :now)
    )
    AND (CAST(:job_id AS BIGINT) IS NULL OR j.id = :job_id)
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
    {lock}
)
RETURNING id, mention, attempts, round, discussion_key, author_id
"""
CLAIM_SQL = {
    "sqlite": _CLAIM.replace("{lock}", ""),
    "postgres": _CLAIM.replace("{lock}", "FOR UPDATE OF j SKIP LOCKED"),
}
# Replies that count against each limit: posted within the window, or being written now.
_LIMIT_COUNTS = """
SELECT
    COALESCE(SUM(CASE WHEN discussion_key = :discussion
                       AND (status = 'running' OR replied_at >= :hour_ago) THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN author_id = :author
                       AND (status = 'running' OR replied_at >= :hour_ago) THEN 1 ELSE 0 END), 0),
    COUNT(*)
FROM jobs WHERE id <> :id AND (status = 'running' OR replied_at >= :day_ago)
"""
_DEPTH = f"SELECT COUNT(*) FROM jobs WHERE status IN {_UNFINISHED}"  # noqa: S608 - fixed text


def claim(
    dialect: str, now: float, lease: float, limits: Limits, job_id: int | None = None
) -> Transaction[Job | None]:
    """The oldest claimable job (or that one job), now running under a lease; given up at
    once, with the reason, when its reply would break a limit."""
    if dialect == "postgres":
        yield one("SELECT pg_advisory_xact_lock(:key)", key=CLAIM_LOCK)
    row = yield one(CLAIM_SQL[dialect], now=now, lease_until=now + lease, job_id=job_id)
    if row is None:
        return None
    claimed, mention, attempts, round_, discussion, author = row
    job = Job(int(claimed), load_mention(mention), int(attempts), int(round_))
    if job.round or not limits:
        return job  # a forced round is an operator's explicit request: no limit applies
    counts = yield one(
        _LIMIT_COUNTS,
        id=job.id,
        discussion=discussion,
        author=author,
        hour_ago=now - HOUR,
        day_ago=now - DAY,
    )
    refusal = _over_limit(limits, counts)
    if refusal is None:
        return job
    yield from finish(job.id, "dead", refusal, None, now)
    return replace(job, refused=refusal)


def _over_limit(limits: Limits, counts: tuple[int, int, int]) -> str | None:
    checks = (
        (limits.per_discussion_hour, counts[0], "REPLIES_PER_DISCUSSION_HOUR"),
        (limits.per_author_hour, counts[1], "REPLIES_PER_AUTHOR_HOUR"),
        (limits.per_day, counts[2], "REPLIES_PER_DAY"),
    )
    for limit, used, name in checks:
        if limit and used >= limit:
            return f"rate limit: {used} replies already ({name}={limit})"
    return None


def renew(job_id: int, lease: float, now: float) -> Transaction[None]:
    yield run(
        "UPDATE jobs SET lease_until = :until, updated_at = :now"
        " WHERE id = :id AND status = 'running'",
        until=now + lease,
        now=now,
        id=job_id,
    )


def release(job_id: int, now: float) -> Transaction[None]:
    """Give a running job back to the queue, as if it had never been claimed."""
    yield run(
        "UPDATE jobs SET status = 'queued', lease_until = NULL, attempts = attempts - 1,"
        " updated_at = :now WHERE id = :id AND status = 'running'",
        now=now,
        id=job_id,
    )


def finish(
    job_id: int,
    status: str,
    reason: str,
    reply_id: str | None,
    now: float,
    reply_text: str | None = None,
) -> Transaction[None]:
    yield run(
        "UPDATE jobs SET status = :status, reason = :reason, reply_id = :reply_id,"
        " reply_text = COALESCE(CAST(:reply_text AS TEXT), reply_text),"
        " lease_until = NULL, updated_at = :now,"
        " replied_at = CASE WHEN :status = 'done' AND CAST(:reply_id AS TEXT) IS NOT NULL"
        " THEN :now"
        " ELSE replied_at END WHERE id = :id",
        status=status,
        reason=reason[:500],
        reply_id=reply_id,
        reply_text=reply_text,
        now=now,
        id=job_id,
    )


def retry_later(job_id: int, reason: str, delay: float, now: float) -> Transaction[None]:
    yield run(
        "UPDATE jobs SET status = 'failed', reason = :reason, not_before = :later,"
        " lease_until = NULL, updated_at = :now WHERE id = :id",
        reason=reason[:500],
        later=now + delay,
        now=now,
        id=job_id,
    )


def get(key: str) -> Transaction[JobRecord | None]:
    """A job by the id of the comment it answers, or by its number."""
    row = yield one(
        "SELECT id, comment_id, discussion_key, status, attempts, reply_id, reason"  # noqa: S608
        f" FROM jobs WHERE {BY_KEY} ORDER BY id LIMIT 1",
        key=key,
    )
    return JobRecord(int(row[0]), *row[1:]) if row else None


def count_depth() -> Transaction[int]:
    (n,) = yield one(_DEPTH)
    return int(n)


def oldest_unfinished_age(now: float) -> Transaction[float]:
    (oldest,) = yield one(f"SELECT MIN(created_at) FROM jobs WHERE status IN {_UNFINISHED}")  # noqa: S608
    return max(0.0, now - oldest) if oldest is not None else 0.0


def prune(finished_before: float) -> Transaction[int]:
    """Delete finished jobs (and their deliveries) last touched before the cutoff."""
    old = "SELECT id FROM jobs WHERE status IN ('done', 'dead') AND updated_at < :cutoff"
    yield run(f"DELETE FROM deliveries WHERE job_id IN ({old})", cutoff=finished_before)  # noqa: S608
    pruned = yield run(
        "DELETE FROM jobs WHERE status IN ('done', 'dead') AND updated_at < :cutoff",
        cutoff=finished_before,
    )
    yield run("DELETE FROM delivery_log WHERE received_at < :cutoff", cutoff=finished_before)
    return int(pruned)
