"""The whole life of one reply: gather (the discussion, the repo) -> compose -> post -> record.

The Hub has the last word on "already answered": every attempt reads the discussion first
(bot.answer.gather) and looks for its own marker for this comment, in a comment written by the bot's
account id (an account can be renamed; its id stays). Found, the job is done without posting;
the discussion unreadable, the attempt fails as transient and is tried again, never posted
blindly. So a
comment already answered is never answered again, whatever happened to the store: a wiped
disk, Job mode, two bots on one webhook, a restored backup.

The discussion read before generating also decides whether to answer at all now: a comment
hidden since, a discussion closed since (unless ANSWER_CLOSED) or locked is skipped, with the
reason; a discussion deleted (404) is skipped too, never tried again.

The POST that creates the reply has no idempotency key, so it is never repeated blindly
(bot.answer.post). The store notes that it is under way first (`posting_at`). When it ends
without a clear answer (no answer in time, a connection lost, a 5xx) the Hub may still commit
it, late: the flow waits out the landing window (2 x HUB_TIMEOUT from the POST's start) and
reads the discussion again for its marker before failing; an attempt that finds an earlier
attempt's POST under way within that window (the process died, or stopped, mid-POST) waits
and looks the same way before generating. A shutdown never cuts a POST off half-way: the POST
runs to its end (its own deadline bounds it) and its outcome is recorded, then the job gives
way to the shutdown.

With PROGRESS_COMMENT on, a short comment is posted as soon as the responder decides to answer
and edited into the answer, or the failure notice (bot.answer.progress); one per mention, found
by its marker, across crashes and retries.

Every way out of `ReplyFlow.run` records the job's outcome with a reason an operator can act on
(bot.handlers.outcomes).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from bot import own_time
from bot.answer.compose import Composer, Draft
from bot.answer.gather import Gathered, Gatherer
from bot.answer.post import ReplyPoster, stopping
from bot.answer.progress import Placeholder, ProgressTemplate
from bot.answer.thread import find_marked, is_hidden
from bot.decide import Decider
from bot.errors import NotFound, TransientError, UpstreamError
from bot.events import Identity, Mention
from bot.faults import checkpoint
from bot.handlers.outcomes import Outcomes
from bot.hub.client import HubClient, Whoami
from bot.logs import working_on
from bot.metrics import Metrics
from bot.store import Job, Store

FOUND_EARLIER = "replied (found on the Hub: posted by an earlier attempt)"
FOUND_LATE = "replied (found on the Hub: the Hub took the post but its answer was lost)"


def reply_marker(comment_id: str, round_: int = 0) -> str:
    """An HTML comment, invisible on the Hub, naming the comment (and forced round) answered."""
    suffix = f" round:{round_}" if round_ else ""
    return f"<!-- hub-discussion-bot reply-to:{comment_id}{suffix} -->"


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
    """`landing_window`: how long after a POST began the Hub may still commit it (its deadline
    and as long again: 2 x HUB_TIMEOUT); a marker missing after that means it was not taken.
    `sleep` waits out that window (tests pass their own). `progress`: the progress comment's
    template when PROGRESS_COMMENT is on (bot.answer.progress), else None."""

    attempts: Attempts = Attempts()
    failure_notice: bool = True
    fault: str | None = None
    answer_closed: bool = False
    landing_window: float = 30.0
    progress: ProgressTemplate | None = field(default=None, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)


@dataclass(frozen=True)
class Declined:
    """A responder's decision not to answer after all (a follow-up that is not one, a paused
    discussion): the job is done, with this reason, and nothing is posted."""

    reason: str


# What a responder awaits once it has decided to answer, before the slow part (the model): it
# posts the progress comment when PROGRESS_COMMENT is on, and does nothing otherwise.
Starting = Callable[[], Awaitable[None]]
# What writes the answer once the discussion is read: the composer by default; commands and
# follow-ups bring their own (bot.handlers.conversation), and keep the rest of this flow.
Respond = Callable[[Job, Identity, Gathered, Starting], Awaitable[Draft | Declined]]


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
        respond: Respond | None = None,
    ) -> None:
        self._metrics = metrics
        self._gatherer = gatherer
        self._composer = composer
        self._hub = hub
        self._store = store
        self._whoami = whoami
        self._options = options
        self._respond = respond or self._compose
        self._poster = ReplyPoster(hub, store, gatherer, options.landing_window, options.sleep)
        self._outcomes = Outcomes(store, metrics, hub, composer, options.failure_notice)

    async def run(self, job: Job) -> None:
        await self._run(job)
        if stopping():
            # A shutdown came while a POST ran: the POST was let finish and its outcome
            # recorded (bot.answer.post); now the job gives way.
            raise asyncio.CancelledError

    async def _run(self, job: Job) -> None:
        working_on.set({"job": job.id, "delivery": job.mention.delivery or None})
        clock = own_time.start()
        if job.refused:  # the claim gave it up (a reply limit) and recorded why
            self._outcomes.outcome(logging.WARNING, job, "dead", job.refused)
            return
        if job.attempts > self._options.attempts.max_attempts:
            # Only a job whose process died every time gets here: stop a crash loop.
            await self._outcomes.dead(job, f"gave up after {job.attempts - 1} interrupted attempts")
            return
        checkpoint(self._options.fault, "claimed")
        mention = job.mention
        marker = reply_marker(mention.comment_id, job.round)
        sign: Placeholder | None = None
        try:
            bot = await self._whoami.get()
            if refusal := Decider(bot).recheck(mention):
                await self._outcomes.ignore(job, refusal.reason)
                return
            read = await self._gatherer.gather(mention, bot)
            if found := find_marked(read.comments, marker):
                await self._outcomes.done(job, found, FOUND_EARLIER)
                return
            if why := self._why_not_now(mention, read):
                await self._outcomes.skip(job, why)
                return
            sign = Placeholder(self._options.progress, self._hub, self._poster, job, bot, marker)
            sign.look_in(read.comments)
            # An earlier attempt's POST may still land: let it, and look, before generating.
            # A progress comment found is that POST, landed: the answer goes into it (an edit).
            since = job.posting_age
            window = self._options.landing_window
            if since is not None and since < window and sign.comment_id is None:
                comments = await self._poster.read_after(mention, bot, since)
                if found := find_marked(comments, marker):
                    await self._outcomes.done(job, found, FOUND_LATE)
                    return
                sign.look_in(comments)
            draft = await self._respond(job, bot, read, partial(self._show, sign))
            if isinstance(draft, Declined):
                await self._outcomes.skip(job, draft.reason)
                return
            checkpoint(self._options.fault, "generated")
            if draft.body is None:
                await self._outcomes.dead(
                    job, "the model returned nothing usable; nothing was posted"
                )
                await self._outcomes.post_notice(job, bot, read.comments, sign)
                return
            reply_id, late = await sign.deliver(f"{draft.body}\n\n{marker}")
            own_seconds = clock.seconds()
            checkpoint(self._options.fault, "after-post")
        except UpstreamError as exc:
            await self._failed(job, exc, sign)
            return
        self._metrics.own_time.observe(own_seconds)
        missing = f" without {' and '.join(read.missing)}" if read.missing else ""
        reason = f"replied{missing}" + (" (the POST's answer was lost; found on the Hub)" * late)
        reason = f"{draft.label}: {reason}" if draft.label else reason
        own_ms = round(own_seconds * 1000, 2)
        used = [found.label for found in draft.sources]
        lookups_ms = round(read.looked.seconds * 1000, 1)
        timings = {"own_ms": own_ms, "sources": len(used), "lookups_ms": lookups_ms}
        await self._outcomes.done(job, reply_id, reason, draft.body, used, **timings)

    def with_responder(self, respond: Respond) -> ReplyFlow:
        """The same flow (gather, look for the marker, post, record) with another responder."""
        return ReplyFlow(
            self._gatherer, self._composer, self._hub, self._store, self._whoami,
            self._metrics, self._options, respond,
        )  # fmt: skip

    async def _compose(self, job: Job, bot: Identity, read: Gathered, starting: Starting) -> Draft:
        await starting()
        return await self._composer.write(job.mention, bot, read)

    async def _show(self, sign: Placeholder) -> None:
        """A responder's `starting`: the progress comment, posted once per mention."""
        if await sign.show():
            checkpoint(self._options.fault, "placeholder")
            if stopping():  # a shutdown came during its POST: give way; the next start edits it
                raise asyncio.CancelledError

    def _why_not_now(self, mention: Mention, read: Gathered) -> str | None:
        """What the discussion, read just now, says against replying: much can change between
        the delivery and an attempt (a retry may run hours later)."""
        if read.state.locked:
            return "the discussion is locked"
        if read.state.status in ("closed", "merged") and not self._options.answer_closed:
            return f"the discussion is {read.state.status} and ANSWER_CLOSED is off"
        if is_hidden(read.comments, mention.comment_id):
            return "the comment is hidden"
        return None

    async def _failed(self, job: Job, exc: UpstreamError, sign: Placeholder | None) -> None:
        if isinstance(exc, NotFound) and exc.service == "Hub":  # deleted: nothing to retry
            await self._outcomes.skip(job, f"the discussion or its repo is gone ({exc.summary()})")
            return
        attempts = self._options.attempts
        if isinstance(exc, TransientError) and job.attempts < attempts.max_attempts:
            delay = attempts.delay(job.attempts)
            await self._store.retry_later(job.id, exc.summary(), delay)
            self._outcomes.outcome(
                logging.WARNING, job, "failed", exc.summary(), retry_in_s=round(delay)
            )
            return
        await self._outcomes.dead(job, exc.summary(), logging.ERROR, service=exc.service)
        # When the Hub is what failed, a new notice would fail too; a progress comment is still
        # worth the try: it must not promise an answer that will not come.
        if exc.service != "Hub" or (sign is not None and sign.comment_id is not None):
            await self._outcomes.post_notice(job, await self._whoami.get(), None, sign)
