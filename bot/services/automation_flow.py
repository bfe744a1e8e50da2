"""The handler of automation jobs, built with the replies when AUTOMATIONS_FILE has rules
(imported by bot/services/assembly.py only then)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.automations.card_review import CardReviewer
from bot.automations.comment import Commenter
from bot.automations.discussions import Discussions
from bot.automations.rules import Rules
from bot.automations.run_job import JobRunner
from bot.automations.templates import AutomationTemplates
from bot.config import Settings
from bot.handlers.automation import Actions, AutomationFlow
from bot.handlers.mention import Attempts
from bot.hub.client import HubClient, Whoami
from bot.hub.jobs import HubJobs
from bot.metrics import Metrics
from bot.services.clients import hub_limits
from bot.store import Store
from bot.upstream import RetryPolicy


def automation_flow(
    settings: Settings,
    rules: Rules,
    hub: HubClient,
    hub_http: httpx.AsyncClient,
    retry: RetryPolicy,
    store: Store,
    whoami: Whoami,
    metrics: Metrics,
    environ: Mapping[str, str],
) -> AutomationFlow:
    """The handler of automation jobs; `environ` holds the secrets the rules name."""
    hub_jobs = HubJobs(hub_http, retry, metrics.observe, hub_limits(settings))
    templates = AutomationTemplates(settings.prompt_folder)
    discussions = Discussions(hub, hub_jobs)
    endpoint = settings.hf_endpoint
    actions = Actions(
        JobRunner(hub_jobs, discussions, templates, endpoint, environ),
        CardReviewer(hub, discussions, templates, endpoint),
        Commenter(discussions, templates, endpoint),
    )
    attempts = Attempts(settings.max_attempts, settings.attempt_backoff)
    return AutomationFlow(rules, actions, store, whoami, metrics, attempts, settings.bot_fault)
