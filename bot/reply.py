"""The whole life of one reply: prompt -> generate -> clean -> post -> record.

Every way out of `ReplyFlow.run` records the job's outcome with a reason an operator can act on.
"""

from __future__ import annotations

import logging

from bot.errors import UpstreamError
from bot.events import Identity
from bot.hub import HubClient
from bot.inference import TextGenerationModel
from bot.prompts import PromptContext, Prompts, strip_echo
from bot.store import Job, Store

log = logging.getLogger("bot.reply")


def reply_marker(comment_id: str) -> str:
    """An HTML comment, invisible on the Hub, naming the comment a reply answers."""
    return f"<!-- hub-discussion-bot reply-to:{comment_id} -->"


class ReplyFlow:
    def __init__(
        self,
        prompts: Prompts,
        model: TextGenerationModel,
        hub: HubClient,
        store: Store,
        bot: Identity,
    ) -> None:
        self._prompts = prompts
        self._model = model
        self._hub = hub
        self._store = store
        self._bot = bot

    async def run(self, job: Job) -> None:
        mention = job.mention
        where = mention.where.key
        prompt = self._prompts.completion(PromptContext.for_mention(mention, self._bot.name))
        try:
            answer = strip_echo(prompt, await self._model.generate(prompt))
        except UpstreamError as exc:
            self._give_up(job, exc)
            return
        if not answer:
            self._store.finish(job.id, "dead", "the model returned no text; nothing was posted")
            log.warning("job=%d discussion=%s outcome=dead reason=empty-answer", job.id, where)
            return
        try:
            reply_id = await self._hub.post_comment(
                mention.where, f"{answer}\n\n{reply_marker(mention.comment_id)}"
            )
        except UpstreamError as exc:
            self._give_up(job, exc)
            return
        self._store.finish(job.id, "done", "replied", reply_id=reply_id)
        log.info(
            "job=%d discussion=%s comment=%s outcome=replied reply=%s",
            job.id,
            where,
            mention.comment_id,
            reply_id,
        )

    def _give_up(self, job: Job, exc: UpstreamError) -> None:
        self._store.finish(job.id, "dead", exc.summary())
        log.error(
            "job=%d discussion=%s outcome=dead service=%s status=%s reason=%r hint=%r",
            job.id,
            job.mention.where.key,
            exc.service,
            exc.status,
            exc.detail,
            exc.hint,
        )
