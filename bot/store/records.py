"""What the store keeps, as the rest of the bot sees it: plain data, no database in sight."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from bot.config import Settings
from bot.events import DiscussionRef, Mention

JobStatus = Literal["queued", "running", "done", "failed", "dead"]
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "failed", "done", "dead")
UNFINISHED = ("queued", "running", "failed")
EnqueueOutcome = Literal["queued", "duplicate", "full"]


@dataclass(frozen=True)
class Enqueue:
    """A mention to record: the Webhook-Id it came with, and the queue cap (None: no cap)."""

    mention: Mention
    webhook_id: str | None = None
    max_depth: int | None = None


@dataclass(frozen=True)
class Job:
    """A claimed job. `refused` is set when the claim itself gave it up (a reply limit), so the
    caller only reports it."""

    id: int
    mention: Mention
    attempts: int
    round: int = 0
    refused: str | None = None


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


@dataclass(frozen=True)
class JobSummary:
    id: int
    comment_id: str
    discussion: str
    status: str
    attempts: int
    round: int
    reply_id: str | None
    reason: str | None
    created_at: float
    updated_at: float
    not_before: float  # for a failed job, when it is tried again
    private: bool  # its repo's name is never shown
    reply_text: str | None  # what was posted

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
    outcome: str
    reason: str | None
    job_id: int | None
    job_status: str | None = None  # what became of its job since


@dataclass(frozen=True)
class Limits:
    """Replies allowed per discussion per hour, per author per hour, and per day (0: none)."""

    per_discussion_hour: int = 0
    per_author_hour: int = 0
    per_day: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.replies_per_discussion_hour,
            settings.replies_per_author_hour,
            settings.replies_per_day,
        )

    def __bool__(self) -> bool:
        return bool(self.per_discussion_hour or self.per_author_hour or self.per_day)


def dump_mention(mention: Mention) -> str:
    return json.dumps(asdict(mention), separators=(",", ":"))


def load_mention(text: str) -> Mention:
    data = json.loads(text)
    data["where"] = DiscussionRef(**data["where"])
    known = Mention.__dataclass_fields__
    return Mention(**{key: value for key, value in data.items() if key in known})
