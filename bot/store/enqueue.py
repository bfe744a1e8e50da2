"""How jobs are made: a mention recorded once, however often the Hub delivers it.

The comment id is unique and each `Webhook-Id` maps to its job, so a redelivered mention
finds its row instead of making a second one; a replay of a failed job queues it again. A
batch of mentions (see `bot.web.batching`) is recorded in three statements however many it
holds (what the database knows; the new jobs; their Webhook-Ids), because a PostgreSQL server
is a network round trip away (often milliseconds from a Space) and one round trip per mention
would make a burst wait on the network. In between, `classify` (bot.store.arrivals) decides
what each mention is, without the database.
"""

from __future__ import annotations

import json

import msgspec

from bot.store.arrivals import OUTCOMES, Arrival, DepthCount, Known, Verdict, classify
from bot.store.jobs import DEPTH_SQL, get
from bot.store.queries import Dialect, Transaction, many, one, per_dialect, rows, run
from bot.store.records import (
    REPLAYABLE,
    Enqueue,
    EnqueueAutomation,
    EnqueueOutcome,
    JobKind,
    JobRecord,
    JobStatus,
    dump_mention,
    dump_run,
    run_as_mention,
)

NEW_JOB_CHANNEL = "bot_jobs"  # PostgreSQL NOTIFY channel: a wake-up, never the only signal


def _listed(name: str, cast: str = "") -> dict[Dialect, str]:
    """Whether a column is one of a JSON array (the parameter `name`): one statement text for
    any number of values, so PostgreSQL's prepared statements are reused; on PostgreSQL as
    `= ANY(ARRAY(...))`, which its planner answers from the column's index (an `IN (SELECT
    ...)` scans the table)."""
    element = f"json_array_elements_text(CAST(:{name} AS json))"
    if cast:
        element = f"CAST({element} AS {cast})"
    return {
        Dialect.SQLITE: f"IN (SELECT value FROM json_each(:{name}))",  # noqa: S608 - fixed text
        Dialect.POSTGRES: f"= ANY(ARRAY(SELECT {element}))",
    }


# What the database knows about a batch, in one statement: its clock, the queue's depth when
# asked for, and the jobs its Webhook-Ids and comment ids already stand for.
_LOOK_UP = per_dialect(
    f"""
    WITH clock AS (
        SELECT {{now}} AS now, CASE WHEN :count_depth = 1 THEN ({DEPTH_SQL}) END AS depth
    )
    SELECT clock.now, clock.depth, known.webhook_id, known.id, known.comment_id, known.status
    FROM clock LEFT JOIN (
        SELECT d.webhook_id, j.id, j.comment_id, j.status
        FROM deliveries AS d JOIN jobs AS j ON j.id = d.job_id
        WHERE d.webhook_id {{webhooks}}
        UNION ALL
        SELECT CAST(NULL AS TEXT), id, comment_id, status FROM jobs WHERE comment_id {{comments}}
    ) AS known ON 1 = 1
    """,  # noqa: S608 - fixed text
    webhooks=_listed("webhooks"),
    comments=_listed("comments"),
)
# New jobs from a JSON array, in its order (job numbers follow arrival, which is the order a
# discussion is answered in). On PostgreSQL the insert also wakes the other replicas: NOTIFY is
# delivered on commit, once however many rows asked for it.
_NEW_JOBS = per_dialect(
    "INSERT INTO jobs (comment_id, discussion_key, author_id, mention, kind, status, not_before,"
    f" created_at, updated_at, private) SELECT {{rows}}, '{JobStatus.QUEUED}', :now, :now, :now,"
    " private {source} RETURNING comment_id, id {wake}",
    rows={
        Dialect.SQLITE: "comment, discussion, author, mention, kind",
        Dialect.POSTGRES: "r.comment, r.discussion, r.author, r.mention, r.kind",
    },
    source={
        Dialect.SQLITE: "FROM (SELECT json_extract(value, '$.comment') AS comment,"
        " json_extract(value, '$.discussion') AS discussion,"
        " json_extract(value, '$.author') AS author, json_extract(value, '$.mention') AS mention,"
        " json_extract(value, '$.kind') AS kind, json_extract(value, '$.private') AS private"
        " FROM json_each(:jobs) ORDER BY key)",
        Dialect.POSTGRES: "FROM ROWS FROM (json_to_recordset(CAST(:jobs AS json)) AS (comment text,"
        " discussion text, author text, mention text, kind text, private bigint))"
        " WITH ORDINALITY AS r (comment, discussion, author, mention, kind, private, n)"
        " ORDER BY r.n",
    },
    wake={Dialect.SQLITE: "", Dialect.POSTGRES: f", pg_notify('{NEW_JOB_CHANNEL}', '')"},
)
_REPLAY = per_dialect(
    f"UPDATE jobs SET status = '{JobStatus.QUEUED}', attempts = 0, not_before = {{now}},"  # noqa: S608
    " reason = NULL, updated_at = {now} WHERE id {ids}",
    ids=_listed("ids", cast="BIGINT"),
)


