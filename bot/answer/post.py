"""Posting without doubling: the Hub's comment POST has no idempotency key, so a POST whose
outcome is unknown must be looked for on the Hub, never repeated blindly, and a shutdown must
not cut one off half-way (the Hub may take it all the same, and the next start not know).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.answer.gather import Gatherer
from bot.answer.thread import ThreadComment, find_marked
from bot.errors import TransientError
from bot.events import Identity, Mention
from bot.hub.client import HubClient
from bot.logs import log_event
from bot.store import Job, Store

T = TypeVar("T")
log = logging.getLogger("bot.reply")


def may_have_landed(exc: TransientError) -> bool:
    """Whether the Hub may have taken a POST that failed so: no answer, a garbled 2xx, or a
    5xx (a gateway's timeout says nothing of the server behind it). A 429 and the like are
    refusals: nothing was posted."""
    return exc.status is None or exc.status < 300 or exc.status >= 500


def stopping() -> bool:
    """Whether a shutdown has asked this task to stop, and `uncancelled` held it off."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def uncancelled(operation: Awaitable[T]) -> T:
    """Run `operation` (a POST) to its end even when the caller is cancelled meanwhile, as a
    shutdown does; its own deadline bounds the wait. The cancellation stays requested
    (`stopping`), for the caller to honour once it has recorded the outcome."""
    task = asyncio.ensure_future(operation)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise


class ReplyPoster:
    """Posts a job's reply so that it lands once. The store notes the POST first (`posting_at`);
    a POST that ends without a clear answer (`may_have_landed`) is looked for on the Hub once
    its landing window is over (`landing_window` seconds after it began: its deadline and as
    long again) before it counts as failed; an attempt after an interrupted POST looks the same
    way before generating (`look_again`)."""

    def __init__(
        self,
        hub: HubClient,
        store: Store,
        gatherer: Gatherer,
        landing_window: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._hub = hub
        self._store = store
        self._gatherer = gatherer
        self.landing_window = landing_window
        self._sleep = sleep

    async def post(self, job: Job, bot: Identity, text: str, marker: str) -> tuple[str, bool]:
        """The new comment's id, and whether it was found on the Hub rather than in the POST's
        answer. Raises the POST's error when the reply is not on the Hub after all."""
        await self._store.mark_posting(job.id)
        started = time.monotonic()
        try:
            return await uncancelled(self._hub.post_comment(job.mention.where, text)), False
        except TransientError as exc:
            if not may_have_landed(exc) or stopping():
                raise  # with `posting_at` set, the next attempt waits and looks
            landed = exc.status is not None and exc.status < 300  # taken; its answer garbled
            since = self.landing_window if landed else time.monotonic() - started
            if found := await self.look_again(job.mention, bot, marker, since):
                return found, True
            raise TransientError(
                exc.service,
                exc.status,
                f"{exc.detail}; the reply was not on the Hub {self.landing_window:g} s after"
                " posting",
                exc.hint,
                exc.retry_after,
                code=exc.code,
                request_id=exc.request_id,
            ) from None

    async def look_again(
        self, mention: Mention, bot: Identity, marker: str, since: float
    ) -> str | None:
        """Once the landing window of a POST that began `since` seconds ago is over, read the
        discussion again: the id of the reply carrying `marker`, if it landed."""
        return find_marked(await self.read_after(mention, bot, since), marker)

    async def read_after(
        self, mention: Mention, bot: Identity, since: float
    ) -> list[ThreadComment]:
        """The discussion's comments, read once the landing window of a POST that began
        `since` seconds ago is over (whatever that POST was: a reply, a progress comment)."""
        wait = self.landing_window - since
        if wait > 0:
            log_event(log, logging.INFO, "waiting-for-reply-to-land", wait_s=round(wait, 1))
            await self._sleep(wait)
        return await self._gatherer.comments(mention, bot)
