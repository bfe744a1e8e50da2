"""The half of the bot that answers deliveries: the store, the HTTP clients, who the bot is,
the guards, the metrics, the webhook watch (and the automations' rules and matcher, when there
are any).

`python -m bot` opens it and answers its first delivery with it while the reply machinery
(`assembly.with_replies`: prompts, model, lookups, handlers) is still being loaded, so nothing
here imports that machinery.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from bot.config import Settings
from bot.events import Identity
from bot.guards import Guards
from bot.hub.client import HubClient, Whoami
from bot.hub.webhook_watch import WebhookWatch
from bot.metrics import Metrics
from bot.redact import Redactor
from bot.services.clients import hub_client, hub_http_client, model_http_client, viewer_http_client
from bot.services.options import Deployment, deployment, guard_rules, store_options
from bot.store import Store, open_store
from bot.upstream import RetryPolicy

if TYPE_CHECKING:  # imported when there are rules to run: bot/services/automations.py
    from bot.automations.matching import Matcher
    from bot.automations.rules import Rules


@dataclass
class Receiving:
    deployment: Deployment
    store: Store
    hub: HubClient
    whoami: Whoami
    guards: Guards
    metrics: Metrics
    webhooks: WebhookWatch
    redact: Redactor
    retry: RetryPolicy
    hub_http: httpx.AsyncClient
    model_http: httpx.AsyncClient
    viewer_http: httpx.AsyncClient
    rules: Rules | None = None  # None: no AUTOMATIONS_FILE, or no rule in it
    matcher: Matcher | None = None


@asynccontextmanager
async def open_receiving(
    settings: Settings,
    bot: Identity | None,
    *,
    hub_transport: httpx.AsyncBaseTransport | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
    viewer_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[Receiving]:
    retry = retry or RetryPolicy(budget=settings.retry_budget)
    redact = Redactor(settings.secrets)
    metrics = Metrics(redact)
    async with AsyncExitStack() as stack:
        options = store_options(settings, redact)
        store = await open_store(options)
        stack.push_async_callback(store.close)
        metrics.watch(store)
        hub_http = await stack.enter_async_context(hub_http_client(settings, hub_transport))
        model_http = await stack.enter_async_context(model_http_client(settings, model_transport))
        viewer_http = await stack.enter_async_context(
            viewer_http_client(settings, viewer_transport)
        )
        hub = hub_client(settings, hub_http, retry, metrics.observe)
        whoami = Whoami(hub, settings.bot_username, known=bot)
        if bot is not None:  # asked of the Hub at startup, a moment ago
            metrics.health["Hub"].last_success = time.time()
        rules, matcher = None, None
        if settings.automations_path is not None:
            from bot.services.automations import automation_rules
            from bot.services.automations import matcher as automations_matcher

            rules = automation_rules(settings) or None
            matcher = automations_matcher(settings, rules) if rules else None
        yield Receiving(
            deployment(settings, options), store, hub, whoami, Guards(guard_rules(settings)),
            metrics, WebhookWatch(hub, settings.webhook_url), redact, retry, hub_http,
            model_http, viewer_http, rules, matcher,
        )  # fmt: skip
