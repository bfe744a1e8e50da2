"""The whole life of one reply: gather (the discussion, the repo) -> compose -> post -> record.

The Hub has the last word on "already answered": every attempt reads the discussion first
(bot.answer.gather) and looks for its own marker for this comment, in a comment written by the bot's
account id (an account can be renamed; its id stays). Found, the job is done without posting;
the discussion unreadable, the attempt fails as transient and is tried again, never posted
blindly. So a
comment already answered is never answered again, whatever happened to the store: a wiped
disk, Job mode, two bots on one webhook, a restored backup.

Every way out of `ReplyFlow.run` records the job's outcome with a reason an operator can act on.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from bot import own_time
from bot.answer.compose import Composer
from bot.answer.gather import Gatherer
from bot.answer.thread import ThreadComment, find_marked
from bot.decide import Decider
from bot.errors import TransientError, UpstreamError
from bot.events import Identity
from bot.faults import checkpoint
from bot.hub.client import HubClient, Whoami
from bot.logs import log_event, working_on
from bot.metrics import Metrics
from bot.store import Job, Store
from bot.store.records import JobStatus

log = logging.getLogger("bot.reply")


def reply_marker(comment_id: str, round_: int = 0) -> str:
    """An HTML comment, invisible on the Hub, naming the comment (and forced round) answered."""
    suffix = f" round:{round_}" if round_ else ""
    return f"<!-- hub-discussion-bot reply-to:{comment_id}{suffix} -->"


def notice_marker(comment_id: str) -> str:
    return f"<!-- hub-discussion-bot notice-for:{comment_id} -->"


@dataclass(frozen=True)
class Attempts:
    """How often a job is tried, and how long it waits in between (doubling, with jitter)."""

    max_attempts: int = 5
    backoff: float = 30.0

    def delay(self, attempts_made: int) -> float:
        base = self.backoff * 2.0 ** (attempts_made - 1)
        return min(base, 6 * 3600.0) * (0.5 + random.random() / 2)  # noqa: S311 - jitter only


@dataclass(frozen=True)
class ReplyOptions:
    attempts: Attempts = Attempts()
    failure_notice: bool = True
    fault: str | None = None


class ReplyFlow:
    def __init__(
        self,
        gatherer: Gatherer,
        composer: Composer,
        hub: HubClient,
        store: Store,
        whoami: Whoami,
        metrics: Metrics,
        options: ReplyOptions,
    ) -> None:
        self._metrics = metrics
        self._gatherer = gatherer
        self._composer = composer
        self._hub = hub
        self._store = store
        self._whoami = whoami
        self._options = options

    async def run(self, job: Job) -> None:
        working_on.set({"job": job.id, "delivery": job.mention.delivery or None})
        clock = own_time.start()
        if job.refused:  # the claim gave it up (a reply limit) and recorded why
            self._outcome(logging.WARNING, job, "dead", job.refused)
            return
        if job.attempts > self._options.attempts.max_attempts:
            # Only a job whose process died every time gets here: stop a crash loop.
            await self._dead(job, f"gave up after {job.attempts - 1} interrupted attempts")
            return
        checkpoint(self._options.fault, "claimed")
        mention = job.mention
        marker = reply_marker(mention.comment_id, job.round)
        try:
            bot = await self._whoami.get()
            if refusal := Decider(bot).recheck(mention):
                await self._ignore(job, refusal.reason)
                return
            read = await self._gatherer.gather(mention, bot)
            if found := find_marked(read.comments, marker):
                reason = "replied (found on the Hub: posted by an earlier attempt)"
                await self._done(job, found, reason)
                return
            draft = await self._composer.write(mention, bot, read)
            checkpoint(self._options.fault, "generated")
            if draft.body is None:
                await self._dead(job, "the model returned nothing usable; nothing was posted")
                await self._post_notice(job, bot, read.comments)
                return
            reply_id = await self._hub.post_comment(mention.where, f"{draft.body}\n\n{marker}")
            own_seconds = clock.seconds()
            checkpoint(self._options.fault, "after-post")
        except UpstreamError as exc:
            await self._failed(job, exc)
            return
        self._metrics.own_time.observe(own_seconds)
        missing = f" without {' and '.join(read.missing)}" if read.missing else ""
        own_ms = round(own_seconds * 1000, 2)
        used = [found.label for found in draft.sources]
        lookups_ms = round(read.looked.seconds * 1000, 1)
        timings = {"own_ms": own_ms, "sources": len(used), "lookups_ms": lookups_ms}
        await self._done(job, reply_id, f"replied{missing}", draft.body, used, **timings)

    async def _done(
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
        self._outcome(logging.INFO, job, "replied", reason, reply=reply_id, **more)

    async def _ignore(self, job: Job, reason: str) -> None:
        """Not for the bot after all, once it knew who it is: done, with nothing posted."""
        why = f"not answered: {reason} (decided once the bot knew who it is)"
        await self._store.finish(job.id, JobStatus.DONE, why)
        self._outcome(logging.INFO, job, "ignored", why)

    async def _dead(
        self, job: Job, reason: str, level: int = logging.WARNING, **more: object
    ) -> None:
        await self._store.finish(job.id, JobStatus.DEAD, reason)
        self._outcome(level, job, "dead", reason, **more)

    async def _failed(self, job: Job, exc: UpstreamError) -> None:
        attempts = self._options.attempts
        if isinstance(exc, TransientError) and job.attempts < attempts.max_attempts:
            delay = attempts.delay(job.attempts)
            await self._store.retry_later(job.id, exc.summary(), delay)
            self._outcome(logging.WARNING, job, "failed", exc.summary(), retry_in_s=round(delay))
            return
        await self._dead(job, exc.summary(), logging.ERROR, service=exc.service)
        if exc.service != "Hub":  # when the Hub is what failed, a notice would fail too
            await self._post_notice(job, await self._whoami.get(), None)

    def _outcome(self, level: int, job: Job, outcome: str, reason: str, **more: object) -> None:
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

    async def _post_notice(
        self, job: Job, bot: Identity, comments: list[ThreadComment] | None
    ) -> None:
        """Say so, briefly and without internals, when a mention will not be answered; once."""
        if not self._options.failure_notice:
            return
        mention = job.mention
        marker = notice_marker(mention.comment_id)
        if comments and find_marked(comments, marker):
            return
        text = f"{self._composer.notice(mention, bot)}\n\n{marker}"
        try:
            await self._hub.post_comment(mention.where, text)
        except UpstreamError as exc:
            log_event(log, logging.WARNING, "notice-not-posted", job=job.id, reason=exc.summary())
