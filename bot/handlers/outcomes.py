"""How a reply job ends (bot.handlers.mention): recorded in the store with a reason an operator
can act on, counted, logged in one line; and when a mention will not be answered, a notice,
said once.
"""

from __future__ import annotations

import logging

from bot.answer.compose import Composer
from bot.answer.post import uncancelled
from bot.answer.progress import Placeholder
from bot.answer.thread import ThreadComment, find_marked
from bot.errors import UpstreamError
from bot.events import Identity
from bot.hub.client import HubClient
from bot.logs import log_event
from bot.metrics import Metrics
from bot.store import Job, Store
from bot.store.records import JobStatus

log = logging.getLogger("bot.reply")


def notice_marker(comment_id: str) -> str:
    return f"<!-- hub-discussion-bot notice-for:{comment_id} -->"


class Outcomes:
    """Every way out of a reply job, each recorded (`Store.finish`) and logged as the job's line."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        hub: HubClient,
        composer: Composer,
        failure_notice: bool,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._hub = hub
        self._composer = composer
        self._failure_notice = failure_notice

    async def done(
        self,
        job: Job,
        reply_id: str,
        reason: str,
        text: str | None = None,
        used: list[str] | None = None,
        **more: object,
    ) -> None:
        """`used`: the labels of the sources the reply was given (config.json, ...)."""
        await self._store.finish(
            job.id, JobStatus.DONE, reason, reply_id=reply_id, reply_text=text, sources=used
        )
        self.outcome(logging.INFO, job, "replied", reason, reply=reply_id, **more)

    async def skip(self, job: Job, reason: str) -> None:
        """Not answered, on purpose, for what the Hub says now: done, with nothing posted."""
        why = f"skipped: {reason}"
        await self._store.finish(job.id, JobStatus.DONE, why)
        self.outcome(logging.INFO, job, "skipped", why)

    async def ignore(self, job: Job, reason: str) -> None:
        """Not for the bot after all, once it knew who it is: done, with nothing posted."""
        why = f"not answered: {reason} (decided once the bot knew who it is)"
        await self._store.finish(job.id, JobStatus.DONE, why)
        self.outcome(logging.INFO, job, "ignored", why)

    async def dead(
        self, job: Job, reason: str, level: int = logging.WARNING, **more: object
    ) -> None:
        await self._store.finish(job.id, JobStatus.DEAD, reason)
        self.outcome(level, job, "dead", reason, **more)

    def outcome(self, level: int, job: Job, outcome: str, reason: str, **more: object) -> None:
        self._metrics.job(outcome)
        mention = job.mention
        log_event(
            log,
            level,
            "job",
            job=job.id,
            delivery=mention.delivery or None,
            discussion=mention.where.key,
            comment=mention.comment_id,
            attempt=job.attempts,
            outcome=outcome,
            reason=reason,
            **more,
        )

    async def post_notice(
        self,
        job: Job,
        bot: Identity,
        comments: list[ThreadComment] | None,
        sign: Placeholder | None = None,
    ) -> None:
        """Say so, briefly and without internals, when a mention will not be answered; once.
        A progress comment is edited into the notice, FAILURE_NOTICE or not: left as it is, it
        would promise an answer that is not coming."""
        mention = job.mention
        marker = notice_marker(mention.comment_id)
        if comments and find_marked(comments, marker):
            return
        text = f"{self._composer.notice(mention, bot)}\n\n{marker}"
        try:
            if sign is not None and await sign.turn_into(text):
                return
            if not self._failure_notice:
                return
            await uncancelled(self._hub.post_comment(mention.where, text))
        except UpstreamError as exc:
            log_event(log, logging.WARNING, "notice-not-posted", job=job.id, reason=exc.summary())
