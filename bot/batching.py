"""Group commit: mentions that arrive together are written in one SQLite transaction.

Each delivery still waits for its own row to be committed before it is acknowledged; it just
shares the commit (and its WAL write) with the others that were ready in the same turn of the
event loop. Under load that turns many small commits into a few larger ones.
"""

from __future__ import annotations

import asyncio

from bot.store import Enqueue, EnqueueOutcome, Store


class GroupCommit:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[Enqueue, asyncio.Future[tuple[EnqueueOutcome, int]]]] = []

    async def enqueue(self, item: Enqueue) -> tuple[EnqueueOutcome, int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[EnqueueOutcome, int]] = loop.create_future()
        if not self._waiting:
            # After the callbacks already ready in this turn, which may add to the batch.
            loop.call_soon(self._commit)
        self._waiting.append((item, future))
        return await future

    def _commit(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            results = self._store.enqueue_many([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
