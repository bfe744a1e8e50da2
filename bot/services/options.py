"""The options the receiving half is built from, each from settings: where the store lives,
the guards' rules, how the model is reached, and what the status page says. Light on
purpose: the bot answers its first delivery with these, before the reply machinery is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.config import Secret, Settings
from bot.guards import GuardRules
from bot.hub.client import HubClient
from bot.inference.routing import Route, RouteOptions, custom_route, resolve
from bot.redact import Redactor
from bot.services.clients import hub_client, hub_http_client, model_http_client
from bot.store import Limits, StoreOptions
from bot.store.location import lost_at_restart
from bot.upstream import RetryPolicy

PROBE_TIMEOUT = 5.0  # seconds a custom INFERENCE_URL gets to say what it serves


@dataclass(frozen=True)
class Deployment:
    """What the status page says about this deployment."""

    hub_url: str
    handle: str | None  # BOT_USERNAME as set, until whoami answers
    webhook_url: str
    status_token: Secret | None
    state_lost: str | None  # why state would not survive a restart, if it would not


def deployment(settings: Settings, store: StoreOptions) -> Deployment:
    return Deployment(
        settings.hf_endpoint,
        settings.bot_username,
        settings.webhook_url,
        settings.status_token,
        lost_at_restart(store.sqlite_dir, settings.space_host),
    )


def route_options(settings: Settings) -> RouteOptions:
    return RouteOptions(
        model=settings.model_id,
        api=settings.inference_api,
        provider=settings.inference_provider,
        policy=settings.inference_policy,
        router=settings.inference_router_url,
        hub=settings.hf_endpoint,
        url=settings.inference_url,
        url_model=settings.inference_model,
    )


async def find_route(
    settings: Settings,
    hub: HubClient,
    transport: httpx.AsyncBaseTransport | None = None,
    hub_transport: httpx.AsyncBaseTransport | None = None,
) -> Route:
    """INFERENCE_URL as configured (probed on a short-lived client of its own, with a short
    timeout), or what the Hub says serves INFERENCE_MODEL, asked with the token that will call
    the model (INFERENCE_TOKEN when set: the Hub's answer may depend on who asks)."""
    if settings.inference_url:
        async with model_http_client(settings, transport, timeout=PROBE_TIMEOUT) as http:
            return await custom_route(route_options(settings), http)
    if settings.inference_token is None:
        return await resolve(route_options(settings), hub)
    as_model = settings.model_copy(update={"hf_token": settings.inference_token})
    async with hub_http_client(as_model, hub_transport) as http:
        retry = RetryPolicy(budget=settings.retry_budget)
        return await resolve(route_options(settings), hub_client(as_model, http, retry))


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
