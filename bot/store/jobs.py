"""The rules of the job queue, written once for both backends (see `queries`).

A job moves queued -> running (under a lease that expires) -> done, or failed (tried again
after `not_before`) -> dead once its attempts are spent (how jobs are made: `enqueue`). A
claim takes the oldest claimable job whose discussion has nothing earlier
unfinished and nothing running, so one discussion is answered one mention at a time, in
order; a running job whose lease ran out is claimable again, which is how work survives a
crash. Reply limits are counted in the claim's own transaction, so jobs claimed at once cannot
overshoot a limit together, and every claim they let through counts as a use (`charged_at`)
whatever comes of it: a model call that fails, or a failure notice, costs as much as a reply.

Every time here is the database's clock, read inside the transaction: the claim reads it once
it holds the claim lock, so neither a replica's clock nor a wait for the lock can write a lease
that is already over. On PostgreSQL every claim first takes one advisory lock, so claims from
several replicas take turns (each is a few milliseconds); on SQLite `BEGIN IMMEDIATE` does the
same.
"""

from __future__ import annotations

import json
from dataclasses import replace

from bot.store.queries import Dialect, Transaction, one, per_dialect, run, sql_list
from bot.store.records import (
    FINISHED,
    UNFINISHED,
    WAITING,
    Job,
    JobKind,
    JobRecord,
    JobStatus,
    Limits,
    load_mention,
    load_run,
)

HOUR, DAY = 3600.0, 86400.0
CLAIM_LOCK = 7_420_031  # pg_advisory_xact_lock key: "claims take turns"
BY_KEY = "(comment_id = :key OR CAST(id AS TEXT) = :key)"  # a job number or a comment id
RUNNING, DONE, DEAD = (f"'{s}'" for s in (JobStatus.RUNNING, JobStatus.DONE, JobStatus.DEAD))
DEPTH_SQL = f"SELECT COUNT(*) FROM jobs WHERE status IN {sql_list(UNFINISHED)}"  # noqa: S608

# PostgreSQL: the clock is read in the statement that takes the lock, after it is granted (a
# materialised CTE is run before the query that reads it). SQLite holds its write lock already.
_LOCKED_CLOCK = {
    Dialect.SQLITE: per_dialect("SELECT {now}")[Dialect.SQLITE],
    Dialect.POSTGRES: per_dialect(
        "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(:key)) SELECT {now} FROM locked"
    )[Dialect.POSTGRES],
}
_CLAIM = f"""
UPDATE jobs
SET status = {RUNNING}, lease_until = :lease_until, attempts = attempts + 1, updated_at = :now,
    charged_at = :now
WHERE id = (
    SELECT j.id FROM jobs AS j
    WHERE (
        (j.status IN {sql_list(WAITING)} AND j.not_before <= :now)
        OR (j.status = {RUNNING} AND j.lease_until < :now)
    )
    AND j.kind IN {sql_list(JobKind)}
    AND (CAST(:job_id AS BIGINT) IS NULL OR j.id = :job_id)
    AND NOT EXISTS (
        SELECT 1 FROM jobs AS e
        WHERE e.discussion_key = j.discussion_key AND e.id < j.id
          AND e.status IN {sql_list(UNFINISHED)}
    )
    AND NOT EXISTS (
        SELECT 1 FROM jobs AS r
        WHERE r.discussion_key = j.discussion_key AND r.id <> j.id
          AND r.status = {RUNNING} AND r.lease_until >= :now
    )
    ORDER BY j.id
    LIMIT 1
    {{lock}}
)
RETURNING id, mention, attempts, round, discussion_key, author_id, kind, payload, posting_at
"""  # noqa: S608 - fixed text
CLAIM_SQL = per_dialect(
    _CLAIM, lock={Dialect.SQLITE: "", Dialect.POSTGRES: "FOR UPDATE OF j SKIP LOCKED"}
)
# Uses that count against each limit: claims let through within the window (the job being
# claimed is left out: a job tried again is not held back by its own earlier attempt). A
# follow-up job is made for every comment without a mention: only those answered count.
_LIMIT_COUNTS = """
SELECT
    COALESCE(SUM(CASE WHEN discussion_key = :discussion
                       AND charged_at >= :hour_ago THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN author_id = :author
                       AND charged_at >= :hour_ago THEN 1 ELSE 0 END), 0),
    COUNT(*)
FROM jobs WHERE id <> :id AND charged_at >= :day_ago
  AND (kind = 'mention' OR (kind = 'follow_up' AND reply_id IS NOT NULL))
"""
# An automation rule's runs within the day (`max_per_day`), the job being claimed left out.
_RULE_COUNT = """
SELECT COUNT(*) FROM jobs
WHERE id <> :id AND kind = 'automation' AND author_id = :author AND charged_at >= :day_ago
"""


