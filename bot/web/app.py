"""The web application: routes, and a lifespan that runs the worker over the bot's services.

`create_app` is the one seam for tests: settings, the bot's identity and prompts come in, and so
may the transports the HTTP clients use (fakes of the Hub and the model).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.answer.prompts import Prompts
from bot.config import Settings
from bot.errors import StoreUnavailable
from bot.events import Identity
from bot.inference.routing import Route as ModelRoute
from bot.services import Services, open_services
from bot.store import Store
from bot.upstream import RetryPolicy
from bot.web.receiver import WebhookReceiver
from bot.web.status import favicon, metrics_page, status_page
from bot.worker import Worker

log = logging.getLogger("bot.app")
T = TypeVar("T")


def create_app(
    settings: Settings,
    bot: Identity | None,
    prompts: Prompts,
    *,
    hub_transport: httpx.AsyncBaseTransport | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    route: ModelRoute | None = None,
) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_services(
            settings,
            bot,
            prompts,
            hub_transport=hub_transport,
            model_transport=model_transport,
            retry=retry,
            route=route,
        ) as services:
            worker = Worker(
                services.store,
                services.flow.run,
                settings.concurrency,
                lease_seconds=settings.lease_seconds,
            )
            receiver = WebhookReceiver(
                settings.shared_secret.get_secret_value().encode(),
                settings.max_body_bytes,
                settings.max_queue,
                services.whoami,
                services.guards,
                services.store,
                services.metrics,
                on_queued=worker.notify,
            )
            worker.start()
            upkeep = asyncio.create_task(
                keep_up(services.store, settings.retention_days * 86400, worker.notify)
            )
            try:
                yield {"receiver": receiver, "services": services}
            finally:
                upkeep.cancel()
                await worker.stop(settings.shutdown_grace)

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


# Delivery rows are written in small batches: a big one holds up the mentions queued behind it.
FLUSH_EVERY, MAINTAIN_EVERY, PRUNE_EVERY = 0.1, 2.0, 3600.0


async def keep_up(store: Store, retention: float, wake: Callable[[], None]) -> None:
    """The store's upkeep, in one loop: write buffered delivery rows ten times a second;
    every couple of seconds count the queue (for /health and the metrics, which never wait on
    the store) and let the driver keep itself (SQLite folds its WAL, PostgreSQL keeps its
    LISTEN connection); once an hour delete finished jobs older than the retention period.
    A failing store is reported by the store, once per incident; this loop only tries again."""
    loop = asyncio.get_running_loop()
    next_maintain = next_prune = loop.time()
    while True:
        now = loop.time()
        if now >= next_prune:
            next_prune = now + PRUNE_EVERY
            if pruned := await _quietly(store.prune(time.time() - retention)):
                log.info("pruned=%d finished jobs older than the retention period", pruned)
        await _quietly(store.flush())
        if now >= next_maintain:
            next_maintain = now + MAINTAIN_EVERY
            await _quietly(store.depth())
            await _quietly(store.oldest_unfinished_age())
            await _quietly(store.maintain(wake))
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


async def receive_webhook(request: Request) -> Response:
    receiver: WebhookReceiver = request.state.receiver
    return await receiver(request)


async def health(request: Request) -> Response:
    """Answers at once from what the bot already knows: it never waits on the store. 503 while
    the store cannot be used, so a load balancer sends deliveries to a replica that can."""
    services: Services = request.state.services
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
