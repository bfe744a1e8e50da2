"""The whole life of one reply: guard -> thread -> compose -> post -> record.

Every way out of `ReplyFlow.run` records the job's outcome with a reason an operator can act on.
The comment POST is never repeated blindly: the step before it notes that a post may go out,
and an attempt that finds that note first looks for its own marker in the discussion.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from bot.compose import Composer
from bot.errors import TransientError, UpstreamError
from bot.events import Identity, Mention
from bot.faults import checkpoint
from bot.guards import Guards
from bot.hub import HubClient, Whoami
from bot.logs import log_event
from bot.metrics import Metrics
from bot.store import Job, Store
from bot.thread import ThreadComment, find_marked, parse_events

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
    read_thread: bool = True
    failure_notice: bool = True
    fault: str | None = None


class ReplyFlow:
    def __init__(
        self,
        composer: Composer,
        hub: HubClient,
        store: Store,
        whoami: Whoami,
        guards: Guards,
        metrics: Metrics,
        options: ReplyOptions,
    ) -> None:
        self._metrics = metrics
        self._composer = composer
        self._hub = hub
        self._store = store
        self._whoami = whoami
        self._guards = guards
        self._options = options

    async def run(self, job: Job) -> None:
        if job.attempts > self._options.attempts.max_attempts:
            # Only a job whose process died every time gets here: stop a crash loop.
            self._dead(job, f"gave up after {job.attempts - 1} interrupted attempts")
            return
        checkpoint(self._options.fault, "claimed")
        mention = job.mention
        marker = reply_marker(mention.comment_id, job.round)
        try:
            bot = await self._whoami.get()
            comments, unread = await self._read_thread(mention, job, bot)
            if job.posting_at is not None:
                if comments is None:
                    raise TransientError("Hub", None, "cannot check for an earlier reply")
                if found := find_marked(comments, marker):
                    self._done(job, found, "replied (found on the Hub after an interrupted post)")
                    return
            # A forced round is an operator's explicit request, so rate limits do not apply.
            limited = None if job.round else self._guards.over_limit(self._store, mention)
            if limited:
                self._dead(job, limited)
                return
            draft = await self._composer.write(mention, bot, comments or [])
            checkpoint(self._options.fault, "generated")
            if draft.body is None:
                self._dead(job, "the model returned nothing usable; nothing was posted")
                await self._post_notice(job, bot)
                return
            self._store.mark_posting(job.id)
            reply_id = await self._hub.post_comment(mention.where, f"{draft.body}\n\n{marker}")
            checkpoint(self._options.fault, "after-post")
        except UpstreamError as exc:
            await self._failed(job, exc)
            return
        self._done(
            job, reply_id, f"replied without thread context ({unread})" if unread else "replied"
        )

    async def _read_thread(
        self, mention: Mention, job: Job, bot: Identity
    ) -> tuple[list[ThreadComment] | None, str | None]:
        """The discussion's comments, or None and why they could not be read."""
        if not self._options.read_thread and job.posting_at is None:
            return None, None
        try:
            return parse_events(await self._hub.discussion(mention.where), bot.name), None
        except UpstreamError as exc:
            log_event(log, logging.WARNING, "thread-unreadable", job=job.id, reason=exc.summary())
            return None, exc.summary()

    def _done(self, job: Job, reply_id: str, reason: str) -> None:
        self._store.finish(job.id, "done", reason, reply_id=reply_id)
        self._outcome(logging.INFO, job, "replied", reason, reply=reply_id)

    def _dead(self, job: Job, reason: str, level: int = logging.WARNING, **more: object) -> None:
        self._store.finish(job.id, "dead", reason)
        self._outcome(level, job, "dead", reason, **more)

    async def _failed(self, job: Job, exc: UpstreamError) -> None:
        attempts = self._options.attempts
        if isinstance(exc, TransientError) and job.attempts < attempts.max_attempts:
            delay = attempts.delay(job.attempts)
            self._store.retry_later(job.id, exc.summary(), delay)
            self._outcome(logging.WARNING, job, "failed", exc.summary(), retry_in_s=round(delay))
            return
        self._dead(job, exc.summary(), logging.ERROR, service=exc.service)
        if exc.service != "Hub":  # when the Hub is what failed, a notice would fail too
            await self._post_notice(job, await self._whoami.get())

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

    async def _post_notice(self, job: Job, bot: Identity) -> None:
        """Say so, briefly and without internals, when a mention will not be answered."""
        if not self._options.failure_notice:
            return
        mention = job.mention
        text = f"{self._composer.notice(mention, bot)}\n\n{notice_marker(mention.comment_id)}"
        try:
            await self._hub.post_comment(mention.where, text)
        except UpstreamError as exc:
            log_event(log, logging.WARNING, "notice-not-posted", job=job.id, reason=exc.summary())