def locked_clock(dialect: Dialect) -> Transaction[float]:
    """The database's time, read once this transaction holds the claim lock."""
    (now,) = yield one(_LOCKED_CLOCK[dialect], key=CLAIM_LOCK)
    return float(now)


def claim(
    dialect: Dialect, lease: float, limits: Limits, job_id: int | None = None
) -> Transaction[Job | None]:
    """The oldest claimable job (or that one job), now running under a lease; given up at
    once, with the reason, when its reply would break a limit."""
    now = yield from locked_clock(dialect)
    row = yield one(CLAIM_SQL[dialect], now=now, lease_until=now + lease, job_id=job_id)
    if row is None:
        return None
    claimed, mention, attempts, round_, discussion, author, kind, payload, posting_at = row
    automation = load_run(payload) if payload else None
    job = Job(
        int(claimed),
        load_mention(mention),
        int(attempts),
        int(round_),
        kind=JobKind(kind),
        automation=automation,
        posting_age=max(0.0, now - float(posting_at)) if posting_at is not None else None,
    )
    if automation is not None:
        (used,) = yield one(_RULE_COUNT, id=job.id, author=author, day_ago=now - DAY)
        refusal = _over_rule_limit(automation.rule, automation.max_per_day, int(used))
    elif job.round or not limits:
        return job  # a forced round is an operator's explicit request: no limit applies
    else:
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
    yield run(
        f"UPDATE jobs SET status = {DEAD}, reason = :reason, lease_until = NULL,"  # noqa: S608
        " charged_at = NULL, updated_at = :now WHERE id = :id",  # refused: nothing was used
        reason=refusal,
        now=now,
        id=job.id,
    )
    return replace(job, refused=refusal)


def _over_rule_limit(rule: str, max_per_day: int, used: int) -> str | None:
    if max_per_day and used >= max_per_day:
        return f"rate limit: rule {rule} already ran {used} times today (max_per_day={max_per_day})"
    return None


def _over_limit(limits: Limits, counts: tuple[int, int, int]) -> str | None:
    checks = (
        (limits.per_discussion_hour, counts[0], "REPLIES_PER_DISCUSSION_HOUR"),
        (limits.per_author_hour, counts[1], "REPLIES_PER_AUTHOR_HOUR"),
        (limits.per_day, counts[2], "REPLIES_PER_DAY"),
    )
    for limit, used, name in checks:
        if limit and used >= limit:
            return f"rate limit: {used} replies already attempted ({name}={limit})"
    return None


_RENEW = per_dialect(
    "UPDATE jobs SET lease_until = {now} + :lease, updated_at = {now}"  # noqa: S608
    f" WHERE id = :id AND status = {RUNNING}"
)


def renew(dialect: Dialect, job_id: int, lease: float) -> Transaction[None]:
    yield run(_RENEW[dialect], lease=lease, id=job_id)


_MARK_POSTING = per_dialect("UPDATE jobs SET posting_at = {now}, updated_at = {now} WHERE id = :id")


def mark_posting(dialect: Dialect, job_id: int) -> Transaction[None]:
    """Note, just before a reply's POST, that it is under way: should the attempt end without
    knowing whether the Hub took it (a timeout, a crash), the next one lets it land and looks
    for it before posting again (bot.handlers.mention). `force` clears it."""
    yield run(_MARK_POSTING[dialect], id=job_id)


_RELEASE = per_dialect(
    f"UPDATE jobs SET status = '{JobStatus.QUEUED}', lease_until = NULL,"  # noqa: S608
    f" attempts = attempts - 1, updated_at = {{now}} WHERE id = :id AND status = {RUNNING}"
)


