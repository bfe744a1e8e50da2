"""The job store, on SQLite and on a real PostgreSQL server, with the same tests: dedupe,
claims, per-discussion order, leases on the database's clock, reply limits under concurrency,
migrations, retention, and the delivery log's upkeep."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.config import load_settings
from bot.errors import StoreUnavailable
from bot.events import DiscussionRef, Mention
from bot.services.options import store_options
from bot.store import DeliveryOutcome, Enqueue, JobKind, JobStatus, Store, open_store
from bot.store.schema import MIGRATIONS
from tests.postgres import PostgresServer

pytestmark = pytest.mark.anyio
WHERE = DiscussionRef("model", "org/name", 1)
ELSEWHERE = DiscussionRef("dataset", "org/data", 2)
Opener = Callable[..., Awaitable[Store]]


def mention(comment_id: str, where: DiscussionRef = WHERE, author: str = "u1") -> Mention:
    return Mention(comment_id, author, "@hub-bot hi", where, "t", False, False)


def item(comment_id: str, where: DiscussionRef = WHERE, **more: Any) -> Enqueue:
    return Enqueue(mention(comment_id, where), **more)


@pytest.fixture
async def opened(backend: dict[str, str]) -> AsyncIterator[Opener]:
    """Open stores on the backend under test (several on one database, as replicas would)."""
    stores: list[Store] = []

    async def open_one(**settings: str) -> Store:
        env = {**backend, **{k.upper(): str(v) for k, v in settings.items()}}
        store = await open_store(store_options(load_settings(env, env_file=None, required=())))
        stores.append(store)
        return store

    yield open_one
    for store in stores:
        await store.close()


@pytest.fixture
async def store(opened: Opener) -> Store:
    return await opened()


async def test_same_comment_twice_is_one_job(store: Store) -> None:
    first = await store.enqueue(item("c1"))
    second = await store.enqueue(Enqueue(replace(mention("c1"), text="redelivered")))

    assert first[0] == "queued"
    assert second == ("duplicate", first[1])
    assert await store.depth() == 1


async def test_a_known_webhook_id_is_a_duplicate_and_a_dead_job_is_queued_again(
    store: Store,
) -> None:
    _, job_id = await store.enqueue(item("c1", webhook_id="w1"))

    assert await store.enqueue(item("c2", webhook_id="w1")) == ("duplicate", job_id)
    job = await store.claim(60)
    assert job is not None
    await store.finish(job.id, "dead", "model down")
    assert await store.enqueue(item("c1")) == ("queued", job_id)
    record = await store.get("c1")
    assert record is not None and record.status == "queued" and record.reason is None


async def test_a_batch_is_recorded_as_if_its_mentions_came_one_by_one(store: Store) -> None:
    _, known = await store.enqueue(item("old", webhook_id="w0"))

    results = await store.enqueue_many(
        [
            item("c1", webhook_id="w1"),
            item("c1", webhook_id="w2"),  # its comment came earlier in the batch
            item("c2", webhook_id="w1"),  # its Webhook-Id came earlier in the batch
            item("old", webhook_id="w3"),  # a comment recorded before
            item("c3", webhook_id="w0"),  # a Webhook-Id recorded before
            item("c4", max_depth=3),  # the cap counts the batch's own new jobs
            item("c5", max_depth=3),
        ]
    )

    c1, c4 = results[0][1], results[5][1]
    assert results == [
        ("queued", c1),
        ("duplicate", c1),
        ("duplicate", c1),
        ("duplicate", known),
        ("duplicate", known),
        ("queued", c4),
        ("full", 0),
    ]
    assert len({known, c1, c4}) == 3 and await store.depth() == 3
    assert await store.enqueue(item("c9", webhook_id="w2")) == ("duplicate", c1)
    assert await store.enqueue(item("c9", webhook_id="w3")) == ("duplicate", known)


async def test_one_discussion_is_served_in_order_while_others_run_in_parallel(
    store: Store,
) -> None:
    await store.enqueue_many([item("a1"), item("a2"), item("b1", ELSEWHERE)])

    first, second, third = [await store.claim(60) for _ in range(3)]

    assert first is not None and first.mention.comment_id == "a1"
    assert second is not None and second.mention.comment_id == "b1"
    assert third is None  # a2 waits for a1
    await store.finish(first.id, "done", "replied", reply_id="r1")
    after = await store.claim(60)
    assert after is not None and after.mention.comment_id == "a2"


async def test_an_expired_lease_is_claimed_again(store: Store) -> None:
    await store.enqueue(item("c1"))
    crashed = await store.claim(lease_seconds=-1)  # its process died; the lease is already over

    again = await store.claim(60)

    assert crashed is not None and again is not None
    assert again.id == crashed.id
    assert again.attempts == 2


async def test_a_released_job_is_claimable_at_once_with_its_attempt_given_back(
    store: Store,
) -> None:
    await store.enqueue(item("c1"))
    job = await store.claim(60)
    assert job is not None

    await store.release(job.id)

    again = await store.claim(60)
    assert again is not None and again.attempts == 1


async def test_stores_sharing_one_database_never_claim_the_same_job(opened: Opener) -> None:
    replicas = [await opened() for _ in range(3)]
    await replicas[0].enqueue_many(
        [item(f"c{n}", DiscussionRef("model", "org/name", n + 1)) for n in range(30)]
    )

    claims = await asyncio.gather(*(replicas[n % 3].claim(60) for n in range(45)))

    claimed = [job.id for job in claims if job]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 30


async def test_reply_limits_hold_exactly_when_claims_race(opened: Opener) -> None:
    # One author, 20 discussions at once, as four runners on each of two replicas would.
    replicas = [await opened(replies_per_author_hour=3, replies_per_day=5) for _ in range(2)]
    await replicas[0].enqueue_many(
        [item(f"c{n}", DiscussionRef("model", "org/name", n + 1)) for n in range(20)]
    )

    claims = await asyncio.gather(*(replicas[n % 2].claim(60) for n in range(20)))

    allowed = [job for job in claims if job and not job.refused]
    refused = [job for job in claims if job and job.refused]
    assert len(allowed) == 3
    assert len(refused) == 17
    assert (
        refused[0].refused == "rate limit: 3 replies already attempted (REPLIES_PER_AUTHOR_HOUR=3)"
    )
    record = await replicas[1].get(refused[0].mention.comment_id)
    assert record is not None and record.status == "dead"
    for job in allowed:  # posted: they still count once finished
        await replicas[0].finish(job.id, "done", "replied", reply_id=f"r{job.id}")
    await replicas[0].enqueue(item("c-late", DiscussionRef("model", "org/name", 99)))
    late = await replicas[1].claim(60)
    assert late is not None and late.refused is not None


async def test_a_job_tried_again_is_not_held_back_by_its_own_earlier_attempt(
    opened: Opener,
) -> None:
    store = await opened(replies_per_day=1)
    await store.enqueue_many([item("a"), item("b", ELSEWHERE)])
    first = await store.claim(60)
    assert first is not None and first.refused is None
    assert (await store.claim(60)).refused is not None  # type: ignore[union-attr]

    await store.retry_later(first.id, "model: HTTP 503", delay=0)

    again = await store.claim(60)
    assert again is not None and again.id == first.id and again.refused is None


async def test_migrations_run_once_even_when_replicas_start_together(
    opened: Opener, backend: dict[str, str]
) -> None:
    first, *_ = await asyncio.gather(opened(), opened(), opened())
    await first.enqueue(item("c1"))

    reopened = await opened()

    assert await reopened.depth() == 1
    version = await reopened._run(_schema_version(reopened.dialect))
    assert version == len(MIGRATIONS)


def _schema_version(dialect: str) -> Any:
    from bot.store.queries import one

    row = yield one(
        "PRAGMA user_version" if dialect == "sqlite" else "SELECT version FROM schema_version"
    )
    return int(row[0])


async def test_finished_jobs_past_retention_are_pruned_and_unfinished_ones_kept(
    store: Store,
) -> None:
    await store.enqueue(item("old", webhook_id="w-old"))
    await store.enqueue(item("waiting", ELSEWHERE))
    job = await store.claim(60)
    assert job is not None and job.mention.comment_id == "old"
    await store.finish(job.id, "done", "replied", reply_id="r1")

    assert await store.prune(retention=60) == 0
    assert await store.prune(retention=-1) == 1

    assert await store.get("old") is None
    assert (await store.enqueue(item("again", webhook_id="w-old")))[0] == "queued"
    assert await store.get("waiting") is not None


async def test_force_starts_a_new_round_by_comment_id_or_job_number(store: Store) -> None:
    _, job_id = await store.enqueue(item("c1"))
    job = await store.claim(60)
    assert job is not None and job.round == 0
    await store.finish(job.id, "done", "replied", reply_id="r1")

    forced = await store.force(str(job_id))
    assert forced is not None and forced.comment_id == "c1"
    assert await store.force("unknown") is None

    again = await store.claim(60)
    assert again is not None
    assert (again.round, again.attempts) == (1, 1)


async def test_requeue_takes_a_job_number_or_a_comment_id(store: Store) -> None:
    _, job_id = await store.enqueue(item("c1"))
    job = await store.claim(60)
    assert job is not None
    await store.finish(job.id, "dead", "model down")

    found = await store.requeue(str(job_id))

    assert found is not None and found.status == "dead"  # as it was
    record = await store.get("c1")
    assert record is not None and record.status == "queued"


async def test_a_failed_job_waits_for_its_time(store: Store) -> None:
    await store.enqueue(item("c1"))
    job = await store.claim(60)
    assert job is not None

    await store.retry_later(job.id, "model: HTTP 503", delay=3600)

    assert await store.claim(60) is None
    record = await store.get("c1")
    assert record is not None and (record.status, record.reason) == ("failed", "model: HTTP 503")


async def test_queue_cap_refuses_only_new_comments(store: Store) -> None:
    await store.enqueue(item("c1"))

    assert await store.enqueue(item("c2", max_depth=1)) == ("full", 0)
    assert (await store.enqueue(item("c1", max_depth=1)))[0] == "duplicate"


async def test_upkeep_prunes_old_jobs_and_writes_buffered_history(store: Store) -> None:
    await store.enqueue(item("old"))
    job = await store.claim(60)
    assert job is not None
    await store.finish(job.id, JobStatus.DONE, "replied", reply_id="r1")
    store.record_delivery(
        "w1", "discussion/create", None, 200, DeliveryOutcome.IGNORED, "no mention", None
    )

    upkeep = store.upkeep(retention=-1, wake=lambda: None)  # all finished jobs are old
    upkeep.start()
    try:
        await asyncio.wait_for(upkeep.ran_once.wait(), timeout=60)
    finally:
        await upkeep.stop()

    assert await store.get("old") is None
    [logged] = await store.deliveries()
    assert (logged.delivery, logged.outcome) == ("w1", "ignored")


async def test_a_flush_cancelled_at_any_point_still_writes_each_row_once(
    opened: Opener,
) -> None:
    """At shutdown the upkeep loop is cancelled wherever it is, a flush included."""
    store = await opened()
    for step in range(12):  # cancelled after 0, 1, 2, ... turns of the event loop
        store.record_delivery(f"w{step}", None, None, 200, DeliveryOutcome.IGNORED, None, None)
        flush = asyncio.create_task(store.flush())
        for _ in range(step):
            await asyncio.sleep(0)
        flush.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flush
    await store.close()

    written = await (await opened()).deliveries(limit=100)

    assert sorted(row.delivery for row in written) == sorted(f"w{step}" for step in range(12))


async def test_the_oldest_unfinished_job_is_read_from_an_index(store: Store) -> None:
    """/health and the metrics read this every two seconds; a scan of a long queue held up
    every mention arriving meanwhile (60 ms at 100,000 jobs on SQLite)."""
    from bot.store.jobs import _OLDEST_AGE
    from bot.store.queries import Dialect, rows, run

    def aged(comment_id: str, seconds: int) -> Any:
        yield run(
            f"UPDATE jobs SET created_at = created_at - {seconds} WHERE comment_id = :c",  # noqa: S608
            c=comment_id,
        )

    for n, name in enumerate(("done", "waiting", "older")):
        await store.enqueue(item(name, where=replace(WHERE, num=n + 1)))
    await store._run(aged("done", 900))
    await store._run(aged("older", 300))
    job = await store.claim(60)
    assert job is not None and job.mention.comment_id == "done"
    await store.finish(job.id, JobStatus.DONE, "replied", reply_id="r1")

    assert 299 <= await store.oldest_unfinished_age() < 400  # the finished job is not counted
    if store.dialect is Dialect.SQLITE:

        def plan() -> Any:
            found = yield rows(f"EXPLAIN QUERY PLAN {_OLDEST_AGE[Dialect.SQLITE]}")
            return [str(row[-1]) for row in found]

        steps = [step for step in await store._run(plan()) if " jobs " in f"{step} "]
        assert steps and all("INDEX jobs_by_age" in step for step in steps), steps


async def test_a_flush_writes_a_burst_of_delivery_rows_in_small_transactions(
    opened: Opener,
) -> None:
    """On SQLite one thread writes the delivery log and records mentions: a thousand rows in
    one transaction would hold up every mention queued behind it."""
    from bot.store.delivery_log import ROWS_PER_WRITE

    store = await opened()
    sizes: list[int] = []
    write = store._log._write_rows

    async def counted(batch: list[Any]) -> None:
        sizes.append(len(batch))
        await write(batch)

    store._log._write_rows = counted
    for n in range(ROWS_PER_WRITE * 2 + 5):
        store.record_delivery(f"w{n}", None, None, 200, DeliveryOutcome.IGNORED, None, None)

    await store.flush()

    assert sizes == [ROWS_PER_WRITE, ROWS_PER_WRITE, 5]
    written = await store.deliveries(limit=1000)
    assert sorted(row.delivery for row in written) == sorted(f"w{n}" for n in range(len(written)))
    assert len(written) == ROWS_PER_WRITE * 2 + 5


async def test_stopping_upkeep_writes_what_is_buffered(opened: Opener) -> None:
    store = await opened()
    upkeep = store.upkeep(retention=3600, wake=lambda: None)
    upkeep.start()
    await asyncio.wait_for(upkeep.ran_once.wait(), timeout=60)
    for n in range(5):  # recorded while the loop runs, then stopped at once, as SIGTERM does
        store.record_delivery(f"w{n}", None, None, 200, DeliveryOutcome.IGNORED, None, None)
        await asyncio.sleep(0)

    await upkeep.stop()
    await store.close()

    written = await (await opened()).deliveries(limit=100)
    assert sorted(row.delivery for row in written) == [f"w{n}" for n in range(5)]


async def test_only_a_write_says_the_store_is_back(tmp_path: Path) -> None:
    """A write-locked SQLite file still answers reads: one outage is one incident, not a
    recovery at every read and a new outage at the next write."""
    env = {"DATA_DIR": str(tmp_path)}
    settings = load_settings(env, env_file=None, required=())
    store = await open_store(store_options(settings))
    holder = sqlite3.connect(settings.database_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable):
            await store.enqueue(item("c1"))
        assert await store.depth() == 0  # a read, which works

        assert not store.health.ok
        holder.execute("COMMIT")
        await store.enqueue(item("c1"))
        assert store.health.ok
    finally:
        holder.close()
        await store.close()


async def test_postgres_plans_each_statement_for_the_tables_as_they_are(
    postgres: PostgresServer,
) -> None:
    """A generic plan made on an empty queue scanned every job for each batch of mentions
    until autovacuum's next ANALYZE; both pools plan each statement afresh, inside the
    transaction only (SET LOCAL), so a pooler's next client inherits nothing."""
    from bot.store.queries import one

    def setting() -> Any:
        (mode,) = yield one("SELECT current_setting('plan_cache_mode')")
        return mode

    settings = load_settings({"DATABASE_URL": postgres.new_database()}, env_file=None, required=())
    store = await open_store(store_options(settings))
    try:
        assert await store._run(setting()) == "force_custom_plan"
        assert await store._browse(setting()) == "force_custom_plan"
        connection = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            assert await connection.fetchval("SHOW plan_cache_mode") == "auto"
        finally:
            await connection.close()
    finally:
        await store.close()


