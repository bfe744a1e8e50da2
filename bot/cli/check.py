"""`python -m bot check`: is this deployment able to answer? One function per check, each
ending in one line (with a plain fix when it fails). It posts nothing; the only call with an
effect is a one-token generation, to see the model answer.

    token     the token is valid and may write discussions (whoami-v2 `auth`)
    model     a provider (or INFERENCE_URL) serves the model, and it answers
    webhook   the account's webhook to the bot's URL exists, is enabled (not suspended),
              watches the discussion domain and has a secret
    prompts   every prompt set renders
    state     where jobs are kept, that they can be written, and whether they survive a restart
    automations  AUTOMATIONS_FILE reads, its secrets are set, its templates exist, the token
              may run Jobs where the rules need, and the webhook watches the repo domain
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.answer.prompt_context import SAMPLE_CONTEXT
from bot.automations.rule import RunJob
from bot.automations.rules import AutomationsError, load_rules
from bot.automations.templates import AutomationTemplates
from bot.config import Settings
from bot.errors import BotError, UpstreamError
from bot.hub.client import HubClient
from bot.hub.jobs import HubJobs
from bot.hub.token import (
    DISCUSSIONS,
    INFERENCE,
    WEBHOOKS_READ,
    WEBHOOKS_WRITE,
    TokenRights,
    rights_of,
)
from bot.inference.models import GenerationParameters, model_for
from bot.services.clients import hub_client, hub_http_client, model_http_client, model_limits
from bot.services.options import find_route, store_options
from bot.services.parts import load_prompts
from bot.store import StoreUnavailable, open_store
from bot.store.location import lost_at_restart
from bot.upstream import RetryPolicy

CHECK_RETRY_BUDGET = 5.0
Verdict = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Result:
    name: str
    verdict: Verdict
    text: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -> fix: {self.fix}" if self.fix else ""
        return f"{self.verdict:<4}  {self.name}: {self.text}{fix}"


def ok(name: str, text: str) -> Result:
    return Result(name, "ok", text)


def fail(name: str, text: str, fix: str) -> Result:
    return Result(name, "FAIL", text, fix)


async def run_checks(settings: Settings) -> list[Result]:
    async with hub_http_client(settings) as http:
        hub_retry = RetryPolicy(budget=CHECK_RETRY_BUDGET)
        hub = hub_client(settings, http, hub_retry)
        checks: list[Callable[[], Awaitable[Result]]] = [
            lambda: check_token(settings, hub),
            lambda: check_model(settings, hub),
            lambda: check_webhook(settings, hub),
        ]
        results = [await check() for check in checks]
        if settings.automations_path is not None:  # said only when there are automations
            results.append(await check_automations(settings, hub, HubJobs(http, hub_retry)))
    return [*results, check_prompts(settings), await check_state(settings)]


async def check_token(settings: Settings, hub: HubClient) -> Result:
    new_token = (
        f"create a write token for the bot account at {settings.hf_endpoint}/settings/tokens"
    )
    try:
        me = await hub.whoami_details()
    except UpstreamError as exc:
        if exc.status == 401:
            return fail("token", "the Hub rejected HF_TOKEN", new_token)
        return fail("token", f"cannot ask the Hub ({exc.summary()})", "check HF_ENDPOINT")
    account = f"{me.get('name')} (id {me.get('id')})"
    rights = rights_of(me)
    if rights.role == "read":
        return fail("token", f"{account}: a read-only token cannot post replies", new_token)
    if rights.role in ("write", "god"):
        return ok("token", f"{account}, a {rights.role} token: may write discussions")
    if not rights.fine_grained:
        return Result("token", "warn", f"{account}: cannot tell what this token may do")
    return _fine_grained(settings, account, rights)


def _fine_grained(settings: Settings, account: str, rights: TokenRights) -> Result:
    """A scoped permission holds only on the namespace or repo it names, so each watched
    repo glob is asked separately: `*` needs the permission globally."""
    shut_out = [glob for glob in settings.allow_repos if not rights.may(DISCUSSIONS, glob)]
    if shut_out:
        return fail(
            "token",
            f"{account}: this fine-grained token may not write discussions in "
            + ", ".join(shut_out),
            "give it 'Write access to discussions' (discussion.write) globally, or scoped to"
            " each namespace ALLOW_REPOS names",
        )
    calls_router = settings.inference_url is None and settings.inference_token is None
    if calls_router and not rights.may(INFERENCE):
        return fail(
            "token",
            f"{account}: this fine-grained token may not call Inference Providers",
            "give it 'Make calls to Inference Providers' (inference.serverless.write)",
        )
    webhooks = [p for p in (WEBHOOKS_READ, WEBHOOKS_WRITE) if not rights.may(p)]
    if webhooks:
        return Result(
            "token",
            "warn",
            f"{account}, a fine-grained token that may write discussions; the webhooks"
            f" commands need {' and '.join(webhooks)}",
        )
    return ok("token", f"{account}, a fine-grained token that may write discussions")


async def check_model(settings: Settings, hub: HubClient) -> Result:
    try:
        route = await find_route(settings, hub)
    except BotError as exc:  # NotServed, or the Hub could not be asked
        detail = exc.summary() if isinstance(exc, UpstreamError) else str(exc)
        return fail("model", detail, "see the message; INFERENCE_MODEL or INFERENCE_URL")
    parameters = GenerationParameters(1, settings.temperature, settings.top_p)
    prompts = load_prompts(settings).for_repo(SAMPLE_CONTEXT.repo_name)
    async with model_http_client(settings) as http:
        retry = RetryPolicy(budget=CHECK_RETRY_BUDGET)
        limits = model_limits(settings)
        model = model_for(route, http, parameters, retry, limits=limits, bill_to=settings.bill_to)
        try:
            await model.generate(model.build(prompts, SAMPLE_CONTEXT))
        except UpstreamError as exc:
            return fail("model", f"{route.describe()}: {exc.summary()}", exc.hint or "see above")
    return ok("model", f"{route.describe()}: answered a one-token generation")


async def check_webhook(settings: Settings, hub: HubClient) -> Result:
    url = settings.webhook_url
    try:
        hooks = await hub.webhooks()
    except UpstreamError as exc:
        return fail("webhook", f"cannot list webhooks ({exc.summary()})", "check HF_TOKEN")
    mine = [h for h in hooks if _same_url(h.get("url"), url)]
    if not mine:
        where = urlsplit(url).hostname
        fix = "python -m bot webhooks create --watch TYPE:NAME"
        if where in ("localhost", "127.0.0.1"):
            fix = "set PUBLIC_URL to the bot's public address, then " + fix
        return fail(
            "webhook",
            f"no webhook of the bot's account sends to {url} (one made from another account"
            " is not visible here)",
            fix,
        )
    problems = [p for p in map(_webhook_problem, mine) if p]
    if len(problems) == len(mine):
        return problems[0]
    hook = next(h for h, p in zip(mine, map(_webhook_problem, mine), strict=True) if not p)
    return ok("webhook", f"{hook.get('id')} sends discussion events to {url}, with a secret")


def _same_url(given: object, url: str) -> bool:
    if not isinstance(given, str):
        return False
    bare = given.split("?", 1)[0].rstrip("/")
    return bare in (url, url.removesuffix("/webhook"))


def _webhook_problem(hook: dict[str, Any]) -> Result | None:
    name = hook.get("id", "?")
    disabled = hook.get("disabled")
    if disabled == "suspended-after-failure":
        return fail(
            "webhook",
            f"{name} was suspended by the Hub after failed deliveries",
            f"fix the cause (its Activity tab on the Hub shows the failed deliveries), then"
            f" python -m bot webhooks enable {name}",
        )
    if disabled:
        return fail("webhook", f"{name} is disabled", f"python -m bot webhooks enable {name}")
    if "discussion" not in (hook.get("domains") or []):
        return fail(
            "webhook",
            f"{name} does not watch the discussion domain",
            f"python -m bot webhooks update {name} --domain discussion",
        )
    if not hook.get("hasSecret"):
        return fail(
            "webhook",
            f"{name} has no secret, so every delivery would be refused",
            f"python -m bot webhooks update {name} (it sets WEBHOOK_SECRET)",
        )
    return None


async def check_automations(settings: Settings, hub: HubClient, jobs: HubJobs) -> Result:
    """The rules file, what its rules need from the environment, the Hub and the webhook."""
    try:
        rules = load_rules(settings.automations_path)
    except AutomationsError as exc:
        where = settings.automations_path
        return fail("automations", f"{where}: {exc.one_line()}", "fix it (docs/automations.md)")
    if not rules:
        return ok("automations", f"{rules.source} has no rules")
    unset = [name for name in rules.secret_names if not os.environ.get(name)]
    if unset:
        names = ", ".join(unset)
        text = f"secrets named by the rules are not set: {names}"
        return fail("automations", text, f"set {names} in the bot's environment")
    missing = AutomationTemplates(settings.prompt_folder).missing(rules)
    if missing:
        folder = settings.prompt_folder / "automations"
        text = f"templates missing: {', '.join(missing)}"
        return fail("automations", text, f"add them to {folder}")
    try:
        account = (await hub.whoami()).name
        spaces = {r.do.namespace or account for r in rules.rules if isinstance(r.do, RunJob)}
        denied = [space for space in sorted(spaces) if not await jobs.can_run(space)]
        hooks = [h for h in await hub.webhooks() if _same_url(h.get("url"), settings.webhook_url)]
    except UpstreamError as exc:
        return fail("automations", f"cannot ask the Hub ({exc.summary()})", "check HF_TOKEN")
    if denied:
        return fail(
            "automations",
            f"the token may not run Jobs in {', '.join(denied)}",
            "use a token with the Jobs permission for that namespace, or change `namespace`",
        )
    if hooks and not any("repo" in (h.get("domains") or []) for h in hooks):
        name = hooks[0].get("id", "?")
        return fail(
            "automations",
            f"webhook {name} does not watch the repo domain the rules need",
            f"python -m bot webhooks update {name} --domain discussion --domain repo",
        )
    return ok("automations", f"{len(rules.rules)} rule(s) in {rules.source} are ready")


def check_prompts(settings: Settings) -> Result:
    try:
        load_prompts(settings)
    except BotError as exc:
        return fail("prompts", str(exc), "fix the template, or PROMPTS_DIR")
    sets = 1 + len({name for _, name in settings.prompt_sets})
    return ok("prompts", f"{sets} prompt set(s) in {settings.prompt_folder} render")


async def check_state(settings: Settings) -> Result:
    try:
        options = store_options(settings)
        store = await open_store(options)
    except BotError as exc:
        return fail("state", str(exc), "see the message")
    try:
        await store.check_writable()
    except StoreUnavailable as exc:
        await store.close()
        return fail("state", str(exc), store.write_fix)
    try:
        depth = await store.depth()
    except StoreUnavailable as exc:
        return fail("state", str(exc), "check the database")
    finally:
        await store.close()
    if lost := lost_at_restart(options.sqlite_dir, settings.space_host):
        return Result("state", "warn", f"{store.where}, {depth} unfinished jobs; {lost}")
    return ok("state", f"{store.where}, {depth} unfinished jobs; survives a restart")
