"""What the store keeps, as the rest of the bot sees it: plain data, no database in sight.

The states are enums whose values are what the database and JSON hold; each set of them that a
rule needs (unfinished, finished, ...) is named once here, and the SQL is built from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import msgspec

from bot.events import DiscussionRef, Mention


class JobStatus(StrEnum):
    """queued -> running (under a lease) -> done, or failed (tried again) -> dead."""

    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"
    DONE = "done"
    DEAD = "dead"


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)  # the queue's depth
FINISHED = (JobStatus.DONE, JobStatus.DEAD)  # kept for the retention period, then pruned
WAITING = (JobStatus.QUEUED, JobStatus.FAILED)  # claimable once their time has come
REPLAYABLE = (JobStatus.FAILED, JobStatus.DEAD)  # queued again when the Hub delivers them again


class JobKind(StrEnum):
    """What a job does, and so which handler runs it."""

    MENTION = "mention"  # answer a comment that mentions the bot
    AUTOMATION = "automation"  # run an automation rule on a repo event (bot.automations)
    FOLLOW_UP = "follow_up"  # a comment without a mention, perhaps a follow-up to a reply


class EnqueueOutcome(StrEnum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"
    FULL = "full"


class DeliveryOutcome(StrEnum):
    """What became of a delivery, as the delivery log and the metrics name it."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    FULL = "full"
    UNRECORDED = "unrecorded"  # the store could not take it: 503, and the Hub sends it again
    MALFORMED = "malformed"
    UNAUTHORISED = "unauthorised"


@dataclass(frozen=True)
class Enqueue:
    """A mention to record: the Webhook-Id it came with, the queue cap (None: no cap), and
    the kind of job it makes."""

    mention: Mention
    webhook_id: str | None = None
    max_depth: int | None = None
    kind: JobKind = JobKind.MENTION


@dataclass(frozen=True)
class AutomationRun:
    """One rule to run on one repo at one revision: the facts of the event, kept with the job.
    `key` is unique per (rule, repo, revision), so a replay finds the job it already made."""

    rule: str
    repo_type: str
    repo: str
    revision: str  # the new sha of a push; `pr-<num>` for a new pull request
    event: str  # push | pull_request
    private: bool = False
    refs: tuple[tuple[str, str | None, str | None], ...] = ()  # (ref, oldSha, newSha)
    pull_request: int = 0
    max_per_day: int = 10
    delivery: str = ""

    @property
    def key(self) -> str:
        return f"auto:{self.rule}:{self.repo_type}s/{self.repo}@{self.revision}"

    @property
    def author(self) -> str:
        """What the rule's runs are counted by (`max_per_day`)."""
        return f"rule:{self.rule}"


@dataclass(frozen=True)
class Job:
    """A claimed job. `refused` is set when the claim itself gave it up (a reply limit), so the
    caller only reports it. An automation job carries its run; its `mention` only names it."""

    id: int
    mention: Mention
    attempts: int
    round: int = 0
    refused: str | None = None
    kind: JobKind = JobKind.MENTION
    automation: AutomationRun | None = None
    # Seconds since an earlier attempt began posting its reply (database clock); None if none.
    posting_age: float | None = None


@dataclass(frozen=True)
class EnqueueAutomation:
    """An automation run to record (the Enqueue of automation jobs)."""

    run: AutomationRun
    webhook_id: str | None = None


@dataclass(frozen=True)
class JobRecord:
    """A job as an operator sees it."""

    id: int
    comment_id: str
    discussion_key: str
    status: JobStatus
    attempts: int
    reply_id: str | None
    reason: str | None
    kind: JobKind = JobKind.MENTION


@dataclass(frozen=True)
class JobSummary:
    id: int
    comment_id: str
    discussion: str
    status: JobStatus
    attempts: int
    round: int
    reply_id: str | None
    reason: str | None
    created_at: float
    updated_at: float
    not_before: float  # for a failed job, when it is tried again
    private: bool  # its repo's name is never shown
    reply_text: str | None  # what was posted
    kind: JobKind = JobKind.MENTION
    sources: list[str] = field(default_factory=list)  # labels of what the reply was built on

    @property
    def shown_kind(self) -> str:
        """mention, follow-up, automation, or the command a mention ran (`command summarize`:
        the handler's reason names it first)."""
        if self.kind is JobKind.MENTION and (self.reason or "").startswith("command "):
            return " ".join((self.reason or "").split(":", 1)[0].split()[:2])
        return self.kind.value.replace("_", "-")

    @property
    def shown_discussion(self) -> str:
        """`ns/name #4`, as people name a discussion (its type is in the link); for an
        automation, `rule: ns/name`."""
        where, _, num = self.discussion.partition("#")
        if self.kind is JobKind.AUTOMATION:
            return f"{self.comment_id.split(':')[1]}: {where.partition('/')[2]}"
        return f"{where.partition('/')[2]} #{num}"

    def web_url(self, endpoint: str) -> str | None:
        """The discussion on the Hub (at the reply, once posted); None for a private repo. An
        automation's link is the repo that changed."""
        if self.private:
            return None
        where, _, num = self.discussion.partition("#")
        kind, _, repo = where.partition("/")
        prefix = {"datasets": "datasets/", "spaces": "spaces/"}.get(kind, "")
        if self.kind is JobKind.AUTOMATION:
            return f"{endpoint}/{prefix}{repo}"
        anchor = f"#{self.reply_id}" if self.reply_id else ""
        return f"{endpoint}/{prefix}{repo}/discussions/{num}{anchor}"


@dataclass(frozen=True)
class DeliveryRecord:
    received_at: float
    delivery: str
    event: str | None
    repo: str | None
    status: int
    outcome: str  # a DeliveryOutcome's value, or one an older version wrote
    reason: str | None
    job_id: int | None
    job_status: JobStatus | None = None  # what became of its job since


@dataclass(frozen=True)
class Limits:
    """Replies allowed per discussion per hour, per author per hour, and per day (0: none)."""

    per_discussion_hour: int = 0
    per_author_hour: int = 0
    per_day: int = 0

    def __bool__(self) -> bool:
        return bool(self.per_discussion_hour or self.per_author_hour or self.per_day)


def dump_mention(mention: Mention) -> str:
    # msgspec writes what json.dumps(asdict(...)) wrote, forty times faster: this runs for
    # every mention recorded, on the path to its 202.
    return msgspec.json.encode(mention).decode()


def load_mention(text: str) -> Mention:
    data = json.loads(text)
    data["where"] = DiscussionRef(**data["where"])
    known = Mention.__dataclass_fields__
    return Mention(**{key: value for key, value in data.items() if key in known})


def dump_run(run: AutomationRun) -> str:
    return json.dumps(asdict(run), separators=(",", ":"))


def load_run(text: str) -> AutomationRun:
    data = json.loads(text)
    data["refs"] = tuple(tuple(ref) for ref in data.get("refs", ()))
    known = AutomationRun.__dataclass_fields__
    return AutomationRun(**{key: value for key, value in data.items() if key in known})


def run_as_mention(run: AutomationRun) -> Mention:
    """What the jobs table's mention columns hold for an automation job: its key, its rule (as
    the author, so a rule's runs can be counted) and its repo (number 0: no discussion)."""
    return Mention(
        comment_id=run.key,
        author_id=run.author,
        text="",
        where=DiscussionRef(run.repo_type, run.repo, 0),
        title=run.rule,
        is_pull_request=run.event == "pull_request",
        repo_private=run.private,
        delivery=run.delivery,
    )
