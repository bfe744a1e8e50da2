"""The bot's parts, built from settings: HTTP clients, store, model, composer and reply flow.

Shared by the web app (which adds the webhook receiver and the worker) and by `python -m bot
job` (which handles one payload and exits). Tests pass fake transports and a retry policy.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import AsyncIterator, Callable
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
from bot.guards import GuardRules, Guards
from bot.handlers import Handlers
from bot.handlers.mention import Attempts, ReplyFlow, ReplyOptions
from bot.hub.client import HubClient, Whoami
from bot.hub.webhook_watch import WebhookWatch
from bot.inference import GenerationParameters, Model, Models, model_for
from bot.inference.routing import NotServed, Route, RouteOptions, custom_route, resolve
from bot.metrics import Metrics
from bot.redact import Redactor
from bot.sources.files import RepoFiles
from bot.sources.lookups import LookupOptions, Lookups
from bot.sources.viewer import Viewer
from bot.store import Limits, Store, StoreOptions, open_store
from bot.store.location import lost_at_restart
from bot.store.records import JobKind
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


def route_options(settings: Settings) -> RouteOptions:
    return RouteOptions(
        model=settings.model_id,
        api=settings.inference_api,
        provider=settings.inference_provider,
        router=settings.inference_router_url,
        hub=settings.hf_endpoint,
        url=settings.inference_url,
        url_model=settings.inference_model,
    )


async def find_route(
    settings: Settings, hub: HubClient, transport: httpx.AsyncBaseTransport | None = None
) -> Route:
    """INFERENCE_URL as configured (probed on a short-lived client of its own, with a short
    timeout), or what the Hub says serves INFERENCE_MODEL."""
    if settings.inference_url:
        async with model_http_client(settings, transport, timeout=PROBE_TIMEOUT) as http:
            return await custom_route(route_options(settings), http)
    return await resolve(route_options(settings), hub)


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


def composer(
    settings: Settings, prompts: Prompts, models: Models, redact: Callable[[str], str]
) -> Composer:
    style = Style(
        thread_budget=settings.thread_budget_chars,
        files_listed=settings.files_listed,
        max_reply_chars=settings.max_reply_chars,
        allow_mentions=settings.allow_mentions,
        redact=redact,
    )
    return Composer(prompts, models, style)


def viewer_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client bound to DATASET_VIEWER_URL, with the token (gated datasets need it); httpx
    drops the token on a redirect to another origin."""
    return httpx.AsyncClient(
        base_url=settings.dataset_viewer_url,
        headers=_headers(settings.hub_token),
        timeout=settings.hub_timeout,
        transport=transport,
        verify=tls(),
    )


def lookups(settings: Settings, hub: HubClient, viewer_http: httpx.AsyncClient | None) -> Lookups:
    options = LookupOptions(
        budget_chars=settings.lookup_budget_chars,
        max_tool_calls=settings.max_tool_calls,
        tools=settings.tools == "auto",
        private_allowed=settings.answer_private_repos,
        deadline=settings.hub_timeout,
    )
    viewer = Viewer(viewer_http, hub_limits(settings)) if viewer_http else None
    return Lookups(hub, RepoFiles(hub), viewer, options)


def gatherer(
    settings: Settings, hub: HubClient, viewer_http: httpx.AsyncClient | None = None
) -> Gatherer:
    budgets = Budgets(settings.card_budget_chars, settings.diff_budget_chars, settings.files_listed)
    return Gatherer(hub, ContextReader(hub, budgets), lookups(settings, hub, viewer_http))


def guard_rules(settings: Settings) -> GuardRules:
    return GuardRules(
        allow_repos=settings.allow_repos,
        deny_repos=settings.deny_repos,
        allow_authors=settings.allow_authors,
        deny_authors=settings.deny_authors,
        answer_private_repos=settings.answer_private_repos,
        answer_closed=settings.answer_closed,
        answer_pull_requests=settings.answer_pull_requests,
    )


def load_prompts(settings: Settings) -> Prompts:
    """Every prompt set the settings name, checked."""
    return Prompts(settings.prompt_folder, settings.prompt_sets)


def store_options(settings: Settings, redact: Callable[[str], str] | None = None) -> StoreOptions:
    """Where the store lives and its reply limits; `redact` (default: the settings' secrets)
    is applied to every reason it keeps."""
    url = settings.database_url.get_secret_value() if settings.database_url else None
    limits = Limits(
        settings.replies_per_discussion_hour,
        settings.replies_per_author_hour,
        settings.replies_per_day,
    )
    return StoreOptions(
        settings.data_dir,
        settings.database_path,
        url,
        pool_size=settings.concurrency + 4,  # the worker's runners, and some for deliveries
        limits=limits,
        redact=redact or Redactor(settings.secrets),
    )


def reply_options(settings: Settings) -> ReplyOptions:
    return ReplyOptions(
        attempts=Attempts(settings.max_attempts, settings.attempt_backoff),
        failure_notice=settings.failure_notice,
        fault=settings.bot_fault,
    )


@dataclass(frozen=True)
class Deployment:
    """What the status page says about this deployment."""

    hub_url: str
    handle: str | None  # BOT_USERNAME as set, until whoami answers
    webhook_url: str
    status_token: Secret | None
    state_lost: str | None  # why state would not survive a restart, if it would not


def deployment(settings: Settings) -> Deployment:
    return Deployment(
        settings.hf_endpoint,
        settings.bot_username,
        settings.webhook_url,
        settings.status_token,
        lost_at_restart(store_options(settings).sqlite_dir, settings.space_host),
    )


@dataclass
class Services:
    deployment: Deployment
    store: Store
    hub: HubClient
    whoami: Whoami
    guards: Guards
    models: Models
    flow: ReplyFlow
    metrics: Metrics
    webhooks: WebhookWatch

    @property
    def handlers(self) -> Handlers:
        """Which handler runs each kind of job."""
        return {JobKind.MENTION: self.flow.run}


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
    viewer_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Services]:
    retry = retry or RetryPolicy(budget=settings.retry_budget)
    redact = Redactor(settings.secrets)
    metrics = Metrics(redact)
    async with AsyncExitStack() as stack:
        store = await open_store(store_options(settings, redact))
        stack.push_async_callback(store.close)
        metrics.watch(store)
        hub_http = await stack.enter_async_context(hub_http_client(settings, hub_transport))
        model_http = await stack.enter_async_context(model_http_client(settings, model_transport))
        viewer_http = await stack.enter_async_context(
            viewer_http_client(settings, viewer_transport)
        )
        hub = hub_client(settings, hub_http, retry, metrics.observe)
        chosen = models(settings, hub, model_http, retry, route, metrics.observe, model_transport)
        whoami = Whoami(hub, settings.bot_username, known=bot)
        guards = Guards(guard_rules(settings))
        flow = ReplyFlow(
            gatherer(settings, hub, viewer_http),
            composer(settings, prompts, chosen, redact),
            hub,
            store,
            whoami,
            metrics,
            reply_options(settings),
        )
        if bot is not None:  # asked of the Hub at startup, a moment ago
            metrics.health["Hub"].last_success = time.time()
        watch = WebhookWatch(hub, settings.webhook_url)
        yield Services(
            deployment(settings), store, hub, whoami, guards, chosen, flow, metrics, watch
        )
