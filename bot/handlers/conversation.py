"""What the bot says once a discussion is read, for a mention or a possible follow-up: the
responders the reply flow (bot.handlers.mention) runs in place of its plain composer, so both
keep its exactly-once posting, guards and records.

In order: the repo's own settings (`.hub-bot.yaml`, bot.answer.repo_settings) may silence the
bot; a discussion paused by its owner stays silent but for `resume`; a mention naming a command
runs it (bot.handlers.command); a follow-up must be one (bot.handlers.follow_up); anything else
is answered as a question, with the owner's instructions and language.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bot.answer.compose import Adjust, Composer, Draft
from bot.answer.gather import Gathered
from bot.answer.prompt_context import PromptContext
from bot.answer.repo_settings import FILE_NAME, Ceiling, InForce, RepoSettingsReader
from bot.events import Identity
from bot.handlers.command import Commands, command_word, is_paused
from bot.handlers.follow_up import FOLLOW_UP_MARK, FollowUpRules, why_not_a_follow_up
from bot.handlers.mention import Declined, Starting
from bot.store import Job


@dataclass(frozen=True)
class ConversationOptions:
    follow_ups: bool = False  # FOLLOW_UPS: the ceiling of every repo's `follow_ups`
    answer_pull_requests: bool = True
    rules: FollowUpRules = field(default_factory=FollowUpRules)


class Conversation:
    def __init__(
        self,
        composer: Composer,
        repo_settings: RepoSettingsReader,
        commands: Commands,
        options: ConversationOptions,
    ) -> None:
        self._composer = composer
        self._repo_settings = repo_settings
        self.commands = commands
        self._options = options

    async def in_force(self, job: Job, read: Gathered) -> InForce:
        found = await self._repo_settings.read(job.mention.where, read.repo.facts.sha)
        options = self._options
        ceiling = Ceiling(options.follow_ups, options.answer_pull_requests, self.commands.names)
        return found.in_force(ceiling)

    async def mention(
        self, job: Job, bot: Identity, read: Gathered, starting: Starting
    ) -> Draft | Declined:
        mention = job.mention
        force = await self.in_force(job, read)
        if why := _silenced(force, mention.is_pull_request):
            return Declined(why)
        word = command_word(mention.text, bot.handle)
        command = word if word in force.commands else None
        if is_paused(read.comments) and command != "resume":
            return Declined("the discussion is paused (its owner asked; `resume` undoes it)")
        adjust = _owner_asks(force)
        if command is None or self.commands.runs_model(command, mention):
            await starting()  # the model's turn is the slow part: a sign of life first
        if command is not None:
            draft = await self.commands.run(command, mention, bot, read, force, adjust)
        else:
            draft = await self._composer.write(mention, bot, read, adjust)
        return _noted(draft, force)

    async def follow_up(
        self, job: Job, bot: Identity, read: Gathered, starting: Starting
    ) -> Draft | Declined:
        mention = job.mention
        force = await self.in_force(job, read)
        if why := _silenced(force, mention.is_pull_request):
            return Declined(f"not answered as a follow-up: {why}")
        if not force.follow_ups:
            return Declined("not answered as a follow-up: follow-ups are off in this repo")
        if is_paused(read.comments):
            return Declined("not answered as a follow-up: the discussion is paused")
        if why := why_not_a_follow_up(read.comments, mention.comment_id, self._options.rules):
            return Declined(f"not a follow-up: {why}")
        await starting()
        draft = await self._composer.write(mention, bot, read, _owner_asks(force))
        if draft.body is None:
            return draft
        followed = replace(draft, body=f"{draft.body}\n\n{FOLLOW_UP_MARK}", label="follow-up")
        return _noted(followed, force)


def _silenced(force: InForce, is_pull_request: bool) -> str | None:
    if not force.enabled:
        return f"the repo's {FILE_NAME} says enabled: false"
    if is_pull_request and not force.answer_pull_requests:
        return f"the repo's {FILE_NAME} keeps the bot out of pull requests"
    return None


def _owner_asks(force: InForce) -> Adjust:
    def adjust(context: PromptContext) -> PromptContext:
        return replace(context, instructions=force.instructions, language=force.language)

    return adjust


def _noted(draft: Draft, force: InForce) -> Draft:
    """The repo file's problems (invalid, unknown keys, a value not applied), in the job's
    reason: the operator sees them in `jobs show` and on the status page."""
    if not force.notes:
        return draft
    notes = "; ".join(force.notes)
    return replace(draft, label=f"{draft.label} ({notes})" if draft.label else notes)
