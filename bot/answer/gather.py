"""Everything read for one mention, in parallel: the discussion (with a pull request's changes),
what the Hub knows about the repo, and the lookups the question asks for (bot.sources: the facts
sheet always, bigger reads when the question needs them). The lookups start as soon as the
repo's facts are in, beside the card, so a reply's Hub time is about one round trip more.

The discussion is the one read that must succeed: the bot looks in it for its own earlier
reply before posting, so without it the attempt fails as transient and nothing is posted (but
for NotFound: a discussion deleted, or a repo gone or no longer visible, is not tried again).
The same read says whether the discussion is still open and unlocked, and whether the comment
was hidden since (`state`, and `hidden` on each comment). Everything else may be missing; what
is, is named in `missing` ("the card (HTTP 500)").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.answer.changes import PullRequest, pull_request_of
from bot.answer.context import ContextReader, RepoContext
from bot.answer.thread import DiscussionState, ThreadComment, parse_events, state_of
from bot.errors import NotFound, TooLarge, TransientError, UpstreamError
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
    state: DiscussionState = field(default_factory=DiscussionState)


class Gatherer:
    def __init__(
        self, hub: HubClient, context: ContextReader, lookups: Lookups | None = None
    ) -> None:
        self._hub = hub
        self._context = context
        self.lookups = lookups

    async def gather(self, mention: Mention, bot: Identity) -> Gathered:
        (comments, pull_request, unread, state), repo, looked = await asyncio.gather(
            self._discussion(mention, bot), self._context.read(mention.where), self._look(mention)
        )
        missing = (*repo.missing, *unread, *looked.missing)
        tools = None
        if self.lookups and self.lookups.options.tools and looked.where is not None:
            tools = ToolRun(self.lookups, looked)
        return Gathered(comments, repo, pull_request, missing, looked, tools, state)

    async def comments(self, mention: Mention, bot: Identity) -> list[ThreadComment]:
        """The discussion's comments as they are now: read again to look for a reply that
        may have landed late. Fails as `gather` does when the discussion cannot be read."""
        async with _discussion_read():
            details = await self._hub.discussion(mention.where)
        return parse_events(details, bot.id)

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
    ) -> tuple[list[ThreadComment], PullRequest | None, tuple[str, ...], DiscussionState]:
        unread: tuple[str, ...] = ()
        async with _discussion_read():
            try:
                details = await self._hub.discussion(mention.where, diff=mention.is_pull_request)
            except TooLarge as exc:  # a huge diff: the thread, without the changes
                unread = (f"the pull request's changes ({exc.detail})",)
                details = await self._hub.discussion(mention.where)
        budgets = self._context.budgets
        budget = budgets.diff_chars if not unread else 0
        changes = pull_request_of(details, budget, budgets.files_listed)
        return parse_events(details, bot.id), changes, unread, state_of(details)


@asynccontextmanager
async def _discussion_read() -> AsyncIterator[None]:
    """A failed read of the discussion fails the attempt as transient: without it nothing may
    be posted. NotFound stays as it is: the discussion or its repo is gone."""
    try:
        yield
    except NotFound:
        raise
    except UpstreamError as exc:
        raise TransientError(
            "Hub",
            exc.status,
            f"cannot read the discussion to look for an earlier reply ({exc.detail})",
            exc.hint,
            code=exc.code,
            request_id=exc.request_id,
        ) from None
