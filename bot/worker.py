"""Claims queued jobs and runs each with its kind's handler (bot.handlers), at most
`concurrency` at once.

Each runner loops: claim the oldest claimable job, run it, repeat; when none is ready it sleeps
until `notify()` (a new job in this process, or a NOTIFY from another replica) or the poll
interval (jobs from another process, retries whose time has come, leases that expired). A
running job's lease is renewed while it runs, so only a job whose process died is ever claimed
again. No failure of the store stops a runner: it waits for the next poll and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.errors import StoreUnavailable
from bot.handlers import Handlers
from bot.store import Job, Store
from bot.store.records import JobStatus

log = logging.getLogger("bot.worker")


class Worker:
    def __init__(
        self,
        store: Store,
        handlers: Handlers,
        concurrency: int,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._runners: list[asyncio.Task[None]] = []

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._runners = [
            asyncio.create_task(self._runner(), name=f"runner-{n}")
            for n in range(self._concurrency)
        ]

    async def stop(self, grace_seconds: float) -> None:
        """Stop claiming; let running jobs finish within the grace period, then cancel them."""
        self._stopping = True
        self._wake.set()
        if not self._runners:
            return
        _, pending = await asyncio.wait(self._runners, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)

    async def _runner(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                job = await self._store.claim(self._lease)
            except StoreUnavailable:
                job = None  # the store said so once; poll again
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                continue
            await self._run_with_lease(job)

    async def _run_with_lease(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:  # written by a newer version sharing this store: leave it be
            log.warning("job job=%d kind=%s: no handler in this version", job.id, job.kind)
            with contextlib.suppress(StoreUnavailable):
                await self._store.retry_later(job.id, f"no handler for {job.kind} jobs", 3600)
            return
        renewer = asyncio.create_task(self._renew(job.id))
        try:
            await handler(job)
        except asyncio.CancelledError:
            # Cut off by shutdown: hand the job back so the next start picks it up at once.
            with contextlib.suppress(StoreUnavailable):
                await self._store.release(job.id)
            raise
        except StoreUnavailable:
            # Its outcome could not be recorded: its lease runs out and it is tried again,
            # and the Hub is checked for its reply before anything is posted.
            log.warning("job job=%d outcome=unrecorded: the store is unavailable", job.id)
        except Exception as exc:
            log.exception("job job=%d outcome=dead reason=internal-error", job.id)
            with contextlib.suppress(StoreUnavailable):
                await self._store.finish(
                    job.id, JobStatus.DEAD, f"internal error: {type(exc).__name__}"
                )
        finally:
            renewer.cancel()

    async def _renew(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            with contextlib.suppress(StoreUnavailable):
                await self._store.renew(job_id, self._lease)
