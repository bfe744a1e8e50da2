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

from bot.compose import Composer, Style
from bot.config import Secret, Settings
from bot.events import Identity
from bot.guards import Guards
from bot.hub import HubClient, Whoami
from bot.inference import ChatModel, GenerationParameters, Model, TextGenerationModel
from bot.prompts import Prompts
from bot.reply import Attempts, ReplyFlow, ReplyOptions
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
        headers=_headers(settings.hf_token),
        timeout=settings.hub_timeout,
        transport=transport,
    )


def _headers(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.reveal()}", "User-Agent": USER_AGENT}


def model_client(settings: Settings, http: httpx.AsyncClient, retry: RetryPolicy) -> Model:
    """The backend INFERENCE_API names, talking to INFERENCE_URL."""
    kind = ChatModel if settings.inference_api == "chat" else TextGenerationModel
    parameters = GenerationParameters(settings.max_new_tokens, settings.temperature, settings.top_p)
    return kind(http, settings.model_url, settings.inference_model, parameters, retry)


def model_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client that carries INFERENCE_TOKEN (HF_TOKEN unless set), never the Hub's base URL."""
    return httpx.AsyncClient(
        headers=_headers(settings.model_token),
        timeout=settings.inference_timeout,
        transport=transport,
    )


def composer(settings: Settings, prompts: Prompts, model: Model) -> Composer:
    secrets = (settings.hf_token, settings.webhook_secret, settings.model_token)
    style = Style(
        thread_budget=settings.thread_budget_chars,
        max_reply_chars=settings.max_reply_chars,
        allow_mentions=settings.allow_mentions,
        secrets=tuple(secret.reveal() for secret in secrets),
    )
    return Composer(prompts, model, style)


def reply_options(settings: Settings) -> ReplyOptions:
    return ReplyOptions(
        attempts=Attempts(settings.max_attempts, settings.attempt_backoff),
        read_thread=settings.thread_budget_chars > 0,
        failure_notice=settings.failure_notice,
        fault=settings.bot_fault,
    )


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
                model_http_client(settings, model_transport)
            )
            model = model_client(settings, model_http, retry)
            hub = HubClient(hub_http, retry)
            whoami = Whoami(hub, settings.bot_username, known=bot)
            guards = Guards(settings)
            flow = ReplyFlow(
                composer(settings, prompts, model),
                hub,
                store,
                whoami,
                guards,
                reply_options(settings),
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
