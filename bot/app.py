"""The application: routes, and a lifespan that owns the store, the HTTP clients and the worker.

`create_app` is the one seam for tests: settings, the bot's identity and prompts come in, and so
may the transports the HTTP clients use (fakes of the Hub and the model).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.events import Identity
from bot.guards import Guards
from bot.hub import HubClient, Whoami
from bot.inference import GenerationParameters, TextGenerationModel
from bot.prompts import Prompts
from bot.reply import Attempts, ReplyFlow
from bot.store import Store
from bot.upstream import RetryPolicy
from bot.webhooks import WebhookReceiver
from bot.worker import Worker

USER_AGENT = "hub-discussion-bot/0.1"


def hub_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client bound to HF_ENDPOINT: requests carry relative paths, so the token stays there."""
    return httpx.AsyncClient(
        base_url=settings.hf_endpoint,
        headers=_headers(settings),
        timeout=settings.hub_timeout,
        transport=transport,
    )


def _headers(settings: Settings) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {settings.hf_token.reveal()}",
        "User-Agent": USER_AGENT,
    }


def create_app(
    settings: Settings,
    bot: Identity | None,
    prompts: Prompts,
    *,
    hub_transport: httpx.AsyncBaseTransport | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> Starlette:
    retry = retry or RetryPolicy(budget=settings.retry_budget)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with AsyncExitStack() as stack:
            store = Store.open(settings.database_path)
            stack.callback(store.close)
            hub_http = await stack.enter_async_context(hub_http_client(settings, hub_transport))
            model_http = await stack.enter_async_context(
                httpx.AsyncClient(
                    headers=_headers(settings),
                    timeout=settings.inference_timeout,
                    transport=model_transport,
                )
            )
            model = TextGenerationModel(
                model_http,
                settings.inference_url,
                GenerationParameters(settings.max_new_tokens, settings.temperature, settings.top_p),
                retry,
            )
            hub = HubClient(hub_http, retry)
            whoami = Whoami(hub, settings.bot_username, known=bot)
            guards = Guards(settings)
            flow = ReplyFlow(
                prompts,
                model,
                hub,
                store,
                whoami,
                guards,
                Attempts(settings.max_attempts, settings.attempt_backoff),
                settings.bot_fault,
            )
            worker = Worker(
                store,
                flow.run,
                settings.concurrency,
                lease_seconds=settings.lease_seconds,
                retention_seconds=settings.retention_days * 86400,
            )
            receiver = WebhookReceiver(
                settings.webhook_secret.reveal().encode(),
                settings.max_body_bytes,
                settings.max_queue,
                whoami,
                guards,
                store,
                on_queued=worker.notify,
            )
            worker.start()
            try:
                yield {"receiver": receiver, "store": store, "whoami": whoami}
            finally:
                await worker.stop(settings.shutdown_grace)

    return Starlette(
        routes=[
            Route("/webhook", receive_webhook, methods=["POST"]),
            Route("/", receive_webhook, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def receive_webhook(request: Request) -> Response:
    receiver: WebhookReceiver = request.state.receiver
    return await receiver(request)


async def health(request: Request) -> Response:
    store: Store = request.state.store
    whoami: Whoami = request.state.whoami
    bot = whoami.known.handle if whoami.known else None
    return JSONResponse({"status": "ok", "bot": bot, "queued": store.count("queued")})