def enqueue_many(
    dialect: Dialect, items: list[Enqueue], depth: DepthCount
) -> Transaction[list[tuple[EnqueueOutcome, int]]]:
    """Record due replies: for each mention, its outcome and its job's number (0 when refused
    as "full"). Mentions in the batch are taken in order, each seeing those before it, as if
    recorded one by one."""
    known = yield from look_up(dialect, items, depth)
    verdicts = classify(items, known, depth)
    return (yield from write(dialect, items, verdicts, known))


def look_up(dialect: Dialect, items: list[Enqueue], depth: DepthCount) -> Transaction[Known]:
    count_depth = depth.due(items)
    found = yield rows(
        _LOOK_UP[dialect],
        count_depth=int(count_depth),
        webhooks=_encode([item.webhook_id for item in items if item.webhook_id]),
        comments=_encode([item.mention.comment_id for item in items]),
    )
    if count_depth:
        depth.counted(int(found[0][1]))
    known = Known(float(found[0][0]), {}, {})
    for _, _, webhook_id, job_id, comment_id, status in found:
        if job_id is None:
            continue  # nothing known: the clock's row alone
        known.jobs[comment_id] = (int(job_id), JobStatus(status))
        if webhook_id is not None:
            known.deliveries[webhook_id] = comment_id
    return known


def write(
    dialect: Dialect, items: list[Enqueue], verdicts: list[Verdict], known: Known
) -> Transaction[list[tuple[EnqueueOutcome, int]]]:
    """Make the new jobs, queue the replayed ones again, and map each Webhook-Id to its job."""
    numbers = {comment: job_id for comment, (job_id, _) in known.jobs.items()}
    new = [
        item
        for item, verdict in zip(items, verdicts, strict=True)
        if verdict.arrival is Arrival.NEW
    ]
    if new:
        made = yield rows(_NEW_JOBS[dialect], jobs=_as_json(new), now=known.now)
        numbers.update((comment, int(job_id)) for comment, job_id, *_ in made)
    replayed = sorted({numbers[v.comment_id] for v in verdicts if v.arrival is Arrival.REPLAY})
    if replayed:
        yield run(_REPLAY[dialect], ids=json.dumps(replayed))
        if not new:
            yield from notify(dialect)
    results = [
        (OUTCOMES[v.arrival], 0 if v.arrival is Arrival.FULL else numbers[v.comment_id])
        for v in verdicts
    ]
    webhook_ids = [
        {"webhook_id": item.webhook_id, "job_id": job_id, "now": known.now}
        for item, (outcome, job_id) in zip(items, results, strict=True)
        if item.webhook_id and outcome is not EnqueueOutcome.FULL
    ]
    if webhook_ids:
        yield many(
            "INSERT INTO deliveries (webhook_id, job_id, received_at)"
            " VALUES (:webhook_id, :job_id, :now) ON CONFLICT DO NOTHING",
            webhook_ids,
        )
    return results


