"""The Hub's webhook payload (version 3) as types.

Unknown keys are tolerated, and unknown scopes, actions and versions are ignored rather than
refused: any answer but a 2xx makes the Hub retry and, in time, suspend the webhook. So the
payload is read in two steps: the event first, and only for a new comment (the one thing the
bot acts on) the repo, discussion and comment; and names are held to the Hub's rules only
when the bot is about to act on them (`mention_of`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SUPPORTED_VERSION = 3
REPO_TYPES = ("model", "dataset", "space")
COMMENT_SCOPES = ("discussion", "discussion.comment")
_KNOWN_SCOPES = ("discussion.comment", "discussion", "repo.content", "repo.config", "repo")
# huggingface_hub's repo id rules (utils/_validators.py): letters, digits, "_", "-" and ".",
# word characters at both ends, no "--" or "..", not ending in ".git"; the name 1-96 long.
_REPO_PART = r"\b[A-Za-z0-9_.-]{1,96}\b"
_REPO_NAME = re.compile(rf"(?:\b[A-Za-z0-9_.-]+\b/)?{_REPO_PART}")
_HUB_ID = re.compile(r"[A-Za-z0-9]{1,64}")


class PayloadError(ValueError):
    """The body is JSON but not a payload we can read; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


ModelT = TypeVar("ModelT", bound=_Strict)


class Event(_Strict):
    action: str
    scope: str


class Author(_Strict):
    id: str


class Repo(_Strict):
    type: str
    name: str
    private: bool = False


class Discussion(_Strict):
    num: int = Field(ge=1)
    title: str = ""
    status: str = "open"
    is_pull_request: bool = Field(default=False, alias="isPullRequest")


class Comment(_Strict):
    id: str
    author: Author
    content: str | None = None
    hidden: bool = False


class Envelope(_Strict):
    event: Event


class Payload(_Strict):
    """A new comment (or a new discussion's opening post): what the bot may act on."""

    event: Event
    repo: Repo
    discussion: Discussion
    comment: Comment


@dataclass(frozen=True)
class Identity:
    """The bot's account, from whoami: `id` marks its own comments, `name` its own replies in a
    thread; `handle` is what people mention (the name unless BOT_USERNAME says otherwise)."""

    id: str
    name: str
    handle: str = ""

    def __post_init__(self) -> None:
        if not self.handle:
            object.__setattr__(self, "handle", self.name)


@dataclass(frozen=True)
class DiscussionRef:
    """Where a reply goes; built only from checked payload fields."""

    repo_type: str
    repo_name: str
    num: int

    @property
    def key(self) -> str:
        return f"{self.repo_type}s/{self.repo_name}#{self.num}"


@dataclass(frozen=True)
class Mention:
    """A comment that is due a reply, with what the prompt needs to know about it."""

    comment_id: str
    author_id: str
    text: str
    where: DiscussionRef
    title: str
    is_pull_request: bool
    repo_private: bool
    discussion_status: str = "open"
    received_at: float = 0.0  # when the delivery arrived: the cutoff for thread context
    delivery: str = ""  # the delivery's id, so log lines about the job can be traced to it
    # Recorded while the bot did not know its own name: whether it is mentioned at all is
    # decided when the job runs.
    undecided: bool = False


@dataclass(frozen=True)
class Ignore:
    """Why an authentic delivery gets no reply: a sentence, and a short code for metrics."""

    reason: str
    code: str = "other"


def parse_payload(raw: Any) -> Payload | Ignore:
    """A new comment's payload, or why the delivery carries nothing to answer. Raises
    PayloadError naming the field when the event, or a new comment's parts, have the wrong
    shape."""
    if not isinstance(raw, dict):
        raise PayloadError(f"body: expected a JSON object, got {type(raw).__name__}")
    webhook = raw.get("webhook")
    version = webhook.get("version") if isinstance(webhook, dict) else None
    if version is not None and version != SUPPORTED_VERSION:
        return Ignore(f"payload version {str(version)[:20]!r} is not supported", "version")
    event = _validated(Envelope, raw).event
    scope, action = normalize_scope(event.scope, event.action)
    if scope not in COMMENT_SCOPES:
        return Ignore(f"scope {event.scope[:60]!r} carries no comment", "scope")
    if action != "create":
        return Ignore(f"action {event.action[:30]!r}: only new comments are answered", "action")
    return _validated(Payload, raw)


def _validated(model: type[ModelT], raw: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        field = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{field}: {error['msg']}")
    return "; ".join(problems)


def normalize_scope(scope: str, action: str) -> tuple[str, str]:
    """An unknown sub-scope (`a.b.c`) is an update of its known parent, as the Hub advises."""
    for known in _KNOWN_SCOPES:
        if scope == known:
            return scope, action
        if scope.startswith(known + "."):
            return known, "update"
    return scope, action


def mention_of(payload: Payload, text: str, undecided: bool = False) -> Mention:
    """The parts of a payload a reply needs, received now. The repo name and comment id are
    held to the Hub's rules here, since they become a URL: PayloadError otherwise."""
    repo, discussion, comment = payload.repo, payload.discussion, payload.comment
    name = repo.name
    if not _REPO_NAME.fullmatch(name) or "--" in name or ".." in name or name.endswith(".git"):
        raise PayloadError("repo.name: not a Hub repo name (expected 'namespace/name')")
    if not _HUB_ID.fullmatch(comment.id):
        raise PayloadError("comment.id: not a Hub id (letters and digits)")
    return Mention(
        comment_id=comment.id,
        author_id=comment.author.id,
        text=text,
        where=DiscussionRef(repo.type, name, discussion.num),
        title=discussion.title,
        is_pull_request=discussion.is_pull_request,
        repo_private=repo.private,
        discussion_status=discussion.status,
        received_at=time.time(),
        undecided=undecided,
    )
