"""Where automations speak: a discussion found by its title (opened by the bot the first time,
reused after), and one comment per run, found again by its marker before anything is posted.

The Hub has the last word: a run's marker (an HTML comment, invisible on the Hub) in a comment
the bot's account wrote means the run already spoke, whatever the store remembers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.answer.thread import ThreadComment, find_marked, parse_events
from bot.automations.rule import Place
from bot.events import DiscussionRef, Identity
from bot.hub.client import HubClient
from bot.hub.jobs import HubJobs


def run_marker(key: str) -> str:
    return f"<!-- hub-discussion-bot automation:{key} -->"


@dataclass(frozen=True)
class Spoken:
    """What a run said: the comment's id ("" for an opening post) and where."""

    comment_id: str
    where: DiscussionRef
    already: bool  # found on the Hub: an earlier attempt posted it


class Discussions:
    def __init__(self, hub: HubClient, jobs: HubJobs) -> None:
        self._hub = hub
        self._jobs = jobs

    async def find(self, place: Place, bot: Identity) -> DiscussionRef | None:
        num = await self._jobs.find_discussion(place.repo_type, place.repo, place.title, bot.name)
        return DiscussionRef(place.repo_type, place.repo, num) if num else None

    async def comments(self, where: DiscussionRef, bot: Identity) -> list[ThreadComment]:
        return parse_events(await self._hub.discussion(where), bot.id)

    async def say_once(self, place: Place, bot: Identity, key: str, text: str) -> Spoken:
        """Post `text` for run `key` on the discussion at `place`, opening it if there is none,
        unless the Hub shows the run already spoke there."""
        marker = run_marker(key)
        body = f"{text}\n\n{marker}"
        where = await self.find(place, bot)
        if where is None:
            num = await self._jobs.open_discussion(place.repo_type, place.repo, place.title, body)
            return Spoken("", DiscussionRef(place.repo_type, place.repo, num), False)
        return await self.say_in(where, bot, marker, body)

    async def say_in(
        self,
        where: DiscussionRef,
        bot: Identity,
        marker: str,
        body: str,
        comments: list[ThreadComment] | None = None,
    ) -> Spoken:
        """Post `body` (which carries `marker`) in `where`, unless a comment of the bot's
        already carries the marker."""
        if comments is None:
            comments = await self.comments(where, bot)
        if found := find_marked(comments, marker):
            return Spoken(found, where, True)
        return Spoken(await self._hub.post_comment(where, body), where, False)
