"""Turning what a model wrote into something fit to post on a public discussion.

A model can run on into an invented next turn, ramble, echo the bot's own handle (which would
look like a mention of itself), ping people nobody asked it to ping, copy a hidden marker or
leak a token it saw. Each of those is undone here; what is left may be empty, and then nothing
is posted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ZERO_WIDTH_SPACE = "\u200b"
REDACTED = "[redacted]"
_MARKER = re.compile(r"<!--\s*hub-discussion-bot\b.*?-->", re.DOTALL)
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")
_MENTION = re.compile(r"(?<![\w@.\-/])@(?=[A-Za-z0-9])([A-Za-z0-9][\w.-]*)")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")


@dataclass(frozen=True)
class CleanRules:
    bot_handle: str
    max_chars: int = 2000
    allow_mentions: bool = False
    secrets: tuple[str, ...] = ()
    turn_names: tuple[str, ...] = ("User",)


def clean(text: str, rules: CleanRules) -> str:
    text = cut_at_next_turn(text, (*rules.turn_names, rules.bot_handle))
    text = _MARKER.sub("", text)
    for secret in rules.secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _HF_TOKEN.sub(REDACTED, text)
    text = _MENTION.sub(lambda m: _defuse(m, rules), text)
    return shorten(text.strip(), rules.max_chars)


def cut_at_next_turn(text: str, names: tuple[str, ...]) -> str:
    """Everything before the first line that starts a new `Name:` turn of the transcript."""
    alternatives = "|".join(re.escape(name) for name in names if name)
    turn = re.compile(rf"^[ \t]*@?(?:{alternatives})[ \t]*:", re.IGNORECASE | re.MULTILINE)
    found = turn.search(text)
    return text[: found.start()] if found else text


def _defuse(match: re.Match[str], rules: CleanRules) -> str:
    name = match.group(1)
    if name.lower() == rules.bot_handle.lower():
        return name  # never mention itself: that could start a conversation with itself
    return match.group(0) if rules.allow_mentions else f"@{ZERO_WIDTH_SPACE}{name}"


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
