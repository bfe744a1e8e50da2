"""The Hub's webhook payload (version 3) as types.

Unknown keys are tolerated, and unknown scopes, actions and versions are ignored rather than
refused: any answer but a 2xx makes the Hub retry and, in time, suspend the webhook. So the
payload is read in two steps: the event first, and only for a new comment (the one thing the
bot acts on) the repo, discussion and comment; and names are held to the Hub's rules only
when the bot is about to act on them (`mention_of`).

Decoding is msgspec's, straight from the body's bytes into frozen structs: one pass checks the
whole document's syntax and keeps the top-level parts as raw JSON, and only the parts the
decision needs are then decoded into types. Types are strict (no "4" for 4, no 1 for true).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

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


class NotJSON(ValueError):
    """The body is not UTF-8 JSON."""


class Event(msgspec.Struct, frozen=True):
    action: str
    scope: str


class Author(msgspec.Struct, frozen=True):
    id: str


class Repo(msgspec.Struct, frozen=True):
    type: str
    name: str
    private: bool = False


class Discussion(msgspec.Struct, frozen=True):
    num: Annotated[int, msgspec.Meta(ge=1)]
    title: str = ""
    status: str = "open"
    is_pull_request: bool = msgspec.field(default=False, name="isPullRequest")


class Comment(msgspec.Struct, frozen=True):
    id: str
    author: Author
    content: str | None = None
    hidden: bool = False


class Payload(msgspec.Struct, frozen=True):
    """A new comment (or a new discussion's opening post): what the bot may act on."""

    event: Event
    repo: Repo
    discussion: Discussion
    comment: Comment


class _Webhook(msgspec.Struct):
    version: Any = None


class _Parts(msgspec.Struct):
    """The top level of a payload, each part kept as raw JSON until it is needed (an empty Raw
    when the part is absent). Decoding into it checks the syntax of the whole document."""

    event: msgspec.Raw = msgspec.Raw()
    webhook: msgspec.Raw = msgspec.Raw()
    repo: msgspec.Raw = msgspec.Raw()
    discussion: msgspec.Raw = msgspec.Raw()
    comment: msgspec.Raw = msgspec.Raw()


_PARTS = msgspec.json.Decoder(_Parts)
_ANY = msgspec.json.Decoder()
_WEBHOOK = msgspec.json.Decoder(_Webhook)
_EVENT = msgspec.json.Decoder(Event)
_REPO = msgspec.json.Decoder(Repo)
_DISCUSSION = msgspec.json.Decoder(Discussion)
_COMMENT = msgspec.json.Decoder(Comment)


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
    """Why an authentic delivery gets no reply: a sentence, and a short code for metrics.
    `event` ("scope/action") is set when the payload was set aside before a Payload was read,
    for the delivery log."""

    reason: str
    code: str = "other"
    event: str | None = None


def decode_payload(body: bytes) -> Payload | Ignore:
    """A new comment's payload, or why the delivery carries nothing to answer. Raises NotJSON
    when the body is not UTF-8 JSON, and PayloadError naming the field when the event, or a
    new comment's parts, have the wrong shape."""
    try:
        if not body.isascii():
            body.decode()  # msgspec checks the UTF-8 of the strings it decodes, not of the rest
        parts = _PARTS.decode(body)
    except msgspec.ValidationError as exc:  # not an object: the rest is unread, check it too
        _check_syntax(body)
        raise PayloadError(_describe(exc, "body")) from None
    except (UnicodeDecodeError, msgspec.DecodeError, RecursionError):
        raise NotJSON("body is not valid UTF-8 JSON") from None
    version = _version(parts.webhook)
    if version is not None and version != SUPPORTED_VERSION:
        reason = f"payload version {str(version)[:20]!r} is not supported"
        return Ignore(reason, "version", _event_name(parts.event))
    event = _part(_EVENT, parts.event, "event")
    name = f"{event.scope}/{event.action}"[:100]
    scope, action = normalize_scope(event.scope, event.action)
    if scope not in COMMENT_SCOPES:
        return Ignore(f"scope {event.scope[:60]!r} carries no comment", "scope", name)
    if action != "create":
        reason = f"action {event.action[:30]!r}: only new comments are answered"
        return Ignore(reason, "action", name)
    return Payload(
        event,
        _part(_REPO, parts.repo, "repo"),
        _part(_DISCUSSION, parts.discussion, "discussion"),
        _part(_COMMENT, parts.comment, "comment"),
    )


def parse_payload(raw: Any) -> Payload | Ignore:
    """`decode_payload` for JSON already decoded (a file, an environment variable)."""
    try:
        body = msgspec.json.encode(raw)
    except (msgspec.EncodeError, TypeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"body: cannot be read as JSON ({exc})") from None
    return decode_payload(body)


def _check_syntax(body: bytes) -> None:
    try:
        _ANY.decode(body)
    except msgspec.ValidationError:  # valid JSON with a number beyond a float's range
        pass
    except (msgspec.DecodeError, RecursionError):
        raise NotJSON("body is not valid UTF-8 JSON") from None


def _version(raw: msgspec.Raw) -> Any:
    """The payload's version, or None when there is no `webhook` object to say it."""
    if not raw:
        return None
    try:
        return _WEBHOOK.decode(raw).version
    except msgspec.ValidationError:
        return None


def _event_name(raw: msgspec.Raw) -> str | None:
    try:
        event = _EVENT.decode(raw) if raw else None
    except msgspec.ValidationError:
        return None
    return f"{event.scope}/{event.action}"[:100] if event else None


def _part(decoder: msgspec.json.Decoder[Any], raw: msgspec.Raw, name: str) -> Any:
    if not raw:
        raise PayloadError(f"{name}: field required")
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise PayloadError(_describe(exc, name)) from None


_MISSING = re.compile(r"Object missing required field `(.+)`")


def _describe(exc: msgspec.ValidationError, part: str) -> str:
    """msgspec's message, as "field.path: what is wrong"."""
    message, _, where = str(exc).partition(" - at `$")
    field = part + where.rstrip("`")
    if missing := _MISSING.fullmatch(message):
        field, message = f"{field}.{missing[1]}", "field required"
    return f"{field}: {message[:1].lower()}{message[1:]}"


def normalize_scope(scope: str, action: str) -> tuple[str, str]:
    """An unknown sub-scope (`a.b.c`) is an update of its known parent, as the Hub advises."""
    for known in _KNOWN_SCOPES:
        if scope == known:
            return scope, action
        if scope.startswith(known + "."):
            return known, "update"
    return scope, action


def mention_of(payload: Payload, text: str, undecided: bool = False, delivery: str = "") -> Mention:
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
        delivery=delivery,
        undecided=undecided,
    )
