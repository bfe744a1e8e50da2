"""The store: what the bot remembers about mentions, on SQLite (embedded, the default) or on
PostgreSQL (`DATABASE_URL`), with the same rules on both.

    records.py   what is kept, as plain data; the states as enums, each set of them named once
    jobs.py      the rules of the job queue; enqueue.py how jobs are made; history.py what
                 operators read; schema.py the numbered migrations; all written once as
                 transactions (queries.py)
    sqlite.py    the SQLite driver: one connection in a thread of its own
    postgres.py  the PostgreSQL driver: a pool, LISTEN/NOTIFY wake-ups; a small read-only
                 pool of its own for what operators read
    upkeep.py    the loop that writes the delivery log, prunes, and keeps the driver;
                 delivery_log.py the buffer of delivery rows it writes
    options.py   what the store is told (it never reads the settings); health.py whether
                 the database answers; location.py where state lives, and whether it survives

`Store` is what the rest of the bot uses. No call blocks the event loop; every failure of the
database becomes `StoreUnavailable`. `health` (what /health answers) is what a delivery would
get: only the calls a delivery makes, or that see what it would see (recording a mention, the
queue's count, the write probe), can put it in trouble, logged once per incident; any write
that works ends the trouble. A claim stuck behind another connection's claim lock, a locked
delivery log or a slow status page is not the deliveries' trouble: claims have their own
once-per-incident line (`claims_failing`), and the status page and `jobs` read through
`_browse`, on PostgreSQL a pool of their own with short statement timeouts, so however many
views wait they never hold a connection a delivery needs.

Every time the store writes or compares is the database's clock, so replicas whose clocks
disagree still agree on leases. The Hub stays the truth about what was answered: a lost
store can lose waiting work, never double a reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from bot.errors import StoreUnavailable
from bot.events import Mention
from bot.store import enqueue, history, jobs
from bot.store.delivery_log import DeliveryLog
from bot.store.health import StoreHealth
from bot.store.location import on_network
from bot.store.options import StoreOptions
from bot.store.queries import Dialect, Transaction
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

T = TypeVar("T")
log = logging.getLogger("bot.store")
CALL_DEADLINE = 10.0  # seconds any store call may take, queueing included
BROWSE_DEADLINE = 5.0  # seconds a read for the status page or `jobs` may take, queueing included


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
        reader: Driver | None = None,
    ) -> None:
        """`reader`: where operators' reads go (default: `driver`)."""
        self._driver = driver
        self._reader = reader or driver
        self.where = where
        self._limits = limits or Limits()
        self._redact = redact
        self._depth = enqueue.DepthCount()
        self._log = DeliveryLog(lambda rows: self._run(history.record_deliveries(rows)))
        self._closed = False
        self.health = StoreHealth()
        self.claims_failing: tuple[float, str] | None = None  # since when, and why
        self.depth_now = 0  # the latest count, for /health and metrics, which never wait
        self.oldest_age_now = 0.0

    @property
    def dialect(self) -> Dialect:
        return self._driver.dialect

    async def _run(
        self, transaction: Transaction[T], write: bool = True, *, as_delivery: bool = False
    ) -> T:
        """`as_delivery`: a failure here is one a delivery would meet, so /health says so."""
        try:
            result = await asyncio.wait_for(self._driver.run(transaction, write), CALL_DEADLINE)
        except TimeoutError:
            reason = f"{self.where}: no answer within {CALL_DEADLINE:.0f} s"
            if as_delivery:
                self.health.failed(reason)
            raise StoreUnavailable(reason) from None
        except StoreUnavailable as exc:
            if as_delivery:
                self.health.failed(str(exc))
            raise
        if write:  # reads can work while writes cannot (a write-locked SQLite file)
            self.health.succeeded()
        return result

    async def _browse(self, transaction: Transaction[T]) -> T:
        """A read for people (the status page, `jobs`): never a connection deliveries need,
        never the store's health."""
        try:
            return await asyncio.wait_for(self._reader.run(transaction, False), BROWSE_DEADLINE)
        except TimeoutError:
            raise StoreUnavailable(
                f"{self.where}: no answer within {BROWSE_DEADLINE:.0f} s"
            ) from None

    async def probe(self) -> None:
        """Try a write that changes nothing (see `history.write_probe`), as a delivery would;
        StoreUnavailable when the store cannot be written."""
        await self._run(history.write_probe(), as_delivery=True)

    async def check_writable(self) -> None:
        """The write probe, for a start or `check`: StoreUnavailable saying why (the fix is
        `write_fix`)."""
        try:
            await self._run(history.write_probe())  # said here, not as an incident
        except StoreUnavailable as exc:
            said = str(exc)  # "<the driver's name for the database>: <why>"
            detail = said.partition(": ")[2] if said.startswith(("SQLite", "PostgreSQL")) else said
            raise StoreUnavailable(f"{self.where} cannot be written ({detail or said})") from None

    @property
    def write_fix(self) -> str:
        if self.dialect is Dialect.POSTGRES:
            return (
                "give DATABASE_URL's user INSERT, UPDATE and DELETE on the bot's tables, on the"
                " primary server (not a read-only replica)"
            )
        return (
            "make DATA_DIR and the database file in it writable by the user the bot runs as"
            " (or point DATA_DIR at a writable folder)"
        )

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

    async def maintain(self, wake: Callable[[], None]) -> None:
        """The driver's upkeep: SQLite folds its WAL, PostgreSQL keeps LISTEN connected. A
        failure here only delays a wake-up (polling covers it): not the deliveries' trouble."""
        await self._driver.maintain(wake)

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
