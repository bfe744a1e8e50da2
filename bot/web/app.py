"""The web application: routes, and a lifespan that runs the worker over the bot's services.

`create_app` is the one seam for tests: settings, the bot's identity and prompts come in, and so
may the transports the HTTP clients use (fakes of the Hub and the model).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.answer.prompts import Prompts
from bot.config import Settings
from bot.events import Identity
from bot.inference.routing import Route as ModelRoute
from bot.services import Services, open_services
from bot.upstream import RetryPolicy
from bot.web.receiver import WebhookReceiver
from bot.web.status import favicon, metrics_page, status_page
from bot.worker import Worker

log = logging.getLogger("bot.app")


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
                services.handlers,
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
                automations=services.matcher,
                follow_ups=settings.follow_ups,
            )
            worker.start()
            upkeep = services.store.upkeep(settings.retention_days * 86400, worker.notify)
            upkeep.start()
            try:
                yield {"receiver": receiver, "services": services}
            finally:
                await worker.stop(settings.shutdown_grace)
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
