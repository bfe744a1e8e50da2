"""What the model sees of a discussion: its earlier comments, read from the Hub's events; and
what the discussion's details say about replying in it now (its status, whether it is locked).

Only what was there when the triggering comment was written counts: later comments, and
earlier ones edited afterwards, are left out, so nobody can steer a reply by editing the thread
after mentioning the bot. Hidden comments are left out too. The newest comments that fit the
budget are kept, then given oldest first. A comment whose author deleted their account has no
`author` on the Hub: it stays in the thread, written by "a deleted user".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_ANY_MARKER = re.compile(r"\s*<!-- hub-discussion-bot [^>]*-->\s*")
DELETED_USER = "a deleted user"


@dataclass(frozen=True)
class ThreadComment:
    id: str
    author: str
    text: str
    by_bot: bool
    created_at: datetime | None
    updated_at: datetime | None
    hidden: bool
    author_id: str = ""  # the account's id (`author._id`); "" for a deleted user
    # What the Hub says of the author relative to the repo: its owner, or a member of its org.
    is_owner: bool = False
    is_org_member: bool = False


@dataclass(frozen=True)
class DiscussionState:
    """What a discussion's details say about replying in it now."""

    status: str = "open"  # open, closed, merged or draft
    locked: bool = False  # the Hub refuses new comments (403)


def state_of(details: Any) -> DiscussionState:
    """The status and lock of a `GET .../discussions/{num}` answer; what is missing or
    malformed reads as open and unlocked (the POST is refused anyway if it is not)."""
    if not isinstance(details, dict):
        return DiscussionState()
    status = details.get("status")
    return DiscussionState(
        status if isinstance(status, str) else "open", details.get("locked") is True
    )


def parse_events(details: Any, bot_id: str) -> list[ThreadComment]:
    """The comment events of a `GET .../discussions/{num}` answer; anything malformed is skipped.
    The bot's own comments are those by its account id (`author._id`), whatever its name."""
    events = details.get("events") if isinstance(details, dict) else None
    comments = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict) or event.get("type") != "comment":
            continue
        author = event.get("author")
        name = author.get("name") if isinstance(author, dict) else None
        if author is None:  # the Hub leaves `author` out when the account was deleted
            name = DELETED_USER
        author_id = author.get("_id") if isinstance(author, dict) else None
        data = event.get("data")
        hidden = bool(data.get("hidden")) if isinstance(data, dict) else False
        latest = data.get("latest") if isinstance(data, dict) else None
        raw = latest.get("raw") if isinstance(latest, dict) else None
        if hidden and raw is None:
            raw = ""  # kept, text or not, so that a hidden trigger is known to be hidden
        if not isinstance(name, str) or not isinstance(raw, str):
            continue
        comments.append(
            ThreadComment(
                id=str(event.get("id", "")),
                author=name,
                text=raw,
                by_bot=author_id is not None and author_id == bot_id,
                created_at=_time(event.get("createdAt")),
                updated_at=_time(latest.get("updatedAt")) if isinstance(latest, dict) else None,
                hidden=hidden,
                author_id=author_id if isinstance(author_id, str) else "",
                is_owner=isinstance(author, dict) and author.get("isOwner") is True,
                is_org_member=isinstance(author, dict) and author.get("isOrgMember") is True,
            )
        )
    return comments


def is_hidden(comments: list[ThreadComment], comment_id: str) -> bool:
    """Whether that comment is hidden now (by a moderator or its author)."""
    return any(c.id == comment_id and c.hidden for c in comments)


def find_marked(comments: list[ThreadComment], marker: str) -> str | None:
    """The id of the bot's own comment carrying `marker`, if any."""
    for comment in comments:
        if comment.by_bot and marker in comment.text:
            return comment.id
    return None


def earlier_comments(
    comments: list[ThreadComment], trigger_id: str, fallback_cutoff: datetime, budget: int
) -> list[ThreadComment]:
    """The comments before the trigger, as they were then, newest first until `budget` chars."""
    trigger = next((c for c in comments if c.id == trigger_id), None)
    cutoff = trigger.created_at if trigger and trigger.created_at else fallback_cutoff
    before = comments[: comments.index(trigger)] if trigger else comments
    kept: list[ThreadComment] = []
    used = 0
    for comment in reversed(before):
        if comment.hidden or _after(comment.created_at, cutoff):
            continue
        if _after(comment.updated_at, cutoff):
            continue  # edited after the mention: what the author saw is gone
        text = _ANY_MARKER.sub("\n", comment.text).strip() if comment.by_bot else comment.text
        if used + len(text) > budget:
            break
        used += len(text)
        kept.append(ThreadComment(**{**comment.__dict__, "text": text}))
    return kept[::-1]


def trigger_author(comments: list[ThreadComment], trigger_id: str) -> str | None:
    return next((c.author for c in comments if c.id == trigger_id), None)


def _after(moment: datetime | None, cutoff: datetime) -> bool:
    return moment is not None and moment > cutoff


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
