"""The delivery log's buffer: a row per authentic delivery, kept in memory and written in
batches by the store's upkeep, so a delivery costs no transaction of its own.

A write is never cut off half-way: when the caller is cancelled (at shutdown) it still runs to
its end, and a batch the database refuses goes back to the buffer (the oldest rows go first
when it is full). One write at a time, so a locked delivery log holds one connection however
many callers wait on it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from bot.errors import StoreUnavailable
from bot.store.history import DeliveryRow

MAX_PENDING_DELIVERIES = 10_000  # rows kept while the database is away
ROWS_PER_WRITE = 128  # about a millisecond of SQLite's time


class DeliveryLog:
    def __init__(self, write: Callable[[list[DeliveryRow]], Awaitable[None]]) -> None:
        self._write_rows = write
        self._pending: deque[DeliveryRow] = deque(maxlen=MAX_PENDING_DELIVERIES)
        self._writing: set[asyncio.Task[None]] = set()  # batches on their way

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def add(self, row: DeliveryRow) -> None:
        self._pending.append(row)

    async def flush(self) -> None:
        """Write the rows buffered now, once those already on their way are written, a few at a
        time: each batch is a transaction that mentions arriving meanwhile wait behind (on
        SQLite, one thread does both), so a burst's thousand rows in one would hold each of
        them up by milliseconds."""
        while self._writing:
            await self._written(set(self._writing))
        left = len(self._pending)
        while left > 0 and self._pending:
            batch: deque[DeliveryRow] = deque(maxlen=MAX_PENDING_DELIVERIES)
            for _ in range(min(left, ROWS_PER_WRITE, len(self._pending))):
                batch.append(self._pending.popleft())
            left -= len(batch)
            write = asyncio.create_task(self._write(batch))
            self._writing.add(write)
            write.add_done_callback(self._writing.discard)
            await self._written({write})

    @staticmethod
    async def _written(writes: set[asyncio.Task[None]]) -> None:
        ends = asyncio.gather(*writes, return_exceptions=True)
        for end in await asyncio.shield(ends):
            if isinstance(end, StoreUnavailable):
                raise end

    async def _write(self, batch: deque[DeliveryRow]) -> None:
        try:
            await self._write_rows(list(batch))
        except BaseException:
            batch.extend(self._pending)  # kept for the next flush; the oldest go when full
            self._pending = batch
            raise
