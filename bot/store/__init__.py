"""The store: what the bot remembers about mentions, on SQLite (embedded, the default) or on
PostgreSQL (`DATABASE_URL`), with the same rules on both.

    records.py   what is kept, as plain data; the states as enums, each set of them named once
    jobs.py      the rules of the job queue; enqueue.py how jobs are made (arrivals.py what
                 each mention is); history.py what operators read; schema.py the numbered
                 migrations; all written once as transactions (queries.py)
    sqlite.py    the SQLite driver: one connection in a thread of its own
    postgres.py  the PostgreSQL driver: a pool, LISTEN/NOTIFY wake-ups; a small read-only
                 pool of its own for what operators read
    upkeep.py    the loop that writes the delivery log, prunes, and keeps the driver;
                 delivery_log.py the buffer of delivery rows it writes
    database.py  a driver behind deadlines, and the health a delivery would see
    options.py   what the store is told (it never reads the settings); health.py whether
                 the database answers; location.py where state lives, and whether it survives

`Store` is what the rest of the bot uses. No call blocks the event loop; every failure of the
database becomes `StoreUnavailable`. Its deadlines and its `health` (what /health answers: the
trouble a delivery would meet) are database.py's. A claim stuck behind another connection's
claim lock is not the deliveries' trouble either: claims have their own once-per-incident line
(`claims_failing`).

Every time the store writes or compares is the database's clock, so replicas whose clocks
disagree still agree on leases. The Hub stays the truth about what was answered: a lost
store can lose waiting work, never double a reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.errors import StoreUnavailable
from bot.events import Mention
from bot.store import enqueue, history, jobs
from bot.store.arrivals import DepthCount
from bot.store.database import Database, Driver
from bot.store.delivery_log import DeliveryLog
from bot.store.location import on_network
from bot.store.options import StoreOptions
from bot.store.queries import Dialect
from bot.store.records import (
    DeliveryOutcome,
    DeliveryRecord,
    Enqueue,
    EnqueueAutomation,
    EnqueueOutcome,
    Job,
    JobKind,
    JobRecord,
    JobStatus,
    JobSummary,
    Limits,
)
from bot.store.sqlite import SQLiteDriver
from bot.store.upkeep import Upkeep

__all__ = [
    "DeliveryOutcome",
    "DeliveryRecord",
    "Dialect",
    "Enqueue",
    "EnqueueAutomation",
    "EnqueueOutcome",
    "Job",
    "JobKind",
    "JobRecord",
    "JobStatus",
    "JobSummary",
    "Limits",
    "Store",
    "StoreOptions",
    "StoreUnavailable",
    "Upkeep",
    "open_store",
]

log = logging.getLogger("bot.store")


class Store(Database):
    def __init__(
        self,
        driver: Driver,
        where: str,
        limits: Limits | None = None,
        redact: Callable[[str], str] = str,
        reader: Driver | None = None,
    ) -> None:
        """`reader`: where operators' reads go (default: `driver`)."""
        super().__init__(driver, where, reader)
        self._limits = limits or Limits()
        self._redact = redact
        self._depth = DepthCount()
        self._log = DeliveryLog(lambda rows: self._run(history.record_deliveries(rows)))
        self._closed = False
        self.claims_failing: tuple[float, str] | None = None  # since when, and why
        self.depth_now = 0  # the latest count, for /health and metrics, which never wait
        self.oldest_age_now = 0.0

    # -- mentions in, jobs out ------------------------------------------------------------

    async def enqueue_many(self, items: list[Enqueue]) -> list[tuple[EnqueueOutcome, int]]:
        """Record several mentions in one transaction: one commit for all of them."""
        transaction = enqueue.enqueue_many(self.dialect, items, self._depth)
        return await self._run(transaction, as_delivery=True)

    async def enqueue(self, item: Enqueue) -> tuple[EnqueueOutcome, int]:
        return (await self.enqueue_many([item]))[0]

    async def enqueue_automations(
        self, items: list[EnqueueAutomation]
    ) -> list[tuple[EnqueueOutcome, int]]:
        """Record automation runs in one transaction (see `enqueue.enqueue_automations`)."""
        return await self._run(enqueue.enqueue_automations(self.dialect, items))

    async def requeue(self, key: str) -> JobRecord | None:
        return await self._run(enqueue.requeue(self.dialect, key))

    async def force(self, key: str) -> JobRecord | None:
        return await self._run(enqueue.force(self.dialect, key))

    async def claim(self, lease_seconds: float, job_id: int | None = None) -> Job | None:
        """A claim waits on the claim lock, which another connection may hold for long: its
        failure is said once per incident here, and is not the deliveries' trouble."""
        try:
            job = await self._run(jobs.claim(self.dialect, lease_seconds, self._limits, job_id))
        except StoreUnavailable as exc:
            since = self.claims_failing[0] if self.claims_failing else time.time()
            if self.claims_failing is None:
                log.warning("claims fail: %s (said once, until a claim works)", exc)
            self.claims_failing = (since, str(exc))
            raise
        if self.claims_failing is not None:
            log.warning("claims work again")
            self.claims_failing = None
        return job

    async def renew(self, job_id: int, lease_seconds: float) -> None:
        await self._run(jobs.renew(self.dialect, job_id, lease_seconds))

    async def mark_posting(self, job_id: int) -> None:
        """Note that the job's reply is being posted now (see `jobs.mark_posting`)."""
        await self._run(jobs.mark_posting(self.dialect, job_id))

    async def release(self, job_id: int) -> None:
        await self._run(jobs.release(self.dialect, job_id))

    async def finish(
        self,
        job_id: int,
        status: JobStatus,
        reason: str,
        reply_id: str | None = None,
        reply_text: str | None = None,
        sources: list[str] | None = None,
    ) -> None:
        """Record how a job ended; `reply_text` is what was posted (kept for `jobs show`),
        `sources` the labels of what the reply was built on."""
        reason = self._redact(reason)
        await self._run(
            jobs.finish(self.dialect, job_id, status, reason, reply_id, reply_text, sources)
        )

    async def retry_later(self, job_id: int, reason: str, delay: float) -> None:
        await self._run(jobs.retry_later(self.dialect, job_id, self._redact(reason), delay))

    async def get(self, key: str) -> JobRecord | None:
        return await self._run(jobs.get(key), write=False)

    async def depth(self) -> int:
        self.depth_now = await self._run(jobs.count_depth(), write=False, as_delivery=True)
        return self.depth_now

    async def oldest_unfinished_age(self) -> float:
        transaction = jobs.oldest_unfinished_age(self.dialect)
        self.oldest_age_now = await self._run(transaction, write=False, as_delivery=True)
        return self.oldest_age_now

    async def prune(self, retention: float) -> int:
        """Delete what finished more than `retention` seconds ago; how many jobs went."""
        return await self._run(jobs.prune(self.dialect, retention))

    # -- the delivery log and listings, for operators ------------------------------------

    def record_delivery(
        self,
        delivery: str,
        event: str | None,
        repo: str | None,
        status: int,
        outcome: DeliveryOutcome,
        reason: str | None,
        job_id: int | None,
    ) -> None:
        """Buffered: written with others by `flush`, so a delivery costs no transaction."""
        shown = self._redact(reason) if reason else None
        row = (time.time(), delivery, event, repo, status, str(outcome), shown, job_id)
        self._log.add(row)

    async def flush(self) -> None:
        """Write the buffered delivery rows (see `DeliveryLog.flush`)."""
        await self._log.flush()

    async def deliveries(self, limit: int = 20, job_id: int | None = None) -> list[DeliveryRecord]:
        return await self._browse(history.deliveries(limit, job_id))

    async def jobs(self, limit: int = 20, status: JobStatus | None = None) -> list[JobSummary]:
        return await self._browse(history.jobs(limit, status))

    async def job(self, key: str) -> JobSummary | None:
        return await self._browse(history.job(key))

    async def job_counts(self) -> dict[JobStatus, int]:
        return await self._browse(history.job_counts())

    async def delivery_counts(self, since: float) -> dict[str, int]:
        return await self._browse(history.delivery_counts(since))

    async def latest_mention(self, discussion_key: str) -> Mention | None:
        """The latest mention recorded in a discussion (`preview --discussion` falls back on
        it when the Hub's thread holds none, as against the fakes)."""
        return await self._browse(history.latest_mention(discussion_key))

    # -- upkeep ---------------------------------------------------------------------------

    def upkeep(self, retention: float, wake: Callable[[], None]) -> Upkeep:
        """The loop that keeps this store (not started): see `bot.store.upkeep`."""
        return Upkeep(self, retention, wake)

    async def close(self) -> None:
        """Write what is buffered, then close the database (once: closing again does nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
        except StoreUnavailable:
            log.warning("store: %d delivery log rows not written at exit", self._log.waiting)
        if self._reader is not self._driver:
            await self._reader.close()
        await self._driver.close()


async def open_store(options: StoreOptions) -> Store:
    """The store `options.database_url` names, else SQLite in `options.data_dir`; migrated,
    ready to use. Raises StoreUnavailable, with the fix, when it cannot open."""
    if options.database_url:
        # Imported here: asyncpg is a fifth of the start-up time, and most bots use SQLite.
        from bot.store.postgres import PostgresDriver

        try:
            postgres = await PostgresDriver.open(options.database_url, options.pool_size)
        except StoreUnavailable as exc:
            raise StoreUnavailable(
                f"DATABASE_URL: cannot use {exc}: check the server, the URL and the password"
            ) from None
        reader = await PostgresDriver.for_reading(options.database_url)
        return Store(postgres, postgres.where, options.limits, options.redact, reader)
    path = options.sqlite_path
    try:
        sqlite = await SQLiteDriver.open(path, wal=not on_network(options.data_dir))
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"DATA_DIR {options.data_dir} cannot hold the database ({exc}):"
            " point DATA_DIR at a writable directory"
        ) from None
    return Store(sqlite, f"SQLite at {path.resolve()}", options.limits, options.redact)
