"""The bot's parts, each built from settings: the only place (with the command line) that
reads `Settings`; every part gets a small frozen option object of its own."""

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
from bot.guards import GuardRules
from bot.handlers.command import Commands
from bot.handlers.conversation import Conversation, ConversationOptions
from bot.handlers.follow_up import FollowUpRules
from bot.handlers.mention import Attempts, ReplyOptions
from bot.hub.client import HubClient
from bot.inference import GenerationParameters, Model, Models, model_for
from bot.inference.routing import NotServed, Route, RouteOptions, custom_route, resolve
from bot.redact import Redactor
from bot.services.clients import (
    hub_client,
    hub_http_client,
    hub_limits,
    model_http_client,
    model_limits,
)
from bot.sources.files import RepoFiles
from bot.sources.lookups import LookupOptions, Lookups
from bot.sources.viewer import Viewer
from bot.store import Limits, StoreOptions
from bot.upstream import Observer, RetryPolicy, ignore_call

PROBE_TIMEOUT = 5.0  # seconds a custom INFERENCE_URL gets to say what it serves


def parameters(settings: Settings) -> GenerationParameters:
    return GenerationParameters(
        settings.max_new_tokens, settings.temperature, settings.top_p, settings.reasoning_effort
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
        answer_closed=settings.answer_closed,
        landing_window=2 * settings.hub_timeout,  # a POST's deadline, and as long again
        progress=progress_template(settings),
    )
