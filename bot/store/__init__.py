"""The store: what the bot remembers about mentions, on SQLite (embedded, the default) or on
PostgreSQL (`DATABASE_URL`), with the same rules on both.

    records.py   what is kept, as plain data; the states as enums, each set of them named once
    jobs.py      the rules of the job queue; enqueue.py how jobs are made; history.py what
                 operators read; schema.py the numbered migrations; all written once as
                 transactions (queries.py)
    sqlite.py    the SQLite driver: one connection in a thread of its own
    postgres.py  the PostgreSQL driver: a pool, LISTEN/NOTIFY wake-ups
    upkeep.py    the loop that writes the delivery log, prunes, and keeps the driver
    options.py   what the store is told (it never reads the settings); health.py whether
                 the database answers; location.py where state lives, and whether it survives

`Store` is what the rest of the bot uses. No call blocks the event loop; every failure of the
database becomes `StoreUnavailable`, is logged once per incident (not once per call), and shows
in `health` until a call succeeds again. Every time the store writes or compares is the
database's clock, so replicas whose clocks disagree still agree on leases. The Hub stays the
truth about what was answered: a lost store can lose waiting work, never double a reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

from bot.errors import StoreUnavailable
from bot.store import enqueue, history, jobs
from bot.store.health import StoreHealth
from bot.store.history import DeliveryRow
from bot.store.location import on_network
from bot.store.options import StoreOptions
from bot.store.queries import Dialect, Transaction
from bot.store.records import (
    DeliveryOutcome,
    DeliveryRecord,
    Enqueue,
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

T = TypeVar("T")
log = logging.getLogger("bot.store")
CALL_DEADLINE = 10.0  # seconds any store call may take, queueing included
MAX_PENDING_DELIVERIES = 10_000  # delivery log rows kept while the database is away


class Driver(Protocol):
    dialect: Dialect

    async def run(self, transaction: Transaction[T], write: bool) -> T: ...

    async def maintain(self, wake: Callable[[], None]) -> None: ...

    async def close(self) -> None: ...


class Store:
    def __init__(
        self,
        driver: Driver,
        where: str,
        limits: Limits | None = None,
        redact: Callable[[str], str] = str,
    ) -> None:
        self._driver = driver
        self.where = where
        self._limits = limits or Limits()
        self._redact = redact
        self._depth = enqueue.DepthCount()
        self._pending: deque[DeliveryRow] = deque(maxlen=MAX_PENDING_DELIVERIES)
        self._writing: set[asyncio.Task[None]] = set()  # delivery rows on their way
        self._closed = False
        self.health = StoreHealth()
        self.depth_now = 0  # the latest count, for /health and metrics, which never wait
        self.oldest_age_now = 0.0

    @property
    def dialect(self) -> Dialect:
        return self._driver.dialect

    async def _run(self, transaction: Transaction[T], write: bool = True) -> T:
        try:
            result = await asyncio.wait_for(self._driver.run(transaction, write), CALL_DEADLINE)
        except TimeoutError:
            reason = f"{self.where}: no answer within {CALL_DEADLINE:.0f} s"
            self.health.failed(reason)
            raise StoreUnavailable(reason) from None
        except StoreUnavailable as exc:
            self.health.failed(str(exc))
            raise
        if write:  # reads can work while writes cannot (a write-locked SQLite file)
            self.health.succeeded()
        return result

    # -- mentions in, jobs out ------------------------------------------------------------

    async def enqueue_many(self, items: list[Enqueue]) -> list[tuple[EnqueueOutcome, int]]:
        """Record several mentions in one transaction: one commit for all of them."""
        return await self._run(enqueue.enqueue_many(self.dialect, items, self._depth))

    async def enqueue(self, item: Enqueue) -> tuple[EnqueueOutcome, int]:
        return (await self.enqueue_many([item]))[0]

    async def requeue(self, key: str) -> JobRecord | None:
        return await self._run(enqueue.requeue(self.dialect, key))

    async def force(self, key: str) -> JobRecord | None:
        return await self._run(enqueue.force(self.dialect, key))

    async def claim(self, lease_seconds: float, job_id: int | None = None) -> Job | None:
        return await self._run(jobs.claim(self.dialect, lease_seconds, self._limits, job_id))

    async def renew(self, job_id: int, lease_seconds: float) -> None:
        await self._run(jobs.renew(self.dialect, job_id, lease_seconds))

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
        self.depth_now = await self._run(jobs.count_depth(), write=False)
        return self.depth_now

    async def oldest_unfinished_age(self) -> float:
        self.oldest_age_now = await self._run(jobs.oldest_unfinished_age(self.dialect), False)
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
        self._pending.append(row)

    async def flush(self) -> None:
        """Write the buffered delivery rows, once those already on their way are written. A
        write is never cut off half-way: when the caller is cancelled (at shutdown) it still
        runs to its end, and a batch the database refuses goes back to the buffer."""
        if self._pending:
            batch, self._pending = self._pending, deque(maxlen=MAX_PENDING_DELIVERIES)
            write = asyncio.create_task(self._write(batch))
            self._writing.add(write)
            write.add_done_callback(self._writing.discard)
        if not self._writing:
            return
        ends = asyncio.gather(*self._writing, return_exceptions=True)
        for end in await asyncio.shield(ends):
            if isinstance(end, StoreUnavailable):
                raise end

    async def _write(self, batch: deque[DeliveryRow]) -> None:
        try:
            await self._run(history.record_deliveries(list(batch)))
        except BaseException:
            batch.extend(self._pending)  # kept for the next flush; the oldest go when full
            self._pending = batch
            raise

    async def deliveries(self, limit: int = 20, job_id: int | None = None) -> list[DeliveryRecord]:
        await self.flush()
        return await self._run(history.deliveries(limit, job_id), write=False)

    async def jobs(self, limit: int = 20, status: JobStatus | None = None) -> list[JobSummary]:
        return await self._run(history.jobs(limit, status), write=False)

    async def job(self, key: str) -> JobSummary | None:
        return await self._run(history.job(key), write=False)

    async def job_counts(self) -> dict[JobStatus, int]:
        return await self._run(history.job_counts(), write=False)

    async def delivery_counts(self, since: float) -> dict[str, int]:
        await self.flush()
        return await self._run(history.delivery_counts(since), write=False)

    # -- upkeep ---------------------------------------------------------------------------

    def upkeep(self, retention: float, wake: Callable[[], None]) -> Upkeep:
        """The loop that keeps this store (not started): see `bot.store.upkeep`."""
        return Upkeep(self, retention, wake)

    async def maintain(self, wake: Callable[[], None]) -> None:
        """The driver's upkeep: SQLite folds its WAL, PostgreSQL keeps LISTEN connected."""
        try:
            await self._driver.maintain(wake)
        except StoreUnavailable as exc:
            self.health.failed(str(exc))
            raise

    async def close(self) -> None:
        """Write what is buffered, then close the database (once: closing again does nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
        except StoreUnavailable:
            log.warning("store: %d delivery log rows not written at exit", len(self._pending))
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
        return Store(postgres, postgres.where, options.limits, options.redact)
    path = options.sqlite_path
    try:
        sqlite = await SQLiteDriver.open(path, wal=not on_network(options.data_dir))
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"DATA_DIR {options.data_dir} cannot hold the database ({exc}):"
            " point DATA_DIR at a writable directory"
        ) from None
    return Store(sqlite, f"SQLite at {path.resolve()}", options.limits, options.redact)
