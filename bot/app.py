"""The web application: routes, and a lifespan that runs the worker over the bot's services.

`create_app` is the one seam for tests: settings, the bot's identity and prompts come in, and so
may the transports the HTTP clients use (fakes of the Hub and the model).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.events import Identity
from bot.prompts import Prompts
from bot.services import Services, open_services
from bot.status import metrics_page, status_page
from bot.store import Store
from bot.upstream import RetryPolicy
from bot.webhooks import WebhookReceiver
from bot.worker import Worker


def create_app(
    settings: Settings,
    bot: Identity | None,
    prompts: Prompts,
    *,
    hub_transport: httpx.AsyncBaseTransport | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
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
        ) as services:
            worker = Worker(
                services.store,
                services.flow.run,
                settings.concurrency,
                lease_seconds=settings.lease_seconds,
                retention_seconds=settings.retention_days * 86400,
            )
            receiver = WebhookReceiver(
                settings.webhook_secret.reveal().encode(),
                settings.max_body_bytes,
                settings.max_queue,
                services.whoami,
                services.guards,
                services.store,
                services.metrics,
                on_queued=worker.notify,
            )
            worker.start()
            flusher = asyncio.create_task(keep_flushing(services.store))
            try:
                yield {"receiver": receiver, "services": services}
            finally:
                flusher.cancel()
                await worker.stop(settings.shutdown_grace)

    return Starlette(
        routes=[
            Route("/webhook", receive_webhook, methods=["POST"]),
            Route("/", receive_webhook, methods=["POST"]),
            Route("/", status_page, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def keep_flushing(store: Store, every: float = 0.25, checkpoint_every: float = 2.0) -> None:
    """Write buffered delivery rows a few times a second, and checkpoint the WAL in a thread
    now and then (the store does both once more when it closes)."""
    since_checkpoint = 0.0
    while True:
        await asyncio.sleep(every)
        store.history.flush()
        since_checkpoint += every
        if since_checkpoint >= checkpoint_every:
            since_checkpoint = 0.0
            await asyncio.to_thread(store.checkpoint)


async def receive_webhook(request: Request) -> Response:
    receiver: WebhookReceiver = request.state.receiver
    return await receiver(request)


async def health(request: Request) -> Response:
    services: Services = request.state.services
    known = services.whoami.known
    return JSONResponse(
        {
            "status": "ok",
            "bot": known.handle if known else None,
            "queued": services.store.count("queued"),
        }
    )
