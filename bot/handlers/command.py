"""Commands: a mention whose first word after the handle names one runs it.

    help       what the bot does here, its commands, and this repo's settings in force
    pause      the bot answers nothing more in this discussion, until `resume`
    resume     it answers again
    summarize, describe, and each prompts/commands/<name>.j2: the model runs the template's
               task on the discussion (bot.answer.command_prompts)

`pause` and `resume` are for the repo's owner and the members of its organisation, as the
Hub's discussion read marks authors (`isOwner`, `isOrgMember`); anyone else gets a short,
polite refusal. The pause lives where the Hub has the last word: the bot's own comment that
acknowledged it carries PAUSED_MARK (a resume's, RESUMED_MARK), and the latest of them in the
discussion says whether it is paused. A lost store cannot unpause a discussion.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from bot.answer.command_prompts import BUILT_IN, CommandTemplates
from bot.answer.compose import Adjust, Composer, Draft
from bot.answer.gather import Gathered
from bot.answer.prompt_context import PromptContext
from bot.answer.repo_settings import FILE_NAME, InForce
from bot.answer.thread import ThreadComment, earlier_comments
from bot.decide import visible_prose
from bot.events import Identity, Mention
from bot.inference.models import ModelRequest

PAUSED_MARK = "<!-- hub-discussion-bot paused -->"
RESUMED_MARK = "<!-- hub-discussion-bot resumed -->"
PR_ONLY = ("describe",)
_WORD = r"[\s,:]*([A-Za-z][A-Za-z0-9-]{0,39})\b"


def command_word(text: str, handle: str) -> str | None:
    """The first word after the first visible `@handle`, lowercased; None without one."""
    pattern = rf"(?<![\w@./-])@{re.escape(handle)}(?![\w-]|\.\w){_WORD}"
    found = re.search(pattern, visible_prose(text), re.IGNORECASE)
    return found.group(1).lower() if found else None


def is_paused(comments: list[ThreadComment]) -> bool:
    """Whether the bot's latest pause or resume in the discussion was a pause."""
    for comment in reversed(comments):
        if comment.by_bot and PAUSED_MARK in comment.text:
            return True
        if comment.by_bot and RESUMED_MARK in comment.text:
            return False
    return False


def may_steer(comments: list[ThreadComment], comment_id: str) -> bool:
    """Whether the comment's author owns the repo or is a member of its organisation."""
    return any(c.id == comment_id and (c.is_owner or c.is_org_member) for c in comments)


class Commands:
    """The commands this bot offers: the built-in ones and the templates'."""

    def __init__(self, templates: CommandTemplates, composer: Composer, thread_budget: int) -> None:
        self._templates = templates
        self._composer = composer
        self._thread_budget = thread_budget

    @property
    def names(self) -> tuple[str, ...]:
        return (*BUILT_IN, *self._templates.names)

    async def run(
        self, name: str, mention: Mention, bot: Identity, read: Gathered, force: InForce,
        adjust: Adjust,
    ) -> Draft:  # fmt: skip
        """Run command `name` (one of `names`) for this mention; the reply to post."""
        if name == "help":
            return said(name, self.help_text(mention, bot, force), bot)
        if name in ("pause", "resume"):
            return said(name, self._switch(name, mention, read), bot)
        if not self.runs_model(name, mention):
            text = f"`{name}` works in pull requests; here, ask me a question instead."
            return said(name, text, bot)
        with_task = self.task_adjust(name, mention, read, adjust)
        draft = await self._composer.write(mention, bot, read, with_task)
        return replace(draft, label=f"command {name}")

    def runs_model(self, name: str, mention: Mention) -> bool:
        return name not in BUILT_IN and (name not in PR_ONLY or mention.is_pull_request)

    def task_adjust(self, name: str, mention: Mention, read: Gathered, adjust: Adjust) -> Adjust:
        """The prompt's context for a template's command: its task, and the whole thread."""
        template = self._templates.get(name)
        assert template is not None  # `names` lists only what exists

        def with_task(context: PromptContext) -> PromptContext:
            context = adjust(context)
            thread = self._whole_thread(mention, read)
            return replace(context, task=template.task(context), thread=thread)

        return with_task

    def help_text(self, mention: Mention, bot: Identity, force: InForce) -> str:
        lines = [
            f"I am {bot.handle}, an automated assistant. Mention me (`@{bot.handle}`) with a"
            f" question about this {mention.where.repo_type} and I answer from what the Hub"
            " says about it.",
        ]
        if force.follow_ups:
            lines.append(
                "After I answer you, you can reply to me in the same thread without mentioning"
                " me again, until someone else joins in."
            )
        lines += ["", f"Commands (write `@{bot.handle} <command>`):"]
        for name in force.commands:
            template = self._templates.get(name)
            about = template.help if template else _BUILT_IN_HELP.get(name, "")
            lines.append(f"- `{name}`: {about}")
        lines += ["", f"In force in this repo (its `{FILE_NAME}` and the bot's operator):"]
        lines.append(f"- answers in: {force.language or 'the language of the question'}")
        lines.append(f"- follow-ups: {'on' if force.follow_ups else 'off'}")
        lines.append(f"- pull requests: {'answered' if force.answer_pull_requests else 'not'}")
        owner = "set" if force.instructions else "none"
        lines.append(f"- the owner's instructions: {owner}")
        lines += [f"- {note}" for note in force.notes]
        return "\n".join(lines)

    def _switch(self, name: str, mention: Mention, read: Gathered) -> str:
        if not may_steer(read.comments, mention.comment_id):
            return (
                f"Sorry, only this repo's owner or members of its organisation can {name} me"
                " here. I will keep answering questions as usual."
            )
        paused = is_paused(read.comments)
        if name == "pause":
            return (
                "Paused: I will not answer anything more in this discussion until the repo's"
                f" owner or a member of its organisation writes `resume` to me.\n\n{PAUSED_MARK}"
            )
        if not paused:
            return "I was not paused here: I am answering as usual."
        return f"Resumed: I answer mentions in this discussion again.\n\n{RESUMED_MARK}"

    def _whole_thread(self, mention: Mention, read: Gathered) -> tuple[ThreadComment, ...]:
        """The thread before the command, newest kept within the budget, and the opening post
        always (a summary without the question is no summary)."""
        received = datetime.fromtimestamp(mention.received_at or 0, UTC)
        if not mention.received_at:
            received = datetime.now(UTC)
        shown = [c for c in read.comments if not c.hidden]
        opening = shown[0] if shown and shown[0].id != mention.comment_id else None
        budget = self._thread_budget - (len(opening.text) if opening else 0)
        kept = earlier_comments(read.comments, mention.comment_id, received, max(0, budget))
        if opening is not None and (not kept or kept[0].id != opening.id):
            kept.insert(0, opening)
        return tuple(kept)


_BUILT_IN_HELP = {
    "help": "this message",
    "pause": "stop answering in this discussion (the repo's owner or its organisation)",
    "resume": "answer in this discussion again after a pause (the same people)",
}


def said(name: str, text: str, bot: Identity) -> Draft:
    """A command's reply written by the bot itself, not by the model."""
    body = f"{text}\n\n---\n<sub>Automated message from {bot.handle}.</sub>"
    return Draft(ModelRequest("", {}), text, body, label=f"command {name}")
