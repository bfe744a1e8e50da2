"""The web application: routes, and a lifespan that answers deliveries with the receiving half
and then loads the replies and starts the worker (`replies`).

`create_app` is the one seam for tests: settings, the bot's identity and prompts come in, and so
may the transports the HTTP clients use (fakes of the Hub and the model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.events import Identity
from bot.inference.routing import Route as ModelRoute
from bot.services.receiving import Receiving, open_receiving
from bot.upstream import RetryPolicy
from bot.web.receiver import WebhookReceiver
from bot.web.replies import Replies
from bot.web.status import favicon, metrics_page, status_page

if TYPE_CHECKING:
    from bot.answer.prompts import Prompts

log = logging.getLogger("bot.app")


def _log_failure(exc: BaseException) -> None:
    log.error("the replies could not be loaded: %s", exc)


def create_app(
    settings: Settings,
    bot: Identity | None,
    prompts: Prompts | None = None,
    *,
    hub_transport: httpx.AsyncBaseTransport | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    route: ModelRoute | None = None,
    on_failure: Callable[[BaseException], None] = _log_failure,
    stopping: Callable[[], bool] = lambda: False,
) -> Starlette:
    """`prompts`: checked already, or None to load them once deliveries are being answered;
    `on_failure` hears why the replies could not be loaded (`python -m bot` then stops);
    `stopping` says whether the server is on its way out (no worker is started then)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_receiving(
            settings, bot, hub_transport=hub_transport, model_transport=model_transport,
            retry=retry,
        ) as receiving:  # fmt: skip
            replies = Replies(settings, receiving, prompts, route, model_transport)
            receiver = WebhookReceiver(
                settings.shared_secret.get_secret_value().encode(),
                settings.max_body_bytes,
                settings.max_queue,
                receiving.whoami,
                receiving.guards,
                receiving.store,
                receiving.metrics,
                on_queued=replies.notify,
                automations=receiving.matcher,
                follow_ups=settings.follow_ups,
            )
            upkeep = receiving.store.upkeep(settings.retention_days * 86400, replies.notify)
            upkeep.start()
            loading = asyncio.create_task(replies.load(on_failure, stopping), name="load-replies")
            try:
                yield {"receiver": receiver, "receiving": receiving, "replies": replies}
            finally:
                loading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loading
                await replies.stop(settings.shutdown_grace)
                await upkeep.stop()  # writes what is buffered, before the store closes

    return Starlette(
        routes=[
            Route("/webhook", receive_webhook, methods=["POST"]),
            Route("/", receive_webhook, methods=["POST"]),
            Route("/", status_page, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def receive_webhook(request: Request) -> Response:
    receiver: WebhookReceiver = request.state.receiver
    return await receiver(request)


async def health(request: Request) -> Response:
    """Answers at once from what the bot already knows: it never waits on the store. 503 while
    a delivery would get 503 because the store cannot record it (a failed write probe or
    mention), so a load balancer sends deliveries to a replica that can; not while only claims
    or the status page wait on a lock, which deliveries never do (see `bot.store`)."""
    services: Receiving = request.state.receiving
    known, store = services.whoami.known, services.store
    return JSONResponse(
        {
            "status": "ok" if store.health.ok else "degraded",
            "store": "ok" if store.health.ok else "unavailable",
            "bot": known.handle if known else None,
            "unfinished_jobs": store.depth_now,
        },
        200 if store.health.ok else 503,
    )
