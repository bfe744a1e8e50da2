"""How jobs are made: a mention recorded once, however often the Hub delivers it.

The comment id is unique and each `Webhook-Id` maps to its job, so a redelivered mention
finds its row instead of making a second one; a replay of a failed job queues it again. A
batch of mentions (see `bot.web.batching`) costs a fixed handful of statements however many it
holds, because a PostgreSQL server is a network round trip away (often milliseconds from a
Space) and one round trip per mention would make a burst wait on the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.store.jobs import count_depth, get
from bot.store.queries import Transaction, many, one, rows, run
from bot.store.records import Enqueue, EnqueueOutcome, JobRecord, dump_mention

NEW_JOB_CHANNEL = "bot_jobs"  # PostgreSQL NOTIFY channel: a wake-up, never the only signal
# Whether a column is one of a JSON array of strings: one statement text for any number of
# values, so PostgreSQL's prepared statements are reused; on PostgreSQL as `= ANY(ARRAY(...))`,
# which its planner answers from the column's index (an `IN (SELECT ...)` scans the table).
_LISTED = {
    "sqlite": "IN (SELECT value FROM json_each(:listed))",
    "postgres": "= ANY(ARRAY(SELECT json_array_elements_text(CAST(:listed AS json))))",
}


def _per_dialect(sql: str) -> dict[str, str]:
    return {dialect: sql.replace("{listed}", listed) for dialect, listed in _LISTED.items()}


_KNOWN_DELIVERIES = _per_dialect(
    "SELECT deliveries.webhook_id, jobs.id, jobs.status FROM deliveries"
    " JOIN jobs ON jobs.id = deliveries.job_id WHERE deliveries.webhook_id {listed}"
)
_KNOWN_COMMENTS = _per_dialect("SELECT comment_id, id, status FROM jobs WHERE comment_id {listed}")


@dataclass
class DepthCount:
    """The queue depth for backpressure. Counting is O(queue), so the count is kept and this
    process's inserts added to it; it is counted again when it nears the cap (where being
    exact matters), or after `max_age` seconds (to see other processes' inserts and claims)."""

    count: int = 0
    counted_at: float = float("-inf")
    max_age: float = 5.0

    def current(self, cap: int, now: float, pending: int = 0) -> Transaction[int]:
        """`pending`: jobs this transaction will insert, which a count cannot see yet."""
        if self.count >= cap * 0.9 or now - self.counted_at > self.max_age:
            counted = yield from count_depth()
            self.count, self.counted_at = counted + pending, now
        return self.count


def notify(dialect: str) -> Transaction[None]:
    if dialect == "postgres":  # delivered on commit, to every replica that listens
        yield one(f"SELECT pg_notify('{NEW_JOB_CHANNEL}', '')")


def enqueue_many(
    dialect: str, items: list[Enqueue], now: float, depth: DepthCount
) -> Transaction[list[tuple[EnqueueOutcome, int]]]:
    """Record due replies. A comment (or Webhook-Id) seen before is a duplicate unless it
    failed; a new one is refused ("full", id 0) when its queue cap is reached. Mentions in
    the batch are taken in order, each seeing those before it, as if recorded one by one."""
    # What each Webhook-Id and comment id already stands for: a job number, or (for a job
    # this batch adds) its comment id until the insert gives it a number.
    by_delivery: dict[str, int | str] = {}
    status_of: dict[int, str] = {}
    webhook_ids = [item.webhook_id for item in items if item.webhook_id]
    if webhook_ids:
        found = yield rows(_KNOWN_DELIVERIES[dialect], listed=json.dumps(webhook_ids))
        for webhook_id, job_id, status in found:
            by_delivery[webhook_id], status_of[int(job_id)] = int(job_id), status
    comments = [item.mention.comment_id for item in items]
    found = yield rows(_KNOWN_COMMENTS[dialect], listed=json.dumps(comments))
    by_comment: dict[str, int | str] = {}
    for comment, job_id, status in found:
        by_comment[comment], status_of[int(job_id)] = int(job_id), status
    new: dict[str, Enqueue] = {}
    results: list[tuple[EnqueueOutcome, int | str]] = []
    for item in items:
        comment, webhook_id = item.mention.comment_id, item.webhook_id
        ref = by_delivery.get(webhook_id) if webhook_id else None
        if ref is None:
            ref = by_comment.get(comment)
        if isinstance(ref, int):
            outcome, _ = yield from redeliver(ref, status_of[ref], now)
            status_of[ref] = "queued"  # unfinished now: a second replay is a duplicate
        elif isinstance(ref, str):
            outcome = "duplicate"
        elif item.max_depth is not None and (
            (yield from depth.current(item.max_depth, now, pending=len(new))) >= item.max_depth
        ):
            results.append(("full", 0))
            continue
        else:
            ref, outcome, new[comment] = comment, "queued", item
            by_comment[comment] = comment
            depth.count += 1
        if webhook_id:
            by_delivery.setdefault(webhook_id, ref)
        results.append((outcome, ref))
    inserted: dict[str, int] = {}
    if new:
        yield many(
            "INSERT INTO jobs (comment_id, discussion_key, author_id, mention, status,"
            " not_before, created_at, updated_at, private) VALUES (:comment, :discussion,"
            " :author, :mention, 'queued', :now, :now, :now, :private)",
            [
                {
                    "comment": comment,
                    "discussion": item.mention.where.key,
                    "author": item.mention.author_id,
                    "mention": dump_mention(item.mention),
                    "now": now,
                    "private": int(item.mention.repo_private),
                }
                for comment, item in new.items()
            ],
        )
        found = yield rows(_KNOWN_COMMENTS[dialect], listed=json.dumps(list(new)))
        inserted = {comment: int(job_id) for comment, job_id, _ in found}
    final = [(outcome, inserted[ref] if isinstance(ref, str) else ref) for outcome, ref in results]
    deliveries = [
        {"webhook_id": item.webhook_id, "job_id": job_id, "now": now}
        for item, (outcome, job_id) in zip(items, final, strict=True)
        if item.webhook_id and outcome != "full"
    ]
    if deliveries:
        yield many(
            "INSERT INTO deliveries (webhook_id, job_id, received_at)"
            " VALUES (:webhook_id, :job_id, :now) ON CONFLICT DO NOTHING",
            deliveries,
        )
    if any(outcome == "queued" for outcome, _ in final):
        yield from notify(dialect)
    return final


def redeliver(job_id: int, status: str, now: float) -> Transaction[tuple[EnqueueOutcome, int]]:
    """A known job's mention again: a duplicate, unless the job failed or died; then a
    request to try again, at once."""
    if status not in ("failed", "dead"):
        return "duplicate", job_id
    yield run(
        "UPDATE jobs SET status = 'queued', attempts = 0, not_before = :now, reason = NULL,"
        " updated_at = :now WHERE id = :id",
        now=now,
        id=job_id,
    )
    return "queued", job_id


def requeue(dialect: str, key: str, now: float) -> Transaction[JobRecord | None]:
    """Queue a failed or dead job again, as a replay would; the job as it was, or None."""
    found = yield from get(key)
    if found and (yield from redeliver(found.id, found.status, now))[0] == "queued":
        yield from notify(dialect)
    return found


def force(dialect: str, key: str, now: float) -> Transaction[JobRecord | None]:
    """Queue a fresh answer to a job's comment, even one already answered (not while it runs)."""
    found = yield from get(key)
    if found and found.status != "running":
        yield run(
            "UPDATE jobs SET status = 'queued', attempts = 0, not_before = :now, reason = NULL,"
            " posting_at = NULL, lease_until = NULL, round = round + 1, updated_at = :now"
            " WHERE id = :id",
            now=now,
            id=found.id,
        )
        yield from notify(dialect)
    return found