def _encode(value: object) -> str:
    """JSON text for a statement's parameter (msgspec: this is on every mention's path)."""
    return msgspec.json.encode(value).decode()


def _as_json(items: list[Enqueue]) -> str:
    return _encode(
        [
            {
                "comment": item.mention.comment_id,
                "discussion": item.mention.where.key,
                "author": item.mention.author_id,
                "mention": dump_mention(item.mention),
                "kind": item.kind.value,
                "private": int(item.mention.repo_private),
            }
            for item in items
        ]
    )


def notify(dialect: Dialect) -> Transaction[None]:
    if dialect is Dialect.POSTGRES:  # delivered on commit, to every replica that listens
        yield one(f"SELECT pg_notify('{NEW_JOB_CHANNEL}', '')")


def requeue(dialect: Dialect, key: str) -> Transaction[JobRecord | None]:
    """Queue a failed or dead job again, as a replay would; the job as it was, or None."""
    found = yield from get(key)
    if found and found.status in REPLAYABLE:
        yield run(_REPLAY[dialect], ids=json.dumps([found.id]))
        yield from notify(dialect)
    return found


_FORCE = per_dialect(
    f"UPDATE jobs SET status = '{JobStatus.QUEUED}', attempts = 0, not_before = {{now}},"  # noqa: S608
    " reason = NULL, posting_at = NULL, lease_until = NULL, round = round + 1,"
    " updated_at = {now} WHERE id = :id"
)


def force(dialect: Dialect, key: str) -> Transaction[JobRecord | None]:
    """Queue a fresh answer to a job's comment, even one already answered (not while it runs)."""
    found = yield from get(key)
    if found and found.status is not JobStatus.RUNNING:
        yield run(_FORCE[dialect], id=found.id)
        yield from notify(dialect)
    return found


_NEW_AUTOMATION = per_dialect(
    "INSERT INTO jobs (comment_id, discussion_key, author_id, mention, payload, kind, status,"  # noqa: S608 - fixed text
    " not_before, created_at, updated_at, private) VALUES (:key, :discussion, :author, :mention,"
    f" :payload, '{JobKind.AUTOMATION}', '{JobStatus.QUEUED}', {{now}}, {{now}}, {{now}}, :private)"
    " ON CONFLICT (comment_id) DO NOTHING RETURNING id"
)


def enqueue_automations(
    dialect: Dialect, items: list[EnqueueAutomation]
) -> Transaction[list[tuple[EnqueueOutcome, int]]]:
    """Record automation runs, each once per key (rule, repo, revision): a run seen before is
    a duplicate, unless its job failed or died, which queues it again (as a replay does)."""
    results = []
    for item in items:
        run_ = item.run
        mention = run_as_mention(run_)
        made = yield rows(
            _NEW_AUTOMATION[dialect],
            key=run_.key,
            discussion=mention.where.key,
            author=run_.author,
            mention=dump_mention(mention),
            payload=dump_run(run_),
            private=int(run_.private),
        )
        if made:
            results.append((EnqueueOutcome.QUEUED, int(made[0][0])))
            continue
        found = yield from get(run_.key)
        if found is None:  # pruned between the two statements: nothing to point at
            results.append((EnqueueOutcome.DUPLICATE, 0))
        elif found.status in REPLAYABLE:
            yield run(_REPLAY[dialect], ids=json.dumps([found.id]))
            results.append((EnqueueOutcome.QUEUED, found.id))
        else:
            results.append((EnqueueOutcome.DUPLICATE, found.id))
    if any(outcome is EnqueueOutcome.QUEUED for outcome, _ in results):
        yield from notify(dialect)
    return results