async def test_a_new_job_wakes_the_other_replicas_on_postgres(postgres: PostgresServer) -> None:
    # (SQLite has no NOTIFY: other processes on the file find new jobs by polling.)
    settings = load_settings({"DATABASE_URL": postgres.new_database()}, env_file=None, required=())
    options = store_options(settings)
    listener, writer = await open_store(options), await open_store(options)
    try:
        woken = asyncio.Event()
        await listener.maintain(woken.set)  # what the upkeep loop does every couple of seconds

        await writer.enqueue(item("c1"))

        await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await listener.close()
        await writer.close()


@pytest.mark.parametrize("skew", [45.0, -45.0])
async def test_a_replica_whose_clock_is_off_never_takes_a_leased_job(
    opened: Opener, monkeypatch: pytest.MonkeyPatch, skew: float
) -> None:
    """Ahead, it would see the lease as over; behind, it would write one already over. Leases
    are read and written with the database's clock, so neither happens."""
    honest, skewed = await opened(), await opened()
    await honest.enqueue_many([item("c1"), item("c2", ELSEWHERE)])
    real_time = time.time

    async def claim_with_skew(store: Store) -> Any:
        with monkeypatch.context() as patch:
            patch.setattr(time, "time", lambda: real_time() + skew)
            return await store.claim(lease_seconds=30)

    first = await (claim_with_skew(skewed) if skew < 0 else honest.claim(30))
    second = await (honest.claim(30) if skew < 0 else claim_with_skew(skewed))
    third = await (honest.claim(30) if skew < 0 else claim_with_skew(skewed))

    assert first is not None and second is not None
    assert {first.mention.comment_id, second.mention.comment_id} == {"c1", "c2"}
    assert third is None  # both are leased for 30 s more, whoever asks


