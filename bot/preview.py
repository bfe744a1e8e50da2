"""`python -m bot preview`: show the prompt, and with --generate the reply, without posting.

This is how an operator tunes the templates in PROMPTS_DIR: the same composer as the running
bot renders the prompt, calls the model and cleans its answer. The thread is left out (a
preview reads nothing from the Hub), so the prompt shows the mention alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.config import Settings
from bot.errors import BotError
from bot.events import (
    DiscussionRef,
    Identity,
    Ignore,
    Mention,
    PayloadError,
    mention_of,
    parse_payload,
)
from bot.prompts import Prompts
from bot.services import (
    composer,
    find_route,
    hub_client,
    hub_http_client,
    model_http_client,
    models,
)
from bot.upstream import RetryPolicy


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
    except OSError as exc:
        raise BotError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, PayloadError) as exc:
        raise BotError(f"{path} is not a webhook payload: {exc}") from None
    if isinstance(parsed, Ignore):
        raise BotError(f"{path}: {parsed.reason}")
    if parsed.comment.content is None:
        raise BotError(f"{path} has no comment to answer (the comment is hidden or empty)")
    try:
        return mention_of(parsed, parsed.comment.content)
    except PayloadError as exc:
        raise BotError(f"{path} is not a webhook payload: {exc}") from None


async def preview(settings: Settings, mention: Mention, generate: bool) -> str:
    handle = settings.bot_username or "bot"
    bot = Identity("preview", handle, handle)
    prompts = Prompts(settings.prompts_dir, settings.prompt_sets)
    retry = RetryPolicy(budget=settings.retry_budget)
    async with hub_http_client(settings) as hub_http, model_http_client(settings) as http:
        hub = hub_client(settings, hub_http, retry)
        route = await find_route(settings, hub)
        writer = composer(settings, prompts, models(settings, hub, http, retry, route))
        _, _, request, model = await writer.prepare(mention, bot, [])
        shown = [f"=== prompt ({route.api}, {model.label}) ===", request.shown]
        if generate:
            draft = await writer.write(mention, bot, [])
            shown += [
                "=== reply, as it would be posted ===",
                draft.body or "(nothing would be posted: the answer was empty once cleaned)",
            ]
    return "\n".join(shown)