def release(dialect: Dialect, job_id: int) -> Transaction[None]:
    """Give a running job back to the queue, as if it had never been claimed. It keeps its
    use of the reply limits: it runs again soon, and counts once."""
    yield run(_RELEASE[dialect], id=job_id)


_FINISH = per_dialect(
    "UPDATE jobs SET status = :status, reason = :reason, reply_id = :reply_id,"  # noqa: S608
    " reply_text = COALESCE(CAST(:reply_text AS TEXT), reply_text),"
    " sources = COALESCE(CAST(:sources AS TEXT), sources),"
    " lease_until = NULL, updated_at = {now},"
    f" replied_at = CASE WHEN :status = {DONE} AND CAST(:reply_id AS TEXT) IS NOT NULL"
    " THEN {now} ELSE replied_at END WHERE id = :id"
)


def finish(
    dialect: Dialect,
    job_id: int,
    status: JobStatus,
    reason: str,
    reply_id: str | None,
    reply_text: str | None = None,
    sources: list[str] | None = None,
) -> Transaction[None]:
    yield run(
        _FINISH[dialect],
        status=JobStatus(status).value,  # a JobStatus, or its value: checked either way
        reason=reason[:500],
        reply_id=reply_id,
        reply_text=reply_text,
        sources=json.dumps(sources) if sources is not None else None,
        id=job_id,
    )


_RETRY_LATER = per_dialect(
    f"UPDATE jobs SET status = '{JobStatus.FAILED}', reason = :reason,"  # noqa: S608
    " not_before = {now} + :delay, lease_until = NULL, updated_at = {now} WHERE id = :id"
)


def retry_later(dialect: Dialect, job_id: int, reason: str, delay: float) -> Transaction[None]:
    yield run(_RETRY_LATER[dialect], reason=reason[:500], delay=delay, id=job_id)


def get(key: str) -> Transaction[JobRecord | None]:
    """A job by the id of the comment it answers, or by its number."""
    row = yield one(
        "SELECT id, comment_id, discussion_key, status, attempts, reply_id, reason, kind"  # noqa: S608
        f" FROM jobs WHERE {BY_KEY} ORDER BY id LIMIT 1",
        key=key,
    )
    if row is None:
        return None
    number, comment, discussion, status, attempts, reply_id, reason, kind = row
    return JobRecord(
        int(number),
        comment,
        discussion,
        JobStatus(status),
        int(attempts),
        reply_id,
        reason,
        JobKind(kind),
    )


def count_depth() -> Transaction[int]:
    (n,) = yield one(DEPTH_SQL)
    return int(n)


# One MIN per status, each answered from jobs_by_age without a scan (on both databases).
_MIN_PER_STATUS = " UNION ALL ".join(
    f"SELECT MIN(created_at) AS oldest FROM jobs WHERE status = '{status.value}'"  # noqa: S608
    for status in UNFINISHED
)
_OLDEST_AGE = per_dialect(f"SELECT {{now}} - MIN(oldest) FROM ({_MIN_PER_STATUS}) AS per_status")  # noqa: S608


def oldest_unfinished_age(dialect: Dialect) -> Transaction[float]:
    (age,) = yield one(_OLDEST_AGE[dialect])
    return max(0.0, float(age)) if age is not None else 0.0


_OLD = f"SELECT id FROM jobs WHERE status IN {sql_list(FINISHED)} AND updated_at < :cutoff"  # noqa: S608
_CUTOFF = per_dialect("SELECT {now} - :retention")


def prune(dialect: Dialect, retention: float) -> Transaction[int]:
    """Delete finished jobs (and their deliveries) last touched more than `retention` seconds
    ago, and delivery log rows as old."""
    (cutoff,) = yield one(_CUTOFF[dialect], retention=retention)
    yield run(f"DELETE FROM deliveries WHERE job_id IN ({_OLD})", cutoff=cutoff)  # noqa: S608
    pruned = yield run(f"DELETE FROM jobs WHERE id IN ({_OLD})", cutoff=cutoff)  # noqa: S608
    yield run("DELETE FROM delivery_log WHERE received_at < :cutoff", cutoff=cutoff)
    return int(pruned)