async def test_reply_limits_count_claims_whose_replies_failed(opened: Opener) -> None:
    # Two a discussion an hour: each claim calls the model and may post a failure notice.
    store = await opened(replies_per_discussion_hour=2)
    await store.enqueue_many([item(f"c{n}") for n in range(6)])
    ended = []
    for _ in range(6):
        job = await store.claim(60)
        assert job is not None
        ended.append(job.refused or "claimed")
        if not job.refused:
            await store.finish(job.id, JobStatus.DEAD, "model: HTTP 422: input too long")

    assert ended == ["claimed", "claimed", *["rate limit: 2 replies already attempted"
                     " (REPLIES_PER_DISCUSSION_HOUR=2)"] * 4]  # fmt: skip


async def test_a_job_released_at_shutdown_keeps_its_use_and_runs_again(opened: Opener) -> None:
    store = await opened(replies_per_author_hour=1)
    await store.enqueue_many([item("a"), item("b", ELSEWHERE)])
    first = await store.claim(60)
    assert first is not None and first.refused is None

    await store.release(first.id)  # cut off by a shutdown: it runs again, and counts once

    again = await store.claim(60)
    assert again is not None and again.id == first.id and again.refused is None
    other = await store.claim(60)
    assert other is not None and other.refused is not None


async def test_a_batch_of_new_mentions_costs_at_most_three_round_trips(store: Store) -> None:
    from bot.store.arrivals import DepthCount
    from bot.store.enqueue import enqueue_many

    sent: list[str] = []
    batch = [item(f"c{n}", DiscussionRef("model", "org/name", n), webhook_id=f"w{n}",
                  max_depth=1000) for n in range(5)]  # fmt: skip

    results = await store._run(_counted(enqueue_many(store.dialect, batch, DepthCount()), sent))

    assert [outcome for outcome, _ in results] == ["queued"] * 5
    assert len(sent) <= 3, sent  # on PostgreSQL each statement is a round trip
    assert await store.enqueue(item("c9", webhook_id="w3")) == ("duplicate", results[3][1])
    claimed = [await store.claim(60) for _ in range(5)]
    assert [job.mention.comment_id for job in claimed if job] == [f"c{n}" for n in range(5)]


