"""SQLite, the embedded default: one connection, used from one thread of its own, so the event
loop never waits on the database file (a write lock held by another process, a slow disk).

WAL with synchronous=NORMAL on a local disk: a commit survives the process being killed (the
case that matters for a restart), not a power cut of the host. On a network filesystem, where
WAL must not be used, the rollback journal. A statement waits at most BUSY_TIMEOUT for another
process's write lock, then fails, and the caller decides (a delivery gets 503, the worker
tries again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import StoreUnavailable
from bot.store.queries import Dialect, Query, Transaction, drive
from bot.store.schema import migrate

T = TypeVar("T")
BUSY_TIMEOUT = 2.0
OPEN_DEADLINE = 10.0


class SQLiteDriver:
    dialect = Dialect.SQLITE

    def __init__(self, path: Path, wal: bool) -> None:
        self.path = path
        self._wal = wal
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path, wal: bool = True) -> SQLiteDriver:
        """Connect and migrate. Processes opening one new file at once can find it locked
        while another switches it to WAL (which takes no busy timeout), so that is retried
        for a few seconds."""
        driver = cls(path, wal)
        deadline = asyncio.get_running_loop().time() + OPEN_DEADLINE
        while True:
            try:
                await driver._call(driver._connect)
                await driver.run(migrate(Dialect.SQLITE), write=True)
                return driver
            except StoreUnavailable as exc:
                if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                    await driver.close()
                    raise
                await driver._call(driver._disconnect)
                await asyncio.sleep(0.05)

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
        db.execute(f"PRAGMA journal_mode = {'WAL' if self._wal else 'DELETE'}")
        db.execute("PRAGMA synchronous = NORMAL")
        if self._wal:
            # Checkpoints copy the WAL into the database: slow, so never inside a transaction
            # someone waits for. `maintain` does it on a connection of its own.
            db.execute("PRAGMA wal_autocheckpoint = 0")
        self._db = db

    async def run(self, transaction: Transaction[T], write: bool) -> T:
        return await self._call(self._run, transaction, write)

    def _run(self, transaction: Transaction[T], write: bool) -> T:
        db = self._connection()
        # BEGIN IMMEDIATE takes the write lock up front, so read-then-write cannot interleave.
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = drive(transaction, self._execute)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return result

    def _execute(self, query: Query) -> Any:
        db = self._connection()
        if query.fetch == "many":
            return db.executemany(query.sql, query.batch).rowcount
        cursor = db.execute(query.sql, query.params)
        if query.fetch == "one":
            return cursor.fetchone()
        if query.fetch == "all":
            return cursor.fetchall()
        return cursor.rowcount

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError("the store is closed")
        return self._db

    async def _call(self, work: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"SQLite {self.path}: {exc}") from None

    async def maintain(self, wake: Callable[[], None]) -> None:
        """Fold the WAL into the database file, on a connection of its own, in a thread."""
        if self._wal:
            await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)) as own:
                own.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite {self.path}: checkpoint: {exc}") from None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=True)
        with contextlib.suppress(StoreUnavailable):
            await self.maintain(lambda: None)
