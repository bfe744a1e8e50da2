"""The automations' parts, built only when there is an AUTOMATIONS_FILE: most deployments have
none, and these modules (with PyYAML) are a tenth of the start and a MiB of memory.

Imported by bot/services/__init__.py inside `open_services`, and by the commands that read the
file (preview --automation); nothing imports it at the top of a module.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.automations.card_review import CardReviewer
from bot.automations.comment import Commenter
from bot.automations.discussions import Discussions
from bot.automations.matching import Matcher
from bot.automations.rules import Rules, load_rules
from bot.automations.run_job import JobRunner
from bot.automations.templates import AutomationTemplates
from bot.config import Settings
from bot.handlers.automation import Actions, AutomationFlow
from bot.handlers.mention import Attempts
from bot.hub.client import HubClient, Whoami
from bot.hub.jobs import HubJobs
from bot.metrics import Metrics
from bot.services.clients import hub_limits
from bot.services.options import guard_rules
from bot.store import Store
from bot.upstream import RetryPolicy


def automation_rules(settings: Settings) -> Rules:
    """The rules of AUTOMATIONS_FILE (none without one); AutomationsError when unusable."""
    return load_rules(settings.automations_path)


def matcher(settings: Settings, rules: Rules) -> Matcher:
    return Matcher(rules, guard_rules(settings))


def automation_flow(
    settings: Settings,
    rules: Rules,
    hub: HubClient,
    hub_jobs: HubJobs,
    store: Store,
    whoami: Whoami,
    metrics: Metrics,
    environ: Mapping[str, str],
) -> AutomationFlow:
    """The handler of automation jobs; `environ` holds the secrets the rules name."""
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


def automations(
    settings: Settings,
    hub: HubClient,
    hub_http: httpx.AsyncClient,
    retry: RetryPolicy,
    store: Store,
    whoami: Whoami,
    metrics: Metrics,
    environ: Mapping[str, str],
) -> tuple[AutomationFlow, Matcher] | None:
    """The automation handler and the matcher the receiver asks, or None when no rule is set."""
    rules = automation_rules(settings)
    if not rules:
        return None
    hub_jobs = HubJobs(hub_http, retry, metrics.observe, hub_limits(settings))
    flow = automation_flow(settings, rules, hub, hub_jobs, store, whoami, metrics, environ)
    return flow, matcher(settings, rules)