def _counted(transaction: Any, sent: list[str]) -> Any:
    """The same transaction, noting each statement it sends."""
    query = next(transaction)
    while True:
        sent.append(query.sql)
        try:
            query = transaction.send((yield query))
        except StopIteration as done:
            return done.value


async def test_a_job_has_a_kind_and_keeps_the_sources_its_reply_used(store: Store) -> None:
    _, job_id = await store.enqueue(item("c1"))
    job = await store.claim(60)
    assert job is not None and job.kind is JobKind.MENTION

    await store.finish(
        job.id, JobStatus.DONE, "replied", reply_id="r1", sources=["model card", "config.json"]
    )

    summary = await store.job(str(job_id))
    assert summary is not None
    assert (summary.kind, summary.status) == (JobKind.MENTION, JobStatus.DONE)
    assert summary.sources == ["model card", "config.json"]
    record = await store.get("c1")
    assert record is not None and record.kind is JobKind.MENTION
    assert await store.job_counts() == {
        "queued": 0,
        "running": 0,
        "failed": 0,
        "done": 1,
        "dead": 0,
    }


async def test_an_older_database_is_migrated_and_its_rows_count_as_before(
    backend: dict[str, str], opened: Opener
) -> None:
    """Rows written before job kinds and before claims were charged: a mention, and a reply
    posted a minute ago, which still counts against the hour's limit."""
    now = time.time()
    old_rows = [
        {"comment": "old", "status": "done", "replied_at": now - 60, "reply_id": "r1"},
        {"comment": "waiting", "status": "queued", "replied_at": None, "reply_id": None},
    ]
    await _at_version_four(backend, [{**row, "now": now} for row in old_rows])

    store = await opened(replies_per_discussion_hour=1)

    record = await store.get("waiting")
    assert record is not None and record.kind is JobKind.MENTION
    job = await store.claim(60)
    assert job is not None and job.mention.comment_id == "waiting"
    assert job.refused == "rate limit: 1 replies already attempted (REPLIES_PER_DISCUSSION_HOUR=1)"


