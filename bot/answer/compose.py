"""From a mention, what came before it in the discussion and what the Hub knows about the repo,
to the text that would be posted.

Shared by the reply flow and `python -m bot preview`, so what an operator previews is exactly
what the bot would post.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.answer.changes import shown_files
from bot.answer.clean import CleanRules, clean
from bot.answer.gather import Gathered
from bot.answer.prompt_context import PromptContext
from bot.answer.prompts import Prompts, PromptSet
from bot.answer.thread import earlier_comments, trigger_author
from bot.errors import ModelNotServed
from bot.events import Identity, Mention
from bot.inference.models import Model, ModelRequest, Models
from bot.redact import Redactor
from bot.sources.found import Found

Adjust = Callable[[PromptContext], PromptContext]


@dataclass(frozen=True)
class Style:
    """How much thread the model sees, and what is allowed in what it writes."""

    thread_budget: int = 4000
    files_listed: int = 30
    max_reply_chars: int = 2000
    allow_mentions: bool = False
    redact: Callable[[str], str] = field(default_factory=Redactor)


@dataclass(frozen=True)
class Draft:
    request: ModelRequest
    generated: str
    body: str | None  # None: nothing fit to post was left after cleaning
    sources: tuple[Found, ...] = ()  # what the model was given (lookups and tool results)
    label: str = ""  # named first in the job's reason: "command summarize"


class Composer:
    def __init__(self, prompts: Prompts, models: Models, style: Style) -> None:
        self._prompts = prompts
        self._models = models
        self._style = style

    async def prepare(
        self, mention: Mention, bot: Identity, read: Gathered, adjust: Adjust | None = None
    ) -> tuple[PromptSet, PromptContext, ModelRequest, Model]:
        """`adjust` changes the context before the prompt is built (a command's task, the
        repo's own instructions, a longer thread)."""
        model = await self._models.current()
        received = datetime.fromtimestamp(mention.received_at or time.time(), UTC)
        style, facts = self._style, read.repo.facts
        earlier = earlier_comments(read.comments, mention.comment_id, received, style.thread_budget)
        pull_request = read.pull_request
        context = PromptContext.for_mention(
            mention,
            bot.handle,
            author=trigger_author(read.comments, mention.comment_id) or "User",
            thread=tuple(earlier),
            model=model.label,
            repo=facts,
            card=read.repo.card,  # within CARD_BUDGET_CHARS already
            files=shown_files(facts.files, style.files_listed),
            diff=pull_request.diff if pull_request else "",
            pull_request=pull_request,
            sheet=read.looked.sheet,
            lookups=read.looked.found,
            sources=read.looked.found,
            tools=read.tools,
        )
        if adjust is not None:
            context = adjust(context)
        prompts = self._prompts.for_repo(mention.where.repo_name)
        return prompts, context, model.build(prompts, context), model

    async def write(
        self, mention: Mention, bot: Identity, read: Gathered, adjust: Adjust | None = None
    ) -> Draft:
        prompts, context, request, model = await self.prepare(mention, bot, read, adjust)
        try:
            generated = await model.generate(request)
        except ModelNotServed:
            self._models.forget()  # providers come and go: ask the Hub again next time
            raise
        answer = clean(generated, self._rules(bot, context))
        given = {f.url: f for f in (*context.lookups, *(read.tools.given if read.tools else ()))}
        sources = tuple(found for found in given.values() if found.url)  # "" cites nothing
        body = prompts.reply(replace(context, sources=sources), answer) if answer else None
        return Draft(request, generated, body, sources)

    def notice(self, mention: Mention, bot: Identity) -> str:
        prompts = self._prompts.for_repo(mention.where.repo_name)
        return prompts.failure(
            PromptContext.for_mention(mention, bot.handle, model=self._models.label)
        )

    def _rules(self, bot: Identity, context: PromptContext) -> CleanRules:
        names = ("User", bot.name, context.author, *(c.author for c in context.thread))
        return CleanRules(
            bot_handle=bot.handle,
            max_chars=self._style.max_reply_chars,
            allow_mentions=self._style.allow_mentions,
            redact=self._style.redact,
            turn_names=tuple(dict.fromkeys(names)),
        )
