"""What the model sees of a discussion: its earlier comments, read from the Hub's events.

Only what was there when the triggering comment was written counts: later comments, and
earlier ones edited afterwards, are left out, so nobody can steer a reply by editing the thread
after mentioning the bot. Hidden comments are left out too. The newest comments that fit the
budget are kept, then given oldest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_ANY_MARKER = re.compile(r"\s*<!-- hub-discussion-bot [^>]*-->\s*")


@dataclass(frozen=True)
class ThreadComment:
    id: str
    author: str
    text: str
    by_bot: bool
    created_at: datetime | None
    updated_at: datetime | None
    hidden: bool


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
        author_id = author.get("_id") if isinstance(author, dict) else None
        data = event.get("data")
        latest = data.get("latest") if isinstance(data, dict) else None
        raw = latest.get("raw") if isinstance(latest, dict) else None
        if not isinstance(name, str) or not isinstance(raw, str):
            continue
        comments.append(
            ThreadComment(
                id=str(event.get("id", "")),
                author=name,
                text=raw,
                by_bot=author_id == bot_id,
                created_at=_time(event.get("createdAt")),
                updated_at=_time(latest.get("updatedAt")) if isinstance(latest, dict) else None,
                hidden=bool(data.get("hidden")) if isinstance(data, dict) else False,
            )
        )
    return comments


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
