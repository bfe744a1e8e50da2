"""`python -m bot preview`: show the prompt, and with --generate the reply, without posting.

This is how an operator tunes the templates in PROMPTS_DIR: the same gatherer, composer and
cleaning as the running bot, with the bot's real handle (whoami, else BOT_USERNAME).

    --discussion URL   a Hub discussion or pull request: its thread, its repo's facts and card
                       and a pull request's changes are read (nothing is posted); the comment
                       answered is --comment, else the latest one that mentions the bot
    --comment TEXT     a comment, in --repo (nothing is read from the Hub about it)
    --payload FILE     a saved delivery (likewise)

A comment the bot would ignore is said so in one line (exit 0). An unreachable model is given
up within a few seconds, not RETRY_BUDGET.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from bot.answer.context import RepoContext, RepoFacts
from bot.answer.gather import Gathered
from bot.answer.thread import parse_events
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
from bot.hub.client import HubClient, Whoami
from bot.redact import Redactor
from bot.services import (
    composer,
    find_route,
    gatherer,
    hub_client,
    hub_http_client,
    load_prompts,
    model_http_client,
    models,
    viewer_http_client,
)
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
            mention, read = await _from_discussion(settings, hub, bot, source)
        else:
            assert source.mention is not None
            mention, read = source.mention, _nothing_read(source.mention)
        if refusal := _ignored(mention, bot):
            return f"ignored: the bot would not answer this comment: {refusal.reason}"
        route = await find_route(settings, hub)
        chosen = models(settings, hub, model_http, retry, route)
        writer = composer(settings, prompts, chosen, Redactor(settings.secrets))
        try:
            _, _, request, model = await writer.prepare(mention, bot, read)
            shown = [*read_sources(read), f"=== prompt ({route.api}, {model.label}) ===",
                     request.shown]  # fmt: skip
            if read.missing:
                shown.insert(0, f"(read without {' and '.join(read.missing)})")
            if generate:
                draft = await writer.write(mention, bot, read)
                empty = "(nothing would be posted: the answer was empty once cleaned)"
                if draft.sources:
                    shown.append("=== sources the reply cites ===")
                    shown += [f"- {found.label}: {found.url}" for found in draft.sources]
                shown += ["=== reply, as it would be posted ===", draft.body or empty]
        except UpstreamError as exc:
            raise BotError(exc.summary()) from None
    return "\n".join(shown)


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


async def _from_discussion(
    settings: Settings, hub: HubClient, bot: Identity, source: Source
) -> tuple[Mention, Gathered]:
    where = source.discussion
    assert where is not None
    try:
        details = await hub.discussion(where)
    except UpstreamError as exc:
        raise BotError(f"cannot read that discussion ({exc.summary()})") from None
    comments = parse_events(details, bot.id)
    info = details if isinstance(details, dict) else {}
    base = Mention(
        comment_id="0" * 24,
        author_id="preview",
        text=source.comment or "",
        where=where,
        title=str(info.get("title", "")),
        is_pull_request=bool(info.get("isPullRequest")),
        repo_private=False,
        discussion_status=str(info.get("status", "open")),
    )
    if source.comment is None:
        decider = Decider(bot)
        mentioning = [c for c in comments if not c.by_bot and decider.mentions_bot(c.text)]
        latest = mentioning[-1] if mentioning else comments[-1] if comments else None
        if latest is None:
            raise BotError("that discussion has no comment to answer: give --comment TEXT")
        base = replace(base, comment_id=latest.id, text=latest.text)
    try:
        async with viewer_http_client(settings) as viewer_http:
            read = await gatherer(settings, hub, viewer_http).gather(base, bot)
    except UpstreamError as exc:
        raise BotError(f"cannot read that discussion ({exc.summary()})") from None
    return base, read
