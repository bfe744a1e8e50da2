"""Turning what a model wrote into something fit to post on a public discussion.

A model can run on into an invented next turn, ramble, echo the bot's own handle (which would
look like a mention of itself), ping people nobody asked it to ping, copy a hidden marker or
leak a token it saw. Each of those is undone here; what is left may be empty, and then nothing
is posted.

Mentions are defused wherever they stand: any `@`, or a character that reads as one (NFKC
folds the full-width and small forms to `@`), directly before a character that can start a
handle gets a zero-width space after it. Markers are removed until none is left, so one
cannot be assembled from the pieces of another.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.redact import Redactor

ZERO_WIDTH_SPACE = "\u200b"
AT_SIGNS = "@\ufe6b\uff20"  # every character whose NFKC form is "@" (a test keeps this true)
_MARKER = re.compile(r"<!--\s*hub-discussion-bot\b.*?-->", re.DOTALL)
_MENTION = re.compile(rf"[{AT_SIGNS}](?=\w)")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")


@dataclass(frozen=True)
class CleanRules:
    bot_handle: str
    max_chars: int = 2000
    allow_mentions: bool = False
    redact: Callable[[str], str] = field(default_factory=Redactor)
    turn_names: tuple[str, ...] = ("User",)


def clean(text: str, rules: CleanRules) -> str:
    text = cut_at_next_turn(text, (*rules.turn_names, rules.bot_handle))
    text = without_markers(text)
    text = rules.redact(text)
    text = defuse_mentions(text, rules.bot_handle, rules.allow_mentions)
    return shorten(text.strip(), rules.max_chars)


def without_markers(text: str) -> str:
    while (removed := _MARKER.sub("", text)) != text:
        text = removed
    return text


def defuse_mentions(text: str, bot_handle: str, allow_mentions: bool = False) -> str:
    # Never mention itself, even when mentions are allowed: that could start a conversation
    # with itself. The handle stays, without its @.
    own = re.compile(rf"[{AT_SIGNS}]({re.escape(bot_handle)})(?![\w-]|\.\w)", re.IGNORECASE)
    text = own.sub(r"\1", text)
    return text if allow_mentions else _MENTION.sub(rf"\g<0>{ZERO_WIDTH_SPACE}", text)


def cut_at_next_turn(text: str, names: tuple[str, ...]) -> str:
    """Everything before the first line that starts a new `Name:` turn of the transcript."""
    alternatives = "|".join(re.escape(name) for name in names if name)
    turn = re.compile(rf"^[ \t]*@?(?:{alternatives})[ \t]*:", re.IGNORECASE | re.MULTILINE)
    found = turn.search(text)
    return text[: found.start()] if found else text


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a paragraph, else a sentence, else a word."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    paragraph = head.rfind("\n\n")
    if paragraph >= limit // 2:
        return head[:paragraph].rstrip()
    sentences = list(_SENTENCE_END.finditer(head + " "))
    if sentences and sentences[-1].end() >= limit // 2:
        return head[: sentences[-1].end()].rstrip()
    word = head.rfind(" ")
    return (head[:word] if word > 0 else head[: limit - 1]).rstrip() + "…"
