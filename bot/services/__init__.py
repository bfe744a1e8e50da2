"""The bot's parts, assembled from settings: HTTP clients, store, model, composer, handlers.

Shared by the web app (which adds the webhook receiver and the worker) and by `python -m bot
job` (which handles one payload and exits). Tests pass fake transports and a retry policy.

    clients.py      the HTTP clients, each bound to the origin its token may go to
    parts.py        each part built from settings, with the small options it takes
    automations.py  the automations' parts, imported only when there is an AUTOMATIONS_FILE
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from bot.answer.prompts import Prompts
from bot.config import Secret, Settings
from bot.events import Identity
from bot.guards import Guards
from bot.handlers import Handlers
from bot.handlers.conversation import Conversation
from bot.handlers.mention import ReplyFlow
from bot.hub.client import HubClient, Whoami
from bot.hub.webhook_watch import WebhookWatch
from bot.inference import Models
from bot.inference.routing import Route
from bot.metrics import Metrics
from bot.redact import Redactor
from bot.services.clients import (
    hub_client,
    hub_http_client,
    hub_limits,
    model_http_client,
    model_limits,
    viewer_http_client,
)
from bot.services.parts import (
    composer,
    conversation,
    find_route,
    gatherer,
    guard_rules,
    load_prompts,
    models,
    parameters,
    reply_options,
    route_options,
    store_options,
)
from bot.store import Store, open_store
from bot.store.location import lost_at_restart
from bot.store.records import JobKind
from bot.upstream import RetryPolicy

if TYPE_CHECKING:  # imported when there are rules to run: bot/services/automations.py
    from bot.automations.matching import Matcher
    from bot.handlers.automation import AutomationFlow

__all__ = [
    "Deployment",
    "Services",
    "composer",
    "find_route",
    "gatherer",
    "hub_client",
    "hub_http_client",
    "hub_limits",
    "load_prompts",
    "model_http_client",
    "model_limits",
    "models",
    "open_services",
    "parameters",
    "reply_options",
    "route_options",
    "store_options",
    "viewer_http_client",
]


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
    automations: AutomationFlow | None = None  # None: no AUTOMATIONS_FILE
    matcher: Matcher | None = None
    conversation: Conversation | None = None  # repo settings, commands, follow-ups

    @property
    def handlers(self) -> Handlers:
        """Which handler runs each kind of job."""
        handlers = {JobKind.MENTION: self.flow.run}
        if self.conversation is not None:
            talk = self.conversation
            handlers[JobKind.MENTION] = self.flow.with_responder(talk.mention).run
            handlers[JobKind.FOLLOW_UP] = self.flow.with_responder(talk.follow_up).run
        if self.automations is not None:
            handlers[JobKind.AUTOMATION] = self.automations.run
        return handlers


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
        writer = composer(settings, prompts, chosen, redact)
        flow = ReplyFlow(
            gatherer(settings, hub, viewer_http),
            writer,
            hub,
            store,
            whoami,
            metrics,
            reply_options(settings),
        )
        if bot is not None:  # asked of the Hub at startup, a moment ago
            metrics.health["Hub"].last_success = time.time()
        watch = WebhookWatch(hub, settings.webhook_url)
        automations, matcher = None, None
        if settings.automations_path is not None:
            from bot.services.automations import automations as automation_parts

            parts = automation_parts(
                settings, hub, hub_http, retry, store, whoami, metrics, os.environ
            )
            automations, matcher = parts if parts else (None, None)
        yield Services(
            deployment(settings), store, hub, whoami, guards, chosen, flow, metrics, watch,
            automations, matcher,
            conversation(settings, writer, hub),
        )  # fmt: skip
