"""Turning what a model wrote into something fit to post on a public discussion.

A model can run on into an invented next turn, ramble, echo the bot's own handle (which would
look like a mention of itself), ping people nobody asked it to ping, copy a hidden marker or
leak a token it saw. Each of those is undone here; what is left may be empty, and then nothing
is posted.

What is posted cannot hide the footer the bot adds after it, nor reach out of the page:
raw HTML is shown as text (an unclosed `<!--` or `<details>` would swallow the footer), an
unclosed code fence is closed, a link to a `javascript:` (or any scheme but http, https and
mailto) goes nowhere, and an image from outside the Hub is shown as a link, not embedded (it
would tell its host who reads the discussion). Code inside fences is left as written.

Mentions are defused wherever they stand: any `@`, or a character that reads as one (NFKC
folds the full-width and small forms to `@`), directly before a character that can start a
handle gets a zero-width space after it. Markers are removed until none is left, so one
cannot be assembled from the pieces of another.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.redact import Redactor

ZERO_WIDTH_SPACE = "\u200b"
AT_SIGNS = "@\ufe6b\uff20"  # every character whose NFKC form is "@" (a test keeps this true)
_MARKER = re.compile(r"<!--\s*hub-discussion-bot\b.*?-->", re.DOTALL)
_MENTION = re.compile(rf"[{AT_SIGNS}](?=\w)")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_RAW_HTML = re.compile(r"<(?=[A-Za-z/!?])")  # a tag, a comment, a declaration, an autolink
_IMAGE = re.compile(r"!\[(?:[^\]\n]*\]\(\s*<?(?P<url>[^\s)>]*))?")
_LINK_TARGET = re.compile(r"(?P<lead>\]\(\s*<?|^ {0,3}\[[^\]\n]+\]:\s*<?)(?P<url>[^\s)>]*)", re.M)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")
_UNSEEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\]")  # what browsers drop from a URL, and escapes
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
HUB_HOSTS = ("huggingface.co", "hf.co")


@dataclass(frozen=True)
class CleanRules:
    bot_handle: str
    max_chars: int = 2000
    allow_mentions: bool = False
    redact: Callable[[str], str] = field(default_factory=Redactor)
    turn_names: tuple[str, ...] = ("User",)
    image_hosts: tuple[str, ...] = HUB_HOSTS  # and their subdomains


def clean(text: str, rules: CleanRules) -> str:
    text = cut_at_next_turn(text, (*rules.turn_names, rules.bot_handle))
    text = without_markers(text)
    text = rules.redact(text)
    text = defuse_mentions(text, rules.bot_handle, rules.allow_mentions)
    return safe_markdown(shorten(text.strip(), rules.max_chars), rules.image_hosts)


def safe_markdown(text: str, image_hosts: tuple[str, ...] = HUB_HOSTS) -> str:
    """Markdown that ends where it seems to: every fence closed, no raw HTML, no link that runs
    code, no image from outside `image_hosts`. Fenced code is kept as written."""
    done: list[str] = []
    prose: list[str] = []
    fence: tuple[str, int, int] | None = None  # the open fence: its character, length, indent
    for line in text.split("\n"):
        if fence is None:
            opened = _FENCE.match(line)
            if opened is None or (opened["fence"][0] == "`" and "`" in opened["info"]):
                prose.append(line)
                continue
            if prose:
                done.append(_safe_prose("\n".join(prose), image_hosts))
            prose = []
            fence = (opened["fence"][0], len(opened["fence"]), len(opened["indent"]))
            done.append(line)
            continue
        char, length, indent = fence
        if line.strip() and _columns(line) < indent:
            # Indented as far as the opening fence: the same code if the fence is at the top
            # level, and still inside the list item if it is in one (where a line indented
            # less would end the item, and a later fence would open a block of its own).
            line = " " * indent + line.lstrip(" ")
        closing = _FENCE.match(line)
        if closing and closing["fence"][0] == char and len(closing["fence"]) >= length:
            fence = fence if closing["info"].strip() else None  # a closer has no info string
        done.append(line)
    if prose:
        done.append(_safe_prose("\n".join(prose), image_hosts))
    if fence is not None:
        char, length, indent = fence
        done.append(" " * indent + char * length)
    return "\n".join(done)


def _columns(line: str) -> int:
    """How far a line is indented, a tab reaching the next multiple of four as in CommonMark."""
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(4))


def _safe_prose(text: str, image_hosts: tuple[str, ...]) -> str:
    text = _RAW_HTML.sub(f"<{ZERO_WIDTH_SPACE}", text)
    text = _IMAGE.sub(lambda found: _image(found, image_hosts), text)
    return _LINK_TARGET.sub(_link_target, text)


def _image(found: re.Match[str], image_hosts: tuple[str, ...]) -> str:
    """An inline image from the Hub stays; any other becomes a link (`!` and `[` kept apart)."""
    url = found["url"]
    if url is not None and _on_hosts(_as_browsers_read(url), image_hosts):
        return found.group(0)
    return f"!{ZERO_WIDTH_SPACE}{found.group(0)[1:]}"


def _link_target(found: re.Match[str]) -> str:
    scheme = _SCHEME.match(_as_browsers_read(found["url"]).lower())
    if scheme and scheme.group(0)[:-1] not in SAFE_SCHEMES:
        return f"{found['lead']}#"  # a link that goes nowhere, its text still shown
    return found.group(0)


def _as_browsers_read(url: str) -> str:
    """A link's target as a browser follows it: entities decoded, escapes, whitespace and
    control characters dropped."""
    return _UNSEEN.sub("", html.unescape(url))


def _on_hosts(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc and not url.startswith("/" * 2):
        return True  # relative: served by the Hub itself
    host = (parts.hostname or "").lower()
    allowed = parts.scheme in ("http", "https")
    return allowed and any(host == h or host.endswith(f".{h}") for h in hosts)


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
