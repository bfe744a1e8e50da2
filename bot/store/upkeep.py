"""The store's upkeep, in one loop beside the worker: write buffered delivery rows ten times a
second; every couple of seconds count the queue (for /health and the metrics, which never
wait on the store) and let the driver keep itself (SQLite folds its WAL, PostgreSQL keeps its
LISTEN connection); once an hour delete finished jobs older than the retention period.

Stopping it (the app's shutdown, after SIGTERM) writes what is still buffered, while the store
is open; a write under way when it stops is finished, not cut off (see `Store.flush`). A
failing store is reported by the store, once per incident: the loop only tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from bot.errors import StoreUnavailable

if TYPE_CHECKING:
    from bot.store import Store

T = TypeVar("T")
log = logging.getLogger("bot.store")
# Delivery rows are written in small batches: a big one holds up the mentions queued behind it.
FLUSH_EVERY, MAINTAIN_EVERY, PRUNE_EVERY = 0.1, 2.0, 3600.0


class Upkeep:
    def __init__(self, store: Store, retention: float, wake: Callable[[], None]) -> None:
        """`retention`: seconds a finished job is kept; `wake`: what a NOTIFY from another
        replica calls (the worker's notify)."""
        self._store = store
        self._retention = retention
        self._wake = wake
        self._task: asyncio.Task[None] | None = None
        self.ran_once = asyncio.Event()  # set once a whole round is over, prune included

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="store-upkeep")

    async def stop(self) -> None:
        """End the loop, then write what is buffered (the store stays open: its owner closes
        it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await _quietly(self._store.flush())

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_maintain = next_prune = loop.time()
        while True:
            now = loop.time()
            if now >= next_prune:
                next_prune = now + PRUNE_EVERY
                if pruned := await _quietly(self._store.prune(self._retention)):
                    log.info("pruned=%d finished jobs older than the retention period", pruned)
            await _quietly(self._store.flush())
            if now >= next_maintain:
                next_maintain = now + MAINTAIN_EVERY
                await _quietly(self._store.probe())  # /health: would a delivery be written?
                await _quietly(self._store.depth())
                await _quietly(self._store.oldest_unfinished_age())
                await _quietly(self._store.maintain(self._wake))
            self.ran_once.set()
            await asyncio.sleep(FLUSH_EVERY)


async def _quietly(step: Awaitable[T]) -> T | None:
    """One upkeep step; its failure must not end the loop."""
    try:
        return await step
    except StoreUnavailable:
        return None  # the store has said so
    except Exception:
        log.exception("upkeep step failed; trying again on the next turn")
        return None
