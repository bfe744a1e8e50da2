"""PostgreSQL, for state that outlives the process's disk (a Space, a Hub Job) and for several
replicas sharing the work: `DATABASE_URL=postgresql://user:password@host:port/db`.

asyncpg (see the commit that brought it) runs each transaction on a pooled connection. Claims
lock the job row with `FOR UPDATE SKIP LOCKED` and take turns on an advisory lock (see `jobs`).
A new job is announced with NOTIFY; each process LISTENs on a connection of its own and wakes
its worker, and polling (the worker's, every second) covers whatever a connection pooler or a
dropped connection loses. Every call has a deadline; the password never leaves this module.

What operators read (the status page, `jobs`) goes through a second, small pool (`for_reading`):
read-only transactions under short statement and lock timeouts, so a dozen views of a page
waiting on a locked table hold two connections of their own, never the ones deliveries need.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.errors import StoreUnavailable
from bot.store.enqueue import NEW_JOB_CHANNEL
from bot.store.queries import Dialect, Query, Transaction, drive_async, postgres_sql
from bot.store.schema import migrate

T = TypeVar("T")
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 10.0
READER_POOL_SIZE = 2
READER_STATEMENT_TIMEOUT_MS = 3000  # the status page gives up on a read after this
READER_LOCK_TIMEOUT_MS = 1000  # and on waiting for a lock (a locked delivery log) after this
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def shown_url(url: str) -> str:
    """`PostgreSQL at host:port/db`: where, never who or with what password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL at {parts.hostname or 'localhost'}{port}{parts.path or '/'}"


class PostgresDriver:
    dialect = Dialect.POSTGRES

    def __init__(self, url: str, pool: asyncpg.Pool, reading: bool = False) -> None:
        self._url = url
        self._pool = pool
        self._reading = reading
        self._listener: asyncpg.Connection | None = None
        self.where = shown_url(url)

    @classmethod
    async def open(cls, url: str, pool_size: int) -> PostgresDriver:
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
            )
        except FAILURES as exc:
            raise StoreUnavailable(f"{shown_url(url)}: {_described(exc)}") from None
        except ValueError:  # asyncpg could not read the URL
            raise StoreUnavailable(f"{shown_url(url)}: not a PostgreSQL URL") from None
        driver = cls(url, pool)
        await driver.run(migrate(Dialect.POSTGRES), write=True)
        return driver

    @classmethod
    async def for_reading(cls, url: str) -> PostgresDriver:
        """The small pool for operators' reads; it connects on first use (a start opens
        nothing more). Only `run` with write=False is meant for it."""
        pool = await asyncpg.create_pool(
            url,
            min_size=0,
            max_size=READER_POOL_SIZE,
            timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
        )
        return cls(url, pool, reading=True)

    async def run(self, transaction: Transaction[T], write: bool) -> T:
        try:
            async with (
                self._pool.acquire(timeout=CONNECT_TIMEOUT) as connection,
                _transaction(connection, self._reading),
            ):

                async def execute(query: Query) -> Any:
                    return await _execute(connection, query)

                return await drive_async(transaction, execute)
        except FAILURES as exc:
            raise StoreUnavailable(f"{self.where}: {_described(exc)}") from None

    async def maintain(self, wake: Callable[[], None]) -> None:
        """Keep a LISTEN connection open, so NOTIFY wakes this process's worker; reconnect
        after the server restarts. Failing here only means waiting for the next poll."""
        if self._listener is not None and not self._listener.is_closed():
            return
        listener = None
        try:
            listener = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT)
            await listener.add_listener(NEW_JOB_CHANNEL, lambda *_: wake())
        except BaseException as exc:
            # Failed or cancelled (at shutdown) half-way: a connection is never left open.
            if listener is not None:
                listener.terminate()
            if isinstance(exc, FAILURES):
                raise StoreUnavailable(f"{self.where}: LISTEN: {_described(exc)}") from None
            raise
        self._listener = listener

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(*FAILURES):
                await asyncio.wait_for(self._listener.close(), CONNECT_TIMEOUT)
        with contextlib.suppress(*FAILURES):
            await asyncio.wait_for(self._pool.close(), CONNECT_TIMEOUT)


@contextlib.asynccontextmanager
async def _transaction(connection: Connection, reading: bool) -> AsyncIterator[None]:
    """BEGIN, with the transaction's settings in the same round trip; COMMIT, or ROLLBACK on
    any failure (a cancelled one included). SET LOCAL ends with the transaction, so a pooler
    that hands the connection to someone else keeps nothing of ours.

    Every statement is planned for the tables as they are now (force_custom_plan): asyncpg
    prepares a statement once per connection, and PostgreSQL then settles on a generic plan
    made while the tables were small. Made on an empty queue, that plan scanned every job for
    each batch of mentions (3 ms at 30,000 jobs, and growing) until autovacuum's next ANALYZE;
    in the benchmark it held new mentions to a third of the rate. Planning our short
    statements each time costs a fraction of a millisecond. PostgreSQL 12 and later.
    """
    begin = ["BEGIN READ ONLY" if reading else "BEGIN"]
    if connection.get_server_version() >= (12, 0):
        begin.append("SET LOCAL plan_cache_mode = force_custom_plan")
    if reading:  # what operators read gives up soon rather than hold a connection
        begin.append(f"SET LOCAL statement_timeout = {READER_STATEMENT_TIMEOUT_MS}")
        begin.append(f"SET LOCAL lock_timeout = {READER_LOCK_TIMEOUT_MS}")
    await connection.execute("; ".join(begin))
    try:
        yield
    except BaseException:
        if not connection.is_closed():
            with contextlib.suppress(*FAILURES):
                await connection.execute("ROLLBACK")
        raise
    await connection.execute("COMMIT")


async def _execute(connection: Connection, query: Query) -> Any:
    sql, names = postgres_sql(query.sql)
    if query.fetch == "many":
        await connection.executemany(sql, [[p[n] for n in names] for p in query.batch])
        return len(query.batch)
    args = [query.params[name] for name in names]
    if query.fetch == "one":
        row = await connection.fetchrow(sql, *args)
        return tuple(row) if row is not None else None
    if query.fetch == "all":
        return [tuple(row) for row in await connection.fetch(sql, *args)]
    status = await connection.execute(sql, *args)  # such as "UPDATE 1"
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _described(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