_OLD_ROW = (
    "INSERT INTO jobs (comment_id, discussion_key, mention, status, not_before, created_at,"
    " updated_at, author_id, replied_at, reply_id) VALUES (:comment, :discussion, :mention,"
    " :status, :now, :now, :now, 'u1', :replied_at, :reply_id)"
)


async def _at_version_four(backend: dict[str, str], old_rows: list[dict[str, Any]]) -> None:
    """A database as version 4 of the schema left it, with some rows."""
    from bot.store.queries import postgres_sql
    from bot.store.records import dump_mention
    from bot.store.schema import for_postgres, statements

    for row in old_rows:
        row.update(discussion=WHERE.key, mention=dump_mention(mention(row["comment"])))
    if "DATABASE_URL" not in backend:
        path = Path(backend["DATA_DIR"]) / "bot.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as db:
            for script in MIGRATIONS[:4]:
                for statement in statements(script):
                    db.execute(statement)
            db.executemany(_OLD_ROW, old_rows)
            db.execute("PRAGMA user_version = 4")
            db.commit()
        return
    import asyncpg

    connection = await asyncpg.connect(backend["DATABASE_URL"])
    try:
        for script in MIGRATIONS[:4]:
            for statement in statements(for_postgres(script)):
                await connection.execute(statement)
        sql, names = postgres_sql(_OLD_ROW)
        await connection.executemany(sql, [[row[name] for name in names] for row in old_rows])
        await connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        await connection.execute("INSERT INTO schema_version (version) VALUES (4)")
    finally:
        await connection.close()


async def test_a_store_that_cannot_open_says_so_as_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    settings = load_settings({"DATA_DIR": str(tmp_path / "file")}, env_file=None, required=())

    with pytest.raises(StoreUnavailable, match="point DATA_DIR at a writable directory"):
        await open_store(store_options(settings))
