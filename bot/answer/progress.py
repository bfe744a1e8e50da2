"""A sign of life (PROGRESS_COMMENT): a short comment posted as soon as the bot has decided to
answer, then edited into the answer, or into the failure notice, when it is ready.

One per mention, whatever happens: the placeholder carries the reply marker's in-progress form
(`progress_marker`), and every attempt looks for it on the Hub before posting one. Found, it is
reused (and edited); never a second one. It is reused even when PROGRESS_COMMENT has been turned
off since, so no "looking into this" is left behind. Its POST goes through the same
exactly-once posting as a reply (bot.answer.post): noted first, looked for after an unclear end.

Its text is prompts/progress.j2 in PROMPTS_DIR (one for every prompt set), the bot's own words
only: it is the first text of the comment, the one the Hub's notification carries.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError, meta

from bot.answer.post import ReplyPoster
from bot.answer.prompt_context import SAMPLE_CONTEXT, SAMPLE_PR_CONTEXT, PromptContext
from bot.answer.thread import ThreadComment, find_marked
from bot.errors import NotFound, PromptError
from bot.events import Identity
from bot.hub.client import HubClient
from bot.store import Job

TEMPLATE = "progress.j2"
# What the placeholder may say: the bot's own words and what the Hub numbers, nobody else's.
PROGRESS_VARIABLES = frozenset({"bot_name", "repo_type", "discussion_num", "is_pull_request"})
_PREFIX = "<!-- hub-discussion-bot "


def progress_marker(reply_marker: str) -> str:
    """The in-progress form of a reply marker. It does not contain the reply marker, so a
    placeholder is never taken for the answer; nor does it start like one, so the follow-up
    rules never take it for a reply."""
    return reply_marker.replace(_PREFIX, f"{_PREFIX}in-progress ", 1)


class ProgressTemplate:
    """prompts/progress.j2, checked once (when PROGRESS_COMMENT is on: at startup and by
    `check`)."""

    def __init__(self, prompts_dir: Path) -> None:
        path = prompts_dir / TEMPLATE
        if not path.is_file():
            raise PromptError(
                f"PROGRESS_COMMENT is on, but {path} does not exist: copy prompts/{TEMPLATE}"
                " from the bot's repository there, or set PROGRESS_COMMENT=false"
            )
        env = Environment(
            loader=FileSystemLoader(prompts_dir),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - Markdown for the Hub, and only the bot's words
        )
        try:
            source = path.read_text(encoding="utf-8")
            if others := meta.find_undeclared_variables(env.parse(source)) - PROGRESS_VARIABLES:
                raise PromptError(
                    f"{path} uses {', '.join(sorted(others))}: the progress comment holds the"
                    f" bot's own words only (it may use {', '.join(sorted(PROGRESS_VARIABLES))})"
                )
            self._template: Template = env.get_template(TEMPLATE)
            rendered = [
                self._template.render(sample.variables())
                for sample in (SAMPLE_CONTEXT, SAMPLE_PR_CONTEXT)
            ]
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            at = f" line {line}" if line else ""
            raise PromptError(f"{path}{at}: {exc.message or type(exc).__name__}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PromptError(f"{path} cannot be read: {exc}") from None
        if not all(text.strip() for text in rendered):
            raise PromptError(f"{path} renders nothing: the Hub refuses an empty comment")

    def render(self, job: Job, bot: Identity) -> str:
        context = PromptContext.for_mention(job.mention, bot.handle)
        return self._template.render(context.variables()).strip()


class Placeholder:
    """One attempt's progress comment: an earlier attempt's, found on the Hub by its marker, or
    the one this attempt posts (`show`); the reply and the notice go into it when there is one.
    `template` None: PROGRESS_COMMENT is off, and none is posted."""

    def __init__(
        self,
        template: ProgressTemplate | None,
        hub: HubClient,
        poster: ReplyPoster,
        job: Job,
        bot: Identity,
        reply_marker: str,
    ) -> None:
        self._template = template
        self._hub = hub
        self._poster = poster
        self._job = job
        self._bot = bot
        self._reply_marker = reply_marker
        self.marker = progress_marker(reply_marker)
        self.comment_id: str | None = None

    def look_in(self, comments: list[ThreadComment]) -> None:
        """Take up the placeholder an earlier attempt left in `comments`, if there is one."""
        self.comment_id = self.comment_id or find_marked(comments, self.marker)

    async def show(self) -> bool:
        """Post the placeholder, unless there is one already or progress comments are off.
        Whether one was posted now."""
        if self.comment_id is not None or self._template is None:
            return False
        text = f"{self._template.render(self._job, self._bot)}\n\n{self.marker}"
        posted, _ = await self._poster.post(self._job, self._bot, text, self.marker)
        if not posted:  # a 2xx without the new comment's id: the Hub's read names it
            landed = self._poster.landing_window
            mention, bot = self._job.mention, self._bot
            self.comment_id = await self._poster.look_again(mention, bot, self.marker, landed)
        else:
            self.comment_id = posted
        return True

    async def deliver(self, text: str) -> tuple[str, bool]:
        """Put the reply on the Hub: into the placeholder when there is one, else as a new
        comment. The reply's id, and whether it was found on the Hub rather than in the POST's
        answer (bot.answer.post)."""
        if self.comment_id is not None:
            try:
                await self._hub.edit_comment(self._job.mention.where, self.comment_id, text)
                return self.comment_id, False
            except NotFound:
                # The placeholder is gone (or its discussion: then the POST says so too).
                self.comment_id = None
        return await self._poster.post(self._job, self._bot, text, self._reply_marker)

    async def turn_into(self, notice: str) -> bool:
        """Edit the placeholder into the failure notice (keeping its marker, so a later
        attempt edits this same comment into the answer); False when there is none."""
        if self.comment_id is None:
            return False
        text = f"{notice}\n{self.marker}"
        await self._hub.edit_comment(self._job.mention.where, self.comment_id, text)
        return True
