"""Everything read for one mention, in parallel: the discussion (with a pull request's changes),
what the Hub knows about the repo, and the lookups the question asks for (bot.sources: the facts
sheet always, bigger reads when the question needs them). The lookups start as soon as the
repo's facts are in, beside the card, so a reply's Hub time is about one round trip more.

The discussion is the one read that must succeed: the bot looks in it for its own earlier
reply before posting, so without it the attempt fails as transient and nothing is posted.
Everything else may be missing; what is, is named in `missing` ("the card (HTTP 500)").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.answer.changes import PullRequest, pull_request_of
from bot.answer.context import ContextReader, RepoContext
from bot.answer.thread import ThreadComment, parse_events
from bot.errors import TooLarge, TransientError, UpstreamError
from bot.events import Identity, Mention
from bot.hub.client import HubClient
from bot.sources.found import Toolbox
from bot.sources.lookups import Looked, Lookups
from bot.sources.tools import ToolRun


@dataclass(frozen=True)
class Gathered:
    comments: list[ThreadComment]
    repo: RepoContext
    pull_request: PullRequest | None = None
    missing: tuple[str, ...] = ()
    looked: Looked = field(default_factory=Looked)
    tools: Toolbox | None = None  # the lookups a chat model may call, for this reply


class Gatherer:
    def __init__(
        self, hub: HubClient, context: ContextReader, lookups: Lookups | None = None
    ) -> None:
        self._hub = hub
        self._context = context
        self.lookups = lookups

    async def gather(self, mention: Mention, bot: Identity) -> Gathered:
        (comments, pull_request, unread), repo, looked = await asyncio.gather(
            self._discussion(mention, bot), self._context.read(mention.where), self._look(mention)
        )
        missing = (*repo.missing, *unread, *looked.missing)
        tools = None
        if self.lookups and self.lookups.options.tools and looked.where is not None:
            tools = ToolRun(self.lookups, looked)
        return Gathered(comments, repo, pull_request, missing, looked, tools)

    async def _look(self, mention: Mention) -> Looked:
        """The lookups, once the repo's facts are in (the read under way is shared with the
        card's); without facts there is nothing to look up."""
        if self.lookups is None:
            return Looked()
        try:
            facts = await self._context.facts(mention.where)
        except UpstreamError:
            return Looked()
        return await self.lookups.look(mention, facts)

    async def _discussion(
        self, mention: Mention, bot: Identity
    ) -> tuple[list[ThreadComment], PullRequest | None, tuple[str, ...]]:
        unread: tuple[str, ...] = ()
        try:
            try:
                details = await self._hub.discussion(mention.where, diff=mention.is_pull_request)
            except TooLarge as exc:  # a huge diff: the thread, without the changes
                unread = (f"the pull request's changes ({exc.detail})",)
                details = await self._hub.discussion(mention.where)
        except UpstreamError as exc:
            raise TransientError(
                "Hub",
                exc.status,
                f"cannot read the discussion to look for an earlier reply ({exc.detail})",
                exc.hint,
            ) from None
        budgets = self._context.budgets
        budget = budgets.diff_chars if not unread else 0
        changes = pull_request_of(details, budget, budgets.files_listed)
        return parse_events(details, bot.id), changes, unread
