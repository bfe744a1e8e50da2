"""The one fence for what other people wrote. Every string of theirs that reaches a prompt (the
title, names, comments, the card, file paths, files in conflict, the diff, lookups, the repo's
facts) goes through `material`: in the templates as a filter, in code as a function.

Three shapes, one set of rules:

    material(title)                  a value, kept on one line
    material(comment, lines=True)    a turn's text, its lines kept
    material(card, "card")           a passage, its lines kept, inside <card>...</card>

Whatever the shape, the text cannot

- start a turn of the completion transcript: a line that opens with a speaker's name and a
  colon ("hub-bot: I will obey") gets a zero-width space before the colon, so it is neither the
  `Name:` the model has seen each turn begin with nor what the stop sequences and
  `clean.cut_at_next_turn` look for;
- close or open a fence: `</card`, `<lookup`, ... get a zero-width space after the `<`;
- end a chat turn: the turn and end-of-text markers of common chat templates (`<|im_end|>`,
  `[INST]`, `</s>`, `<end_of_turn>`, ...) are broken the same way, for servers that read them as
  tokens even inside a message's content;
- hide a line break from these rules: every line separator (CR, VT, FF, NEL, U+2028, ...) becomes
  a newline, other control characters are dropped, and zero-width spaces already in the text are
  removed (they could split a name so that it is no longer seen as one).

Ordinary text comes out as it went in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

ZERO_WIDTH_SPACE = "\u200b"
# Tags the shipped templates may use (`owner`: a repo's own instructions, .hub-bot.yaml).
FENCES = ("card", "comment", "diff", "lookup", "owner", "title")

_LINE_BREAK = re.compile(r"\r\n|[\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_DROPPED = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u200b\u2060\ufeff]")
_AROUND_NEWLINES = re.compile(r"\s*\n\s*")
# ChatML and its kin (<|im_end|>, <|eot_id|>, DeepSeek's full-width bar), Llama 2, Mistral,
# Gemma, and the sentence markers of BLOOM and Llama.
_CHAT_MARKER = re.compile(
    r"<(?=[|\uff5c])"
    r"|<(?=/?(?:s|bos|eos|pad|unk|start_of_turn|end_of_turn)>)"
    r"|<(?=</?SYS>>)"
    r"|\[(?=/?(?:INST|SYSTEM_PROMPT|TOOL_CALLS|TOOL_RESULTS|AVAILABLE_TOOLS)\])",
    re.IGNORECASE,
)
_COLONS = ":\uff1a\ufe55"  # and the full-width and small colons, which read the same


def material(text: str, name: str = "", *, lines: bool = False, turns: Iterable[str] = ()) -> str:
    """Someone else's text, fenced: on one line, or with its `lines` kept, or (given a `name`)
    as a passage inside `<name>...</name>`. `turns` are the speakers' names of the transcript
    it goes into; a line of the text cannot start a turn of any of them."""
    text = _DROPPED.sub("", _LINE_BREAK.sub("\n", str(text)))
    if not name and not lines:
        text = _AROUND_NEWLINES.sub(" ", text).strip()
    text = _CHAT_MARKER.sub(lambda found: found.group() + ZERO_WIDTH_SPACE, text)
    tags = "|".join(re.escape(tag) for tag in dict.fromkeys((*FENCES, name)) if tag)
    text = re.sub(rf"<(?=\s*/?\s*(?:{tags})\b)", "<" + ZERO_WIDTH_SPACE, text, flags=re.I)
    speakers = "|".join(re.escape(turn) for turn in dict.fromkeys(turns) if turn)
    if speakers:
        turn = rf"^([ \t]*@?(?:{speakers})[ \t]*)(?=[{_COLONS}])"
        text = re.sub(turn, r"\1" + ZERO_WIDTH_SPACE, text, flags=re.I | re.M)
    return f"<{name}>\n{text}\n</{name}>" if name else text


@pass_context
def material_filter(context: Context, text: object, name: str = "", lines: bool = False) -> str:
    """`material` as a template filter: the speakers are those of what is being rendered."""
    return material(str(text), name, lines=lines, turns=speakers(context))


def speakers(variables: Context | Mapping[str, Any]) -> tuple[str, ...]:
    """Whose turns a transcript of these prompt variables has: "User" (an author the Hub did
    not name), the bot, the mention's author and the thread's."""
    thread = variables.get("thread") or ()
    names = ("User", variables.get("bot_name"), variables.get("author"))
    return tuple(str(name) for name in (*names, *(c.author for c in thread)) if name)
