"""The database behind the store: one driver (and, for what operators read, a reader of its
own), every call within a deadline, and the health a delivery would see.

`health` (what /health answers) is what a delivery would get: only the calls a delivery makes,
or that see what it would see (recording a mention, the queue's count, the write probe), can
put it in trouble, logged once per incident; any write that works ends the trouble. A locked
delivery log or a slow status page is not the deliveries' trouble: the status page and `jobs`
read through `_browse`, on PostgreSQL a pool of their own with short statement timeouts, so
however many views wait they never hold a connection a delivery needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, TypeVar

from bot.errors import StoreUnavailable
from bot.store.health import StoreHealth
from bot.store.history import write_probe
from bot.store.queries import Dialect, Transaction

T = TypeVar("T")
CALL_DEADLINE = 10.0  # seconds any store call may take, queueing included
BROWSE_DEADLINE = 5.0  # seconds a read for the status page or `jobs` may take, queueing included


class Driver(Protocol):
    dialect: Dialect

    async def run(self, transaction: Transaction[T], write: bool) -> T: ...

    async def maintain(self, wake: Callable[[], None]) -> None: ...

    async def close(self) -> None: ...


class Database:
    """A driver behind the store's deadlines, and the health deliveries see (`Store` is one)."""

    def __init__(self, driver: Driver, where: str, reader: Driver | None = None) -> None:
        """`reader`: where operators' reads go (default: `driver`)."""
        self._driver = driver
        self._reader = reader or driver
        self.where = where
        self.health = StoreHealth()

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
        await self._run(write_probe(), as_delivery=True)

    async def check_writable(self) -> None:
        """The write probe, for a start or `check`: StoreUnavailable saying why (the fix is
        `write_fix`)."""
        try:
            await self._run(write_probe())  # said here, not as an incident
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

    async def maintain(self, wake: Callable[[], None]) -> None:
        """The driver's upkeep: SQLite folds its WAL, PostgreSQL keeps LISTEN connected. A
        failure here only delays a wake-up (polling covers it): not the deliveries' trouble."""
        await self._driver.maintain(wake)
