"""The reply machinery, loaded once the app is answering deliveries, and the worker started on
it.

`python -m bot` answers its first deliveries with the receiving half alone (`services.
receiving`): the prompts (checked, ~25 ms), the model's backends, the lookups and the
handlers (~50 ms of imports) are loaded right after, and only then does the worker claim jobs.
A mention acknowledged meanwhile waits in the store, as any queued mention does. A template
with a mistake ends the start there, with its one line (`on_failure`); what was acknowledged
is answered after the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from bot.config import Settings
from bot.inference.routing import Route
from bot.services.receiving import Receiving
from bot.worker import Worker

if TYPE_CHECKING:
    from bot.answer.prompts import Prompts
    from bot.services.assembly import Services

# What waited in the backlog while the bot started is answered before the loading begins.
ANSWER_FIRST = 0.05  # seconds


class Replies:
    def __init__(
        self,
        settings: Settings,
        receiving: Receiving,
        prompts: Prompts | None,
        route: Route | None,
        model_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`prompts` checked already (the tests), or None: loaded and checked here."""
        self._settings = settings
        self._receiving = receiving
        self._prompts = prompts
        self._route = route
        self._model_transport = model_transport
        self._loaded: asyncio.Future[Services] = asyncio.get_running_loop().create_future()
        self._worker: Worker | None = None

    def notify(self) -> None:
        """A job was queued: the worker looks, once there is one."""
        if self._worker is not None:
            self._worker.notify()

    async def load(
        self, on_failure: Callable[[BaseException], None], stopping: Callable[[], bool]
    ) -> None:
        """Load the machinery, then start the worker, unless the server is `stopping` by then
        (what is queued waits for the next start); a failure goes to `on_failure`."""
        try:
            await asyncio.sleep(ANSWER_FIRST)
            from bot.services.assembly import with_replies
            from bot.services.parts import load_prompts

            await asyncio.sleep(0)  # deliveries that came during the imports
            prompts = self._prompts or load_prompts(self._settings)
            services = with_replies(
                self._settings, self._receiving, prompts, self._route, self._model_transport
            )
        except asyncio.CancelledError:
            self._loaded.cancel()  # the status page waits for nothing
            raise
        except Exception as exc:
            self._loaded.set_exception(exc)
            self._loaded.exception()  # said by on_failure, not as "never retrieved"
            on_failure(exc)
            return
        if stopping():
            self._loaded.cancel()
            return
        settings = self._settings
        self._worker = Worker(
            services.store,
            services.handlers,
            settings.concurrency,
            lease_seconds=settings.lease_seconds,
        )
        self._worker.start()
        self._loaded.set_result(services)

    async def route(self) -> Route | None:
        """The model's route, for the status page, once the machinery is loaded (None if it
        could not be)."""
        with contextlib.suppress(Exception):
            return (await asyncio.shield(self._loaded)).models.route
        return None

    async def stop(self, grace_seconds: float) -> None:
        if self._worker is not None:
            await self._worker.stop(grace_seconds)
