"""The whole life of one reply: guard -> prompt -> generate -> clean -> post -> record.

Every way out of `ReplyFlow.run` records the job's outcome with a reason an operator can act on.
The comment POST is never repeated blindly: the step before it notes that a post may go out,
and an attempt that finds that note first looks for its own marker in the discussion.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from bot.errors import TransientError, UpstreamError
from bot.faults import checkpoint
from bot.guards import Guards
from bot.hub import HubClient, Whoami
from bot.inference import TextGenerationModel
from bot.prompts import PromptContext, Prompts, strip_echo
from bot.store import Job, Store

log = logging.getLogger("bot.reply")


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


class ReplyFlow:
    def __init__(
        self,
        prompts: Prompts,
        model: TextGenerationModel,
        hub: HubClient,
        store: Store,
        whoami: Whoami,
        guards: Guards,
        attempts: Attempts,
        fault: str | None = None,
    ) -> None:
        self._prompts = prompts
        self._model = model
        self._hub = hub
        self._store = store
        self._whoami = whoami
        self._guards = guards
        self._attempts = attempts
        self._fault = fault

    async def run(self, job: Job) -> None:
        if job.attempts > self._attempts.max_attempts:
            # Only a job whose process died every time gets here: stop a crash loop.
            self._dead(job, f"gave up after {job.attempts - 1} interrupted attempts")
            return
        checkpoint(self._fault, "claimed")
        mention = job.mention
        marker = reply_marker(mention.comment_id, job.round)
        try:
            bot = await self._whoami.get()
            if job.posting_at is not None:
                found = await self._hub.find_reply(mention.where, bot.name, marker)
                if found is not None:
                    self._done(job, found, "replied (found on the Hub after an interrupted post)")
                    return
            # A forced round is an operator's explicit request, so rate limits do not apply.
            limited = None if job.round else self._guards.over_limit(self._store, mention)
            if limited:
                self._dead(job, limited)
                return
            prompt = self._prompts.completion(PromptContext.for_mention(mention, bot.handle))
            answer = strip_echo(prompt, await self._model.generate(prompt))
            checkpoint(self._fault, "generated")
            if not answer:
                self._dead(job, "the model returned no text; nothing was posted")
                return
            self._store.mark_posting(job.id)
            reply_id = await self._hub.post_comment(mention.where, f"{answer}\n\n{marker}")
            checkpoint(self._fault, "after-post")
        except UpstreamError as exc:
            self._failed(job, exc)
            return
        self._done(job, reply_id, "replied")

    def _done(self, job: Job, reply_id: str, reason: str) -> None:
        self._store.finish(job.id, "done", reason, reply_id=reply_id)
        log.info(
            "job=%d discussion=%s comment=%s outcome=replied reply=%s reason=%r",
            job.id,
            job.mention.where.key,
            job.mention.comment_id,
            reply_id,
            reason,
        )

    def _dead(self, job: Job, reason: str) -> None:
        self._store.finish(job.id, "dead", reason)
        log.warning(
            "job=%d discussion=%s outcome=dead reason=%r", job.id, job.mention.where.key, reason
        )

    def _failed(self, job: Job, exc: UpstreamError) -> None:
        fields = (job.id, job.mention.where.key, exc.service, exc.status, exc.detail, exc.hint)
        if isinstance(exc, TransientError) and job.attempts < self._attempts.max_attempts:
            delay = self._attempts.delay(job.attempts)
            self._store.retry_later(job.id, exc.summary(), delay)
            log.warning(
                "job=%d discussion=%s outcome=failed service=%s status=%s reason=%r hint=%r"
                " retry_in_s=%.0f",
                *fields,
                delay,
            )
            return
        self._store.finish(job.id, "dead", exc.summary())
        log.error(
            "job=%d discussion=%s outcome=dead service=%s status=%s reason=%r hint=%r", *fields
        )
