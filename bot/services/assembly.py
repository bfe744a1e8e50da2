"""The whole bot: the receiving half (`receiving`) with the reply machinery on it, the model,
the composer and the handlers. `python -m bot job` and the tests open it in one step
(`open_services`); `python -m bot` adds the replies to a receiving half that is already
answering (`with_replies`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from bot.answer.prompts import Prompts
from bot.config import Settings
from bot.events import Identity
from bot.guards import Guards
from bot.handlers import Handlers
from bot.handlers.conversation import Conversation
from bot.handlers.mention import ReplyFlow
from bot.hub.client import HubClient, Whoami
from bot.hub.webhook_watch import WebhookWatch
from bot.inference.models import Models
from bot.inference.routing import Route
from bot.metrics import Metrics
from bot.services.options import Deployment
from bot.services.parts import composer, conversation, gatherer, models, reply_options
from bot.services.receiving import Receiving, open_receiving
from bot.store import Store
from bot.store.records import JobKind
from bot.upstream import RetryPolicy

if TYPE_CHECKING:  # imported when there are rules to run: bot/services/automation_flow.py
    from bot.automations.matching import Matcher
    from bot.handlers.automation import AutomationFlow


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


def with_replies(
    settings: Settings,
    receiving: Receiving,
    prompts: Prompts,
    route: Route | None = None,
    model_transport: httpx.AsyncBaseTransport | None = None,
) -> Services:
    """The reply machinery built on a receiving half: the model on `route` (asked for at the
    first reply when None), the composer, the reply flow and the conversation."""
    hub, metrics = receiving.hub, receiving.metrics
    chosen = models(
        settings, hub, receiving.model_http, receiving.retry, route, metrics.observe,
        model_transport,
    )  # fmt: skip
    writer = composer(settings, prompts, chosen, receiving.redact)
    automations = None
    if receiving.rules:  # the automations' modules only when there are rules
        from bot.services.automation_flow import automation_flow

        automations = automation_flow(
            settings, receiving.rules, hub, receiving.hub_http, receiving.retry, receiving.store,
            receiving.whoami, metrics, os.environ,
        )  # fmt: skip
    flow = ReplyFlow(
        gatherer(settings, hub, receiving.viewer_http),
        writer,
        hub,
        receiving.store,
        receiving.whoami,
        metrics,
        reply_options(settings),
    )
    return Services(
        receiving.deployment, receiving.store, hub, receiving.whoami, receiving.guards, chosen,
        flow, metrics, receiving.webhooks, automations, receiving.matcher,
        conversation(settings, writer, hub),
    )  # fmt: skip


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
    async with open_receiving(
        settings, bot, hub_transport=hub_transport, model_transport=model_transport,
        viewer_transport=viewer_transport, retry=retry,
    ) as receiving:  # fmt: skip
        yield with_replies(settings, receiving, prompts, route, model_transport)
