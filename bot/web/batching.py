"""Group commit: mentions that arrive together are written in one transaction.

Each delivery still waits for its own row to be committed before it is acknowledged; it just
shares the commit with the others that arrived in the same turn of the event loop, or while
the previous commit was under way. Under load that turns many small commits into a few
larger ones.
"""

from __future__ import annotations

import asyncio

from bot.store import Enqueue, EnqueueOutcome, Store

Result = tuple[EnqueueOutcome, int]


class GroupCommit:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[Enqueue, asyncio.Future[Result]]] = []
        self._committing = False
        self._task: asyncio.Task[None] | None = None

    async def enqueue(self, item: Enqueue) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._committing:
            # A task starts after the callbacks already ready in this turn, which may add to
            # the batch.
            self._committing = True
            self._task = asyncio.get_running_loop().create_task(self._commit_all())
        return await future

    async def _commit_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._store.enqueue_many([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._committing = False
