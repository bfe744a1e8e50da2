"""An automation job: one rule run on one repo at one revision (bot.automations).

It keeps the handlers' contract (bot.handlers): the Hub is looked at before anything is
started or posted (a Job's labels, a comment's marker), every way out records an outcome with
a reason, transient failures are tried again later with backoff, and the claim has already
held the rule to its `max_per_day`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.automations.card_review import CardReviewer
from bot.automations.comment import Commenter
from bot.automations.rule import CardReview, CommentOn, Rule, RunJob
from bot.automations.rules import Rules
from bot.automations.run_job import JobRunner, SecretNotSet
from bot.errors import PromptError, TransientError, UpstreamError
from bot.faults import checkpoint
from bot.handlers.mention import Attempts
from bot.hub.client import Whoami
from bot.logs import log_event, working_on
from bot.metrics import Metrics
from bot.store import Job, Store
from bot.store.records import AutomationRun, JobStatus

log = logging.getLogger("bot.automation")


@dataclass(frozen=True)
class Actions:
    jobs: JobRunner
    reviews: CardReviewer
    comments: Commenter


class AutomationFlow:
    def __init__(
        self,
        rules: Rules,
        actions: Actions,
        store: Store,
        whoami: Whoami,
        metrics: Metrics,
        attempts: Attempts,
        fault: str | None = None,
    ) -> None:
        self._rules = rules
        self._actions = actions
        self._store = store
        self._whoami = whoami
        self._metrics = metrics
        self._attempts = attempts
        self._fault = fault

    async def run(self, job: Job) -> None:
        run = job.automation
        working_on.set({"job": job.id, "delivery": run.delivery if run else None})
        if job.refused:  # the claim gave it up (max_per_day) and recorded why
            self._outcome(logging.WARNING, job, "dead", job.refused)
            return
        if run is None:
            await self._end(job, JobStatus.DEAD, "an automation job without its run")
            return
        rule = self._rules.named(run.rule)
        if rule is None:
            why = f"rule {run.rule} is no longer in AUTOMATIONS_FILE: nothing was done"
            await self._end(job, JobStatus.DONE, why)
            return
        if job.attempts > self._attempts.max_attempts:
            await self._end(job, JobStatus.DEAD, f"gave up after {job.attempts - 1} attempts")
            return
        checkpoint(self._fault, "claimed")
        try:
            status, reason, reply = await self._act(rule, run)
        except SecretNotSet as exc:
            await self._end(job, JobStatus.DEAD, f"{exc}: set it in the bot's environment")
            return
        except PromptError as exc:
            await self._end(job, JobStatus.DEAD, str(exc))
            return
        except UpstreamError as exc:
            await self._failed(job, exc)
            return
        await self._end(job, status, reason, reply)

    async def _act(self, rule: Rule, run: AutomationRun) -> tuple[JobStatus, str, str | None]:
        bot = await self._whoami.get()
        action = rule.do
        if isinstance(action, RunJob):
            ran = await self._actions.jobs.run(rule, run, bot)
            checkpoint(self._fault, "after-post")
            if ran.spoken is None:
                return JobStatus.DEAD, ran.note, None
            said = "found the report on the Hub" if ran.spoken.already else "reported"
            note = f"; {ran.note}" if ran.note else ""
            reason = f"Hub Job {ran.job.id} ended {ran.job.stage}; {said}{note}"
            return JobStatus.DONE, reason, ran.spoken.comment_id or None
        if isinstance(action, CardReview):
            reviewed = await self._actions.reviews.run(rule, run, bot)
            spoken = reviewed.spoken
            return JobStatus.DONE, reviewed.why, spoken.comment_id or None if spoken else None
        assert isinstance(action, CommentOn)
        spoken = await self._actions.comments.run(rule, run, bot)
        said = "found on the Hub: posted by an earlier attempt" if spoken.already else "posted"
        return JobStatus.DONE, f"commented ({said})", spoken.comment_id or None

    async def _failed(self, job: Job, exc: UpstreamError) -> None:
        if isinstance(exc, TransientError) and job.attempts < self._attempts.max_attempts:
            delay = self._attempts.delay(job.attempts)
            await self._store.retry_later(job.id, exc.summary(), delay)
            self._outcome(logging.WARNING, job, "failed", exc.summary(), retry_in_s=round(delay))
            return
        await self._end(job, JobStatus.DEAD, exc.summary(), level=logging.ERROR)

    async def _end(
        self,
        job: Job,
        status: JobStatus,
        reason: str,
        reply: str | None = None,
        level: int = logging.INFO,
    ) -> None:
        await self._store.finish(job.id, status, reason, reply_id=reply)
        outcome = "done" if status is JobStatus.DONE else "dead"
        self._outcome(level if status is JobStatus.DONE else logging.WARNING, job, outcome, reason)

    def _outcome(self, level: int, job: Job, outcome: str, reason: str, **more: object) -> None:
        self._metrics.job(outcome)
        run = job.automation
        log_event(
            log,
            level,
            "automation",
            job=job.id,
            rule=run.rule if run else None,
            repo=None if run is None or run.private else f"{run.repo_type}s/{run.repo}",
            revision=run.revision if run else None,
            attempt=job.attempts,
            outcome=outcome,
            reason=reason,
            **more,
        )
