"""The Hub's webhook payload (version 3) as types, and the decision: reply, or ignore and why.

Unknown keys are tolerated, and unknown scopes, actions and versions are ignored rather than
refused: a refusal makes the Hub retry and, in time, suspend the webhook.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SUPPORTED_VERSION = 3
REPO_TYPES = ("model", "dataset", "space")
_KNOWN_SCOPES = ("discussion.comment", "discussion", "repo.content", "repo.config", "repo")
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_NAME = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")
_HUB_ID = re.compile(r"[A-Za-z0-9]{1,64}")


class PayloadError(ValueError):
    """The body is JSON but not a payload we can read; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class Event(_Strict):
    action: str
    scope: str


class Author(_Strict):
    id: str


class Repo(_Strict):
    type: str
    name: str
    private: bool = False

    @field_validator("name")
    @classmethod
    def _repo_name(cls, name: str) -> str:
        if not _REPO_NAME.fullmatch(name) or ".." in name:
            raise ValueError("not a Hub repo name (expected 'namespace/name')")
        return name


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

    @field_validator("id")
    @classmethod
    def _hub_id(cls, value: str) -> str:
        if not _HUB_ID.fullmatch(value):
            raise ValueError("not a Hub id (letters and digits)")
        return value


class Payload(_Strict):
    event: Event
    repo: Repo | None = None
    discussion: Discussion | None = None
    comment: Comment | None = None


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


@dataclass(frozen=True)
class Ignore:
    """Why an authentic delivery gets no reply: a sentence, and a short code for metrics."""

    reason: str
    code: str = "other"


def parse_payload(raw: Any) -> Payload | Ignore:
    """Validate decoded JSON; raise PayloadError naming the field when it has the wrong shape."""
    if not isinstance(raw, dict):
        raise PayloadError(f"body: expected a JSON object, got {type(raw).__name__}")
    webhook = raw.get("webhook")
    version = webhook.get("version") if isinstance(webhook, dict) else None
    if version is not None and version != SUPPORTED_VERSION:
        return Ignore(f"payload version {str(version)[:20]!r} is not supported", "version")
    try:
        return Payload.model_validate(raw)
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


class Decider:
    """Decides whether a payload is a mention of the bot that it should answer."""

    def __init__(self, bot: Identity) -> None:
        self.bot = bot
        # A whole handle: not part of an e-mail address, a longer name, or a dotted host.
        self._mention = re.compile(
            rf"(?<![\w@.-])@{re.escape(bot.handle)}(?![\w-]|\.\w)", re.IGNORECASE
        )

    def mentions_bot(self, markdown: str) -> bool:
        return bool(self._mention.search(_without_quotes_and_code(markdown)))

    def decide(self, payload: Payload) -> Mention | Ignore:
        scope, action = normalize_scope(payload.event.scope, payload.event.action)
        if scope not in ("discussion", "discussion.comment"):
            return Ignore(f"scope {payload.event.scope[:60]!r} carries no comment", "scope")
        if action != "create":
            return Ignore(
                f"action {payload.event.action[:30]!r}: only new comments are answered", "action"
            )
        repo, discussion, comment = payload.repo, payload.discussion, payload.comment
        if repo is None or discussion is None or comment is None:
            missing = "repo" if repo is None else "discussion" if discussion is None else "comment"
            raise PayloadError(f"{missing}: required for a {scope} create event")
        if comment.hidden:
            return Ignore("comment is hidden", "hidden")
        if comment.author.id == self.bot.id:
            return Ignore("comment was written by the bot itself", "own_comment")
        if repo.type not in REPO_TYPES:
            return Ignore(f"repo type {repo.type[:20]!r} is not supported", "repo_type")
        if not comment.content or not self.mentions_bot(comment.content):
            return Ignore("the bot is not mentioned", "no_mention")
        return mention_of(repo, discussion, comment, comment.content)


def mention_of(repo: Repo, discussion: Discussion, comment: Comment, text: str) -> Mention:
    """The parts of a payload a reply needs, received now."""
    return Mention(
        comment_id=comment.id,
        author_id=comment.author.id,
        text=text,
        where=DiscussionRef(repo.type, repo.name, discussion.num),
        title=discussion.title,
        is_pull_request=discussion.is_pull_request,
        repo_private=repo.private,
        discussion_status=discussion.status,
        received_at=time.time(),
    )


_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_QUOTE_LINE = re.compile(r"^\s*>.*$", re.MULTILINE)


def _without_quotes_and_code(markdown: str) -> str:
    # Quoting an earlier mention, or showing one in code, is not asking the bot anything.
    text = _FENCED.sub("", markdown)
    text = _INLINE_CODE.sub("", text)
    return _QUOTE_LINE.sub("", text)
