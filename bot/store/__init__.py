"""The store: what the bot remembers about mentions, on SQLite (embedded, the default) or on
PostgreSQL (`DATABASE_URL`), with the same rules on both.

    records.py   what is kept, as plain data
    jobs.py      the rules of the job queue; history.py what operators read; schema.py the
                 numbered migrations; all written once as transactions (queries.py)
    sqlite.py    the SQLite driver: one connection in a thread of its own
    postgres.py  the PostgreSQL driver: a pool, LISTEN/NOTIFY wake-ups
    location.py  where state lives, and whether it survives a restart

`Store` is what the rest of the bot uses. No call blocks the event loop; every failure of the
database becomes `StoreUnavailable`, is logged once per incident (not once per call), and shows
in `health` until a call succeeds again. The Hub stays the truth about what was answered: a
lost store can lose waiting work, never double a reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.config import ConfigError, Settings
from bot.errors import StoreUnavailable
from bot.redact import Redactor
from bot.store import enqueue, history, jobs
from bot.store.history import DeliveryRow
from bot.store.location import on_network
from bot.store.queries import Transaction
from bot.store.records import (
    DeliveryRecord,
    Enqueue,
    EnqueueOutcome,
    Job,
    JobRecord,
    JobStatus,
    JobSummary,
    Limits,
)
from bot.store.sqlite import SQLiteDriver

__all__ = [
    "DeliveryRecord",
    "Enqueue",
    "EnqueueOutcome",
    "Job",
    "JobRecord",
    "JobStatus",
    "JobSummary",
    "Limits",
    "Store",
    "StoreUnavailable",
    "open_store",
]

T = TypeVar("T")
log = logging.getLogger("bot.store")
CALL_DEADLINE = 10.0  # seconds any store call may take, queueing included
MAX_PENDING_DELIVERIES = 10_000  # delivery log rows kept while the database is away


class Driver(Protocol):
    dialect: str

    async def run(self, transaction: Transaction[T], write: bool) -> T: ...

    async def maintain(self, wake: Callable[[], None]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class StoreHealth:
    """Whether the last call to the database worked; an incident is logged when it starts and
    when it ends, however many calls fail in between."""

    failing_since: float | None = None
    reason: str | None = None
    failures: int = 0
    last_success: float | None = None

    @property
    def ok(self) -> bool:
        return self.failing_since is None

    def failed(self, reason: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
            log.warning("store unavailable: %s (said once, until it recovers)", reason)
        self.reason = reason
        self.failures += 1

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.warning(
                "store available again after %.0f s (%d failed calls)",
                time.time() - self.failing_since,
                self.failures,
            )
            self.failing_since, self.reason, self.failures = None, None, 0
        self.last_success = time.time()


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
        self.health = StoreHealth()
        self.depth_now = 0  # the latest count, for /health and metrics, which never wait
        self.oldest_age_now = 0.0

    @property
    def dialect(self) -> str:
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
        return await self._run(enqueue.enqueue_many(self.dialect, items, time.time(), self._depth))

    async def enqueue(self, item: Enqueue) -> tuple[EnqueueOutcome, int]:
        return (await self.enqueue_many([item]))[0]

    async def requeue(self, key: str) -> JobRecord | None:
        return await self._run(enqueue.requeue(self.dialect, key, time.time()))

    async def force(self, key: str) -> JobRecord | None:
        return await self._run(enqueue.force(self.dialect, key, time.time()))

    async def claim(self, lease_seconds: float, job_id: int | None = None) -> Job | None:
        return await self._run(
            jobs.claim(self.dialect, time.time(), lease_seconds, self._limits, job_id)
        )

    async def renew(self, job_id: int, lease_seconds: float) -> None:
        await self._run(jobs.renew(job_id, lease_seconds, time.time()))

    async def release(self, job_id: int) -> None:
        await self._run(jobs.release(job_id, time.time()))

    async def finish(
        self,
        job_id: int,
        status: JobStatus,
        reason: str,
        reply_id: str | None = None,
        reply_text: str | None = None,
    ) -> None:
        """Record how a job ended; `reply_text` is what was posted (kept for `jobs show`)."""
        await self._run(
            jobs.finish(job_id, status, self._redact(reason), reply_id, time.time(), reply_text)
        )

    async def retry_later(self, job_id: int, reason: str, delay: float) -> None:
        await self._run(jobs.retry_later(job_id, self._redact(reason), delay, time.time()))

    async def get(self, key: str) -> JobRecord | None:
        return await self._run(jobs.get(key), write=False)

    async def depth(self) -> int:
        self.depth_now = await self._run(jobs.count_depth(), write=False)
        return self.depth_now

    async def oldest_unfinished_age(self) -> float:
        self.oldest_age_now = await self._run(jobs.oldest_unfinished_age(time.time()), write=False)
        return self.oldest_age_now

    async def prune(self, finished_before: float) -> int:
        return await self._run(jobs.prune(finished_before))

    # -- the delivery log and listings, for operators ------------------------------------

    def record_delivery(
        self,
        delivery: str,
        event: str | None,
        repo: str | None,
        status: int,
        outcome: str,
        reason: str | None,
        job_id: int | None,
    ) -> None:
        """Buffered: written with others by `flush`, so a delivery costs no transaction."""
        shown = self._redact(reason) if reason else None
        self._pending.append((time.time(), delivery, event, repo, status, outcome, shown, job_id))

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, deque(maxlen=MAX_PENDING_DELIVERIES)
        try:
            await self._run(history.record_deliveries(list(batch)))
        except StoreUnavailable:
            batch.extend(self._pending)  # kept for the next flush; the oldest go when full
            self._pending = batch
            raise

    async def deliveries(self, limit: int = 20, job_id: int | None = None) -> list[DeliveryRecord]:
        await self.flush()
        return await self._run(history.deliveries(limit, job_id), write=False)

    async def jobs(self, limit: int = 20, status: str | None = None) -> list[JobSummary]:
        return await self._run(history.jobs(limit, status), write=False)

    async def job(self, key: str) -> JobSummary | None:
        return await self._run(history.job(key), write=False)

    async def job_counts(self) -> dict[str, int]:
        return await self._run(history.job_counts(), write=False)

    async def delivery_counts(self, since: float) -> dict[str, int]:
        await self.flush()
        return await self._run(history.delivery_counts(since), write=False)

    # -- upkeep ---------------------------------------------------------------------------

    async def maintain(self, wake: Callable[[], None]) -> None:
        """The driver's upkeep: SQLite folds its WAL, PostgreSQL keeps LISTEN connected."""
        try:
            await self._driver.maintain(wake)
        except StoreUnavailable as exc:
            self.health.failed(str(exc))
            raise

    async def close(self) -> None:
        try:
            await self.flush()
        except StoreUnavailable:
            log.warning("store: %d delivery log rows not written at exit", len(self._pending))
        await self._driver.close()


async def open_store(settings: Settings) -> Store:
    """The store DATABASE_URL names, else SQLite in DATA_DIR; migrated, ready to use. Every
    reason it keeps is redacted first. Raises ConfigError with the fix when it cannot open."""
    limits, redact = Limits.from_settings(settings), Redactor(settings.secrets)
    if settings.database_url:
        # Imported here: asyncpg is a fifth of the start-up time, and most bots use SQLite.
        from bot.store.postgres import PostgresDriver

        url = settings.database_url.get_secret_value()
        try:
            postgres = await PostgresDriver.open(url, pool_size=settings.concurrency + 4)
        except StoreUnavailable as exc:
            raise ConfigError(
                f"DATABASE_URL: cannot use {exc}: check the server, the URL and the password"
            ) from None
        return Store(postgres, postgres.where, limits, redact)
    path = settings.database_path
    try:
        sqlite = await SQLiteDriver.open(path, wal=not on_network(settings.data_dir))
    except StoreUnavailable as exc:
        raise ConfigError(
            f"DATA_DIR {settings.data_dir} cannot hold the database ({exc}):"
            " point DATA_DIR at a writable directory"
        ) from None
    return Store(sqlite, f"SQLite at {path.resolve()}", limits, redact)
