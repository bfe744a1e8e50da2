"""The reply machinery's parts, each built from settings (the receiving half's options are in
`options`): every part gets a small frozen option object of its own."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bot.answer.command_prompts import CommandTemplates
from bot.answer.compose import Composer, Style
from bot.answer.context import Budgets, ContextReader
from bot.answer.gather import Gatherer
from bot.answer.progress import ProgressTemplate
from bot.answer.prompts import Prompts
from bot.answer.repo_settings import RepoSettingsReader
from bot.config import Settings
from bot.errors import ModelNotServed
from bot.handlers.command import Commands
from bot.handlers.conversation import Conversation, ConversationOptions
from bot.handlers.follow_up import FollowUpRules
from bot.handlers.mention import Attempts, ReplyOptions
from bot.hub.client import HubClient
from bot.inference.models import GenerationParameters, Model, Models, model_for
from bot.inference.routing import NotServed, Route
from bot.services.clients import hub_limits, model_limits
from bot.services.options import find_route
from bot.sources.files import RepoFiles
from bot.sources.lookups import LookupOptions, Lookups
from bot.sources.viewer import Viewer
from bot.upstream import Observer, RetryPolicy, ignore_call


def parameters(settings: Settings) -> GenerationParameters:
    return GenerationParameters(
        settings.max_new_tokens, settings.temperature, settings.top_p, settings.reasoning_effort
    )


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
            found,
            model_http,
            parameters(settings),
            retry,
            observe,
            model_limits(settings),
            settings.bill_to,
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


def load_prompts(settings: Settings) -> Prompts:
    """Every prompt set the settings name, checked, and the command templates with them (and
    the progress comment's, when PROGRESS_COMMENT is on)."""
    prompts = Prompts(settings.prompt_folder, settings.prompt_sets)
    CommandTemplates(settings.prompt_folder)
    progress_template(settings)
    return prompts


def progress_template(settings: Settings) -> ProgressTemplate | None:
    """prompts/progress.j2, checked, when PROGRESS_COMMENT is on; None when it is off."""
    return ProgressTemplate(settings.prompt_folder) if settings.progress_comment else None


def conversation(settings: Settings, composer: Composer, hub: HubClient) -> Conversation:
    """What answers mentions and follow-ups: repo settings, commands, follow-up rules."""
    commands = Commands(
        CommandTemplates(settings.prompt_folder), composer, settings.thread_budget_chars
    )
    options = ConversationOptions(
        follow_ups=settings.follow_ups,
        answer_pull_requests=settings.answer_pull_requests,
        rules=FollowUpRules(settings.follow_up_hours, settings.follow_up_turns),
    )
    return Conversation(composer, RepoSettingsReader(hub), commands, options)


def reply_options(settings: Settings) -> ReplyOptions:
    return ReplyOptions(
        attempts=Attempts(settings.max_attempts, settings.attempt_backoff),
        failure_notice=settings.failure_notice,
        fault=settings.bot_fault,
        answer_closed=settings.answer_closed,
        landing_window=2 * settings.hub_timeout,  # a POST's deadline, and as long again
        progress=progress_template(settings),
    )
