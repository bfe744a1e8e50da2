"""The bot's parts, built from settings: HTTP clients, store, model, composer and reply flow.

Shared by the web app (which adds the webhook receiver and the worker) and by `python -m bot
job` (which handles one payload and exits). Tests pass fake transports and a retry policy.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx

from bot.answer.compose import Composer, Style
from bot.answer.context import Budgets, ContextReader
from bot.answer.gather import Gatherer
from bot.answer.prompts import Prompts
from bot.config import Secret, Settings
from bot.errors import ModelNotServed
from bot.events import Identity
from bot.guards import Guards
from bot.handlers.mention import Attempts, ReplyFlow, ReplyOptions
from bot.hub.client import HubClient, Whoami
from bot.hub.webhook_watch import WebhookWatch
from bot.inference import GenerationParameters, Model, Models, model_for
from bot.inference.routing import NotServed, Route, custom_route, resolve
from bot.metrics import Metrics
from bot.redact import Redactor
from bot.store import Store, open_store
from bot.upstream import CallLimits, Observer, RetryPolicy, ignore_call

USER_AGENT = "hub-discussion-bot/0.1"
PROBE_TIMEOUT = 5.0  # seconds a custom INFERENCE_URL gets to say what it serves


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client: each would otherwise load the CA bundle again, at
    about 30 ms and 1.5 MiB apiece."""
    return httpx.create_ssl_context()


def _headers(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.get_secret_value()}", "User-Agent": USER_AGENT}


def hub_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client bound to HF_ENDPOINT: requests carry relative paths, so the token stays there.
    It sends no Accept header: the Hub answers JSON anyway, and its description of `resolve`
    reads an Accept header as a request for Xet file information."""
    client = httpx.AsyncClient(
        base_url=settings.hf_endpoint,
        headers=_headers(settings.hub_token),
        timeout=settings.hub_timeout,
        transport=transport,
        verify=tls(),
    )
    del client.headers["accept"]
    return client


def model_http_client(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float | None = None,
) -> httpx.AsyncClient:
    """A client that carries INFERENCE_TOKEN (HF_TOKEN unless set), never the Hub's base URL."""
    return httpx.AsyncClient(
        headers=_headers(settings.model_token),
        timeout=min(timeout or settings.inference_timeout, settings.inference_timeout),
        transport=transport,
        verify=tls(),
    )


def hub_limits(settings: Settings) -> CallLimits:
    return CallLimits(settings.hub_timeout, settings.max_upstream_bytes)


def model_limits(settings: Settings) -> CallLimits:
    return CallLimits(settings.inference_timeout, settings.max_upstream_bytes)


def hub_client(
    settings: Settings, http: httpx.AsyncClient, retry: RetryPolicy, observe: Observer = ignore_call
) -> HubClient:
    return HubClient(http, retry, observe, hub_limits(settings))


def parameters(settings: Settings) -> GenerationParameters:
    return GenerationParameters(settings.max_new_tokens, settings.temperature, settings.top_p)


async def find_route(
    settings: Settings, hub: HubClient, transport: httpx.AsyncBaseTransport | None = None
) -> Route:
    """INFERENCE_URL as configured (probed on a short-lived client of its own, with a short
    timeout), or what the Hub says serves INFERENCE_MODEL."""
    if settings.inference_url:
        async with model_http_client(settings, transport, timeout=PROBE_TIMEOUT) as http:
            return await custom_route(settings, http)
    return await resolve(settings, hub)


def models(
    settings: Settings,
    hub: HubClient,
    model_http: httpx.AsyncClient,
    retry: RetryPolicy,
    route: Route | None,
    observe: Observer = ignore_call,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Models:
    """The model on `route`, or, when it is not known yet, on the route found at first use."""

    async def resolve_later() -> Route:
        try:
            return await find_route(settings, hub, transport)
        except NotServed as exc:
            raise ModelNotServed("model", None, str(exc)) from None

    def build(found: Route) -> Model:
        return model_for(
            found, model_http, parameters(settings), retry, observe, model_limits(settings)
        )

    return Models(build, resolve_later, route)


def composer(settings: Settings, prompts: Prompts, models: Models) -> Composer:
    style = Style(
        thread_budget=settings.thread_budget_chars,
        card_chars=settings.card_budget_chars,
        files_listed=settings.files_listed,
        max_reply_chars=settings.max_reply_chars,
        allow_mentions=settings.allow_mentions,
        redact=Redactor(settings.secrets),
    )
    return Composer(prompts, models, style)


def gatherer(settings: Settings, hub: HubClient) -> Gatherer:
    budgets = Budgets(settings.card_budget_chars, settings.diff_budget_chars, settings.files_listed)
    return Gatherer(hub, ContextReader(hub, budgets))


def reply_options(settings: Settings) -> ReplyOptions:
    return ReplyOptions(
        attempts=Attempts(settings.max_attempts, settings.attempt_backoff),
        failure_notice=settings.failure_notice,
        fault=settings.bot_fault,
    )


@dataclass
class Services:
    settings: Settings
    store: Store
    hub: HubClient
    whoami: Whoami
    guards: Guards
    models: Models
    flow: ReplyFlow
    metrics: Metrics
    webhooks: WebhookWatch


@asynccontextmanager
async def open_services(
    settings: Settings,
    bot: Identity | None,
    prompts: Prompts,
    *,
    hub_transport: httpx.AsyncBaseTransport | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    route: Route | None = None,
) -> AsyncIterator[Services]:
    retry = retry or RetryPolicy(budget=settings.retry_budget)
    metrics = Metrics(Redactor(settings.secrets))
    async with AsyncExitStack() as stack:
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        metrics.watch(store)
        hub_http = await stack.enter_async_context(hub_http_client(settings, hub_transport))
        model_http = await stack.enter_async_context(model_http_client(settings, model_transport))
        hub = hub_client(settings, hub_http, retry, metrics.observe)
        chosen = models(settings, hub, model_http, retry, route, metrics.observe, model_transport)
        whoami = Whoami(hub, settings.bot_username, known=bot)
        guards = Guards(settings)
        flow = ReplyFlow(
            gatherer(settings, hub),
            composer(settings, prompts, chosen),
            hub,
            store,
            whoami,
            metrics,
            reply_options(settings),
        )
        if bot is not None:  # asked of the Hub at startup, a moment ago
            metrics.health["Hub"].last_success = time.time()
        watch = WebhookWatch(hub, settings.webhook_url)
        yield Services(settings, store, hub, whoami, guards, chosen, flow, metrics, watch)
