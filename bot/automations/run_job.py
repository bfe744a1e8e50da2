"""`do: run_job`: start one Hub Job per (rule, repo, revision), follow it, report its end.

The Hub has the last word on "already started": the Job carries labels naming the bot, the
rule, the repo and the revision, and before starting one the bot asks the Hub for Jobs with
those labels. A replay, a restart, a wiped store or a second replica finds the Job the first
attempt started and follows it instead. The report is one comment, found again by its marker
(bot.automations.discussions) before it is posted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.automations.discussions import Discussions, Spoken
from bot.automations.rule import Rule, RunJob
from bot.automations.templates import AutomationTemplates
from bot.events import Identity
from bot.hub.jobs import HubJobs, JobInfo, label_value
from bot.store.records import AutomationRun

MASK = "********"
FOLLOW_MARGIN = 900.0  # seconds past the Job's own timeout before the bot stops waiting


@dataclass(frozen=True)
class Following:
    """How a Job is followed: the first wait between looks, doubling up to `longest`."""

    first: float = 1.0
    longest: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass(frozen=True)
class Ran:
    """How a run ended: the Job, and what was said about it (None: nothing could be)."""

    job: JobInfo
    spoken: Spoken | None
    note: str = ""


class SecretNotSet(Exception):
    """A secret the rule names is not in the bot's environment: nothing is started."""


def labels(run: AutomationRun) -> dict[str, str]:
    """What names a run on the Hub: the bot, the rule, the repo and the revision."""
    return {
        "hub-discussion-bot": "automation",
        "rule": label_value(run.rule),
        "repo": label_value(f"{run.repo_type}s/{run.repo}"),
        "revision": label_value(run.revision),
    }


def job_spec(
    action: RunJob, run: AutomationRun, environ: Mapping[str, str], mask: bool = False
) -> dict[str, Any]:
    """The body of `POST /api/jobs/{namespace}`. With `mask`, secret values are stars (for
    `preview`); without, a secret the environment lacks raises SecretNotSet."""
    secrets = {}
    for name in action.secrets:
        if mask:
            secrets[name] = MASK
        elif name in environ:
            secrets[name] = environ[name]
        else:
            raise SecretNotSet(f"secret {name} is named by the rule but not set")
    image = {"spaceId": action.space} if action.space else {"dockerImage": action.image}
    facts = {"REPO_ID": run.repo, "REPO_TYPE": run.repo_type, "REPO_SHA": run.revision}
    return {
        **image,
        "command": list(action.command),
        "arguments": [],
        "environment": {**action.env, **facts},
        "secrets": secrets,
        "flavor": action.flavor,
        "timeoutSeconds": action.timeout,
        "labels": labels(run),
    }


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


class JobRunner:
    def __init__(
        self,
        jobs: HubJobs,
        discussions: Discussions,
        templates: AutomationTemplates,
        endpoint: str,
        environ: Mapping[str, str],
        following: Following | None = None,
    ) -> None:
        self._jobs = jobs
        self._discussions = discussions
        self._templates = templates
        self._endpoint = endpoint
        self._environ = environ
        self._following = following or Following()

    async def run(self, rule: Rule, run: AutomationRun, bot: Identity) -> Ran:
        action = rule.do
        assert isinstance(action, RunJob)
        namespace = action.namespace or bot.name
        found = await self._jobs.find(namespace, labels(run))
        if found:
            job, note = found[0], "found on the Hub: started by an earlier attempt"
        else:
            spec = job_spec(action, run, self._environ)
            job, note = await self._jobs.start(namespace, spec), ""
        job = await self._follow(job, action.timeout + FOLLOW_MARGIN)
        if not job.ended:
            return Ran(job, None, f"Hub Job {job.id} did not end in time (still {job.stage})")
        spoken = await self._discussions.say_once(
            action.report, bot, run.key, self.report(rule, run, job)
        )
        return Ran(job, spoken, note)

    def report(self, rule: Rule, run: AutomationRun, job: JobInfo) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/"}.get(run.repo_type, "")
        return self._templates.render(
            "run_job_report",
            rule=rule.name,
            repo=run.repo,
            repo_type=run.repo_type,
            repo_url=f"{self._endpoint}/{prefix}{run.repo}",
            revision=run.revision,
            stage=job.stage,
            duration=duration(job.seconds),
            job_url=job.web_url(self._endpoint),
            message=(job.message or "") if job.stage != "COMPLETED" else "",
        )

    async def _follow(self, job: JobInfo, patience: float) -> JobInfo:
        """Look at the Job, waiting longer each time, until it ends or `patience` runs out."""
        deadline = time.monotonic() + patience
        wait = self._following.first
        while not job.ended and time.monotonic() < deadline:
            await self._following.sleep(wait)
            wait = min(wait * 2, self._following.longest)
            job = await self._jobs.inspect(job.namespace, job.id)
        return job
