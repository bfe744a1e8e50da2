"""What the store keeps, as the rest of the bot sees it: plain data, no database in sight.

The states are enums whose values are what the database and JSON hold; each set of them that a
rule needs (unfinished, finished, ...) is named once here, and the SQL is built from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum

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
class Job:
    """A claimed job. `refused` is set when the claim itself gave it up (a reply limit), so the
    caller only reports it."""

    id: int
    mention: Mention
    attempts: int
    round: int = 0
    refused: str | None = None
    kind: JobKind = JobKind.MENTION


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
    def shown_discussion(self) -> str:
        """`ns/name #4`, as people name a discussion (its type is in the link)."""
        where, _, num = self.discussion.partition("#")
        return f"{where.partition('/')[2]} #{num}"

    def web_url(self, endpoint: str) -> str | None:
        """The discussion on the Hub (at the reply, once posted); None for a private repo."""
        if self.private:
            return None
        where, _, num = self.discussion.partition("#")
        kind, _, repo = where.partition("/")
        prefix = {"datasets": "datasets/", "spaces": "spaces/"}.get(kind, "")
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
    return json.dumps(asdict(mention), separators=(",", ":"))


def load_mention(text: str) -> Mention:
    data = json.loads(text)
    data["where"] = DiscussionRef(**data["where"])
    known = Mention.__dataclass_fields__
    return Mention(**{key: value for key, value in data.items() if key in known})
