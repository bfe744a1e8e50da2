"""`python -m bot preview`: show the prompt, and with --generate the reply, without posting.

This is how an operator tunes the templates in PROMPTS_DIR: the same gatherer, composer and
cleaning as the running bot, with the bot's real handle (whoami, else BOT_USERNAME).

    --discussion URL   a Hub discussion or pull request: its thread, its repo's facts and card
                       and a pull request's changes are read (nothing is posted); the comment
                       answered is --comment, else the latest one by someone else that
                       mentions the bot, else the latest mention the bot's store recorded
                       there (a delivery from `send`, which the fake Hub's thread lacks)
    --comment TEXT     a comment, in --repo (nothing is read from the Hub about it); one
                       naming a command (`@bot summarize`) previews that command
    --follow-up        the comment as a follow-up: answered without a mention (whether it
                       is one is decided on the Hub's discussion when it arrives)
    --payload FILE     a saved delivery (likewise)
    --automation NAME  with --repo ID: what that automation rule would do on a push to the
                       repo (the Job spec with secrets masked, or the comment); nothing is done

A comment the bot would ignore is said so in one line (exit 0). An unreachable model is given
up within a few seconds, not RETRY_BUDGET.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from bot.answer.command_prompts import CommandTemplates
from bot.answer.compose import Adjust, Composer
from bot.answer.context import RepoContext, RepoFacts
from bot.answer.gather import Gathered
from bot.answer.repo_settings import Ceiling, RepoSettings
from bot.automations.card_review import CardReviewer, review
from bot.automations.comment import Commenter
from bot.automations.discussions import Discussions
from bot.automations.rule import CommentOn, RunJob
from bot.automations.run_job import job_spec
from bot.automations.templates import AutomationTemplates
from bot.cli.preview_discussion import read_discussion
from bot.config import Settings
from bot.decide import Decider
from bot.errors import BotError, UpstreamError
from bot.events import (
    DiscussionRef,
    Identity,
    Ignore,
    Mention,
    PayloadError,
    mention_of,
    parse_payload,
)
from bot.handlers.command import Commands, command_word
from bot.hub.client import HubClient, Whoami
from bot.hub.jobs import HubJobs
from bot.redact import Redactor
from bot.services.automations import automation_rules
from bot.services.clients import hub_client, hub_http_client, model_http_client
from bot.services.options import find_route
from bot.services.parts import composer, load_prompts, models
from bot.store.records import AutomationRun
from bot.upstream import RetryPolicy

PREVIEW_RETRY_BUDGET = 3.0  # an interactive command gives up in seconds
_DISCUSSION_URL = re.compile(
    r"^https?://[^/]+/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/discussions/(?P<num>\d+)"
)


@dataclass(frozen=True)
class Source:
    """What to preview: a mention, and whether (and which) discussion to read for it."""

    mention: Mention | None = None
    discussion: DiscussionRef | None = None
    comment: str | None = None
    follow_up: bool = False  # preview the comment as a follow-up: no mention needed


def discussion_ref(url: str) -> DiscussionRef:
    found = _DISCUSSION_URL.match(url.strip())
    if not found:
        raise BotError(
            f"--discussion {url!r} is not a Hub discussion URL:"
            " give https://huggingface.co/[datasets/|spaces/]NS/NAME/discussions/N"
        )
    kind = {"datasets": "dataset", "spaces": "space"}.get(found["kind"] or "", "model")
    return DiscussionRef(kind, found["repo"], int(found["num"]))


def mention_from_text(text: str, repo: str, title: str, pull_request: bool) -> Mention:
    return Mention(
        comment_id="0" * 24,
        author_id="preview",
        text=text,
        where=DiscussionRef("model", repo, 1),
        title=title,
        is_pull_request=pull_request,
        repo_private=False,
    )


def mention_from_payload(path: Path) -> Mention:
    try:
        parsed = parse_payload(json.loads(path.read_text(encoding="utf-8")))
        if isinstance(parsed, Ignore):
            raise BotError(f"{path}: {parsed.reason}")
        if parsed.comment.content is None:
            raise BotError(f"{path} has no comment to answer (the comment is hidden or empty)")
        return mention_of(parsed, parsed.comment.content)
    except OSError as exc:
        raise BotError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, PayloadError) as exc:
        raise BotError(f"{path} is not a webhook payload: {exc}") from None


async def preview(settings: Settings, source: Source, generate: bool) -> str:
    prompts = load_prompts(settings)
    retry = RetryPolicy(budget=PREVIEW_RETRY_BUDGET)
    async with hub_http_client(settings) as hub_http, model_http_client(settings) as model_http:
        hub = hub_client(settings, hub_http, retry)
        bot = await _identity(settings, hub)
        if source.discussion:
            where, comment = source.discussion, source.comment
            mention, read = await read_discussion(settings, hub, bot, where, comment)
        else:
            assert source.mention is not None
            mention, read = source.mention, _nothing_read(source.mention)
        refusal = Decider(bot).recheck(mention) if source.follow_up else _ignored(mention, bot)
        if refusal:
            return f"ignored: the bot would not answer this comment: {refusal.reason}"
        route = await find_route(settings, hub)
        chosen = models(settings, hub, model_http, retry, route)
        writer = composer(settings, prompts, chosen, Redactor(settings.secrets))
        adjust, said = await _command(settings, writer, mention, bot, read, source.follow_up)
        if said is not None:
            return said
        try:
            _, _, request, model = await writer.prepare(mention, bot, read, adjust)
            shown = [*read_sources(read), f"=== prompt ({route.api}, {model.label}) ===",
                     request.shown]  # fmt: skip
            if read.missing:
                shown.insert(0, f"(read without {' and '.join(read.missing)})")
            if generate:
                draft = await writer.write(mention, bot, read, adjust)
                empty = "(nothing would be posted: the answer was empty once cleaned)"
                if draft.sources:
                    shown.append("=== sources the reply cites ===")
                    shown += [f"- {found.label}: {found.url}" for found in draft.sources]
                shown += ["=== reply, as it would be posted ===", draft.body or empty]
        except UpstreamError as exc:
            raise BotError(exc.summary()) from None
    return "\n".join(shown)


async def _command(
    settings: Settings,
    writer: Composer,
    mention: Mention,
    bot: Identity,
    read: Gathered,
    follow_up: bool,
) -> tuple[Adjust | None, str | None]:
    """For a mention naming a command: how its prompt is built, or (help, pause, resume) the
    text the bot would post itself. The operator's settings apply; a repo's file is not read."""
    commands = Commands(
        CommandTemplates(settings.prompt_folder), writer, settings.thread_budget_chars
    )
    name = None if follow_up else command_word(mention.text, bot.handle)
    if name not in commands.names:
        return None, None
    assert name is not None
    ceiling = Ceiling(settings.follow_ups, settings.answer_pull_requests, commands.names)
    force = RepoSettings().in_force(ceiling)
    if not commands.runs_model(name, mention):
        draft = await commands.run(name, mention, bot, read, force, lambda context: context)
        return None, f"=== command {name}, as it would be posted (no model) ===\n{draft.body}"
    return commands.task_adjust(name, mention, read, lambda context: context), None


async def _identity(settings: Settings, hub: HubClient) -> Identity:
    """Who the bot is, as the running bot would know it; BOT_USERNAME when the Hub cannot say."""
    try:
        return await Whoami(hub, settings.bot_username, None).get()
    except UpstreamError as exc:
        if not settings.bot_username:
            raise BotError(f"cannot ask the Hub who the bot is ({exc.summary()})") from None
        return Identity("preview", settings.bot_username)


def _ignored(mention: Mention, bot: Identity) -> Ignore | None:
    decider = Decider(bot)
    if not decider.mentions_bot(mention.text):
        return Ignore(f"@{bot.handle} is not mentioned (outside quotes, code and links)")
    return decider.recheck(mention)


def read_sources(read: Gathered) -> list[str]:
    """The facts sheet and each lookup with its text, as an operator checks them."""
    looked = read.looked
    if not looked.sheet and not looked.found:
        return []
    timing = f"{len(looked.found)} read in {looked.seconds * 1000:.0f} ms"
    shown = [f"=== sources ({timing}) ===", *(f"- {line}" for line in looked.sheet)]
    for found in looked.found:
        shown += [f"--- {found.label} ({found.url})", found.text]
    return shown


def _nothing_read(mention: Mention) -> Gathered:
    where = mention.where
    return Gathered([], RepoContext(RepoFacts(where.repo_name, where.repo_type)))


async def preview_automation(settings: Settings, name: str, repo: str) -> str:
    """What rule `name` would do for a push to `repo` now (its main branch): the Job it would
    start (secrets masked), or the comment it would post. Nothing is started or posted."""
    rules = automation_rules(settings)
    rule = rules.named(name)
    if rule is None:
        known = ", ".join(r.name for r in rules.rules) or "none"
        raise BotError(f"no automation rule named {name!r} (rules: {known})")
    async with hub_http_client(settings) as http:
        hub = hub_client(settings, http, RetryPolicy(budget=PREVIEW_RETRY_BUDGET))
        run = AutomationRun(
            rule.name, rule.on.repo_type, repo, await _head(hub, rule.on.repo_type, repo), "push"
        )
        templates = AutomationTemplates(settings.prompt_folder)
        action = rule.do
        if isinstance(action, RunJob):
            namespace = action.namespace or (await _identity(settings, hub)).name
            spec = json.dumps(job_spec(action, run, {}, mask=True), indent=2)
            where = f"{action.report.repo_type} {action.report.repo}, {action.report.title!r}"
            return f"would start a Hub Job in {namespace}:\n{spec}\nand report on {where}"
        if isinstance(action, CommentOn):
            text = Commenter(Discussions(hub, HubJobs(http, RetryPolicy())), templates, "").text(
                rule, run
            )
            return f"would comment on {action.title!r} of {repo}:\n{text}"
        reviewer = CardReviewer(hub, Discussions(hub, HubJobs(http, RetryPolicy())), templates, "")
        findings = review(await reviewer.read_card(run), run.repo_type)
        if not findings:
            return f"the card of {repo} is fine: a first review would post nothing"
        return f"would post in {action.title!r} of {repo}:\n{reviewer.text(run, findings)}"


async def _head(hub: HubClient, repo_type: str, repo: str) -> str:
    """The repo's current sha, or `main` when the Hub does not say."""
    try:
        found = await hub.read_json(f"/api/{repo_type}s/{repo}?expand[]=sha", "read repo")
    except UpstreamError:
        return "main"
    sha = found.get("sha") if isinstance(found, dict) else None
    return sha if isinstance(sha, str) else "main"
