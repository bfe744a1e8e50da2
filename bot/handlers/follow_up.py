"""Whether a comment without a mention is a follow-up the bot should answer.

The delivery only said what its payload tells (follow-ups on, not the bot's own comment, no
@someone in it). The rest is decided here, from the discussion as the Hub shows it now, so a
new or lost store decides the same: the bot's last reply before the comment answered this very
person, less than FOLLOW_UP_HOURS before the comment was written, nobody else wrote in between,
the comment is not a bot's, and the discussion has had fewer than FOLLOW_UP_TURNS follow-ups.
A follow-up reply carries FOLLOW_UP_MARK, so the Hub itself keeps the count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.answer.thread import ThreadComment

FOLLOW_UP_MARK = "<!-- hub-discussion-bot follow-up -->"
_REPLY_TO = re.compile(r"<!-- hub-discussion-bot reply-to:([A-Za-z0-9]+)")
# Account names that say "bot" (`some-bot`, `helper_bot`, `x[bot]`), and comments carrying a
# discussion bot's marker: answering them starts the loops people complain about.
_BOT_NAME = re.compile(r"(?:^|[-_.])bot$|\[bot\]$|^bot[-_]", re.IGNORECASE)


@dataclass(frozen=True)
class FollowUpRules:
    hours: float = 24.0
    turns: int = 3


def looks_like_a_bot(comment: ThreadComment) -> bool:
    return bool(_BOT_NAME.search(comment.author)) or "<!-- hub-discussion-bot" in comment.text


def why_not_a_follow_up(
    comments: list[ThreadComment], comment_id: str, rules: FollowUpRules
) -> str | None:
    """None when the comment is a follow-up to answer; otherwise why it is not, in words."""
    index = next((n for n, c in enumerate(comments) if c.id == comment_id), None)
    if index is None:
        return "the comment is not in the discussion the Hub shows"
    comment = comments[index]
    if comment.by_bot or looks_like_a_bot(comment):
        return "the comment looks like a bot's"
    before = comments[:index]
    last = next((n for n in range(len(before) - 1, -1, -1) if _is_reply(before[n])), None)
    if last is None:
        return "the bot has not answered anyone before it in this discussion"
    reply = before[last]
    answered = _answered(comments, reply)
    if answered is None or not comment.author_id or answered.author_id != comment.author_id:
        return "the bot's last reply answered someone else"
    if any(not c.by_bot and c.author_id != comment.author_id for c in before[last + 1 :]):
        return "someone else wrote after the bot's last reply"
    written = comment.created_at or datetime.now(UTC)
    if reply.created_at is None or written - reply.created_at > timedelta(hours=rules.hours):
        return f"more than {rules.hours:g} hours after the bot's last reply"
    done = sum(1 for c in comments if c.by_bot and FOLLOW_UP_MARK in c.text)
    if done >= rules.turns:
        return f"this discussion has had its {rules.turns} follow-ups (FOLLOW_UP_TURNS)"
    return None


def _is_reply(comment: ThreadComment) -> bool:
    return comment.by_bot and _REPLY_TO.search(comment.text) is not None


def _answered(comments: list[ThreadComment], reply: ThreadComment) -> ThreadComment | None:
    found = _REPLY_TO.search(reply.text)
    wanted = found.group(1) if found else None
    return next((c for c in comments if c.id == wanted), None)
