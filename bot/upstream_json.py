"""JSON from an upstream: refused before decoding when it nests too deep, so no answer can
exhaust the stack, and a 2xx answer that is not JSON is a (transient) upstream fault.

`parse_json` measures the depth on the raw bytes; the size is capped already, since every
answer is read through `bot.upstream.fetch` within its CallLimits.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import httpx

from bot.errors import TransientError

MAX_JSON_DEPTH = 64  # the Hub's deepest answers (model-index in cardData) nest about 10 levels
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_NESTING = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class NotJson(ValueError):
    """An answer that is not JSON the bot will read: malformed, not UTF-8, or too deep."""


def parse_json(data: bytes) -> Any:
    """JSON from an upstream, refused (NotJson) when it nests deeper than MAX_JSON_DEPTH.

    The depth is measured on the raw bytes, strings left out, before anything is decoded: the
    decoder recurses once per level and would otherwise hit the interpreter's limit. The size
    is capped already: every answer is read through `fetch`, within CallLimits.max_bytes.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotJson("answer is not JSON (not UTF-8)") from None
    if _too_deep(data):
        raise NotJson(f"answer is JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except RecursionError:  # cannot happen within the depth limit; kept as a last guard
        raise NotJson(f"answer is JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise NotJson("answer is not JSON") from None


def _too_deep(data: bytes) -> bool:
    """Whether the brackets of a JSON text (those inside strings left out) nest deeper than
    MAX_JSON_DEPTH. Linear, and in C but for one pass over the brackets alone."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", data))
    if brackets.count(b"[") + brackets.count(b"{") <= MAX_JSON_DEPTH:
        return False  # too few openers to be too deep: spare the walk
    return max(itertools.accumulate(map(_NESTING.__getitem__, brackets))) > MAX_JSON_DEPTH


def json_body(response: httpx.Response, service: str) -> Any:
    """A 2xx answer's JSON; an answer that is not JSON (or too deep) is a (transient) upstream
    fault."""
    try:
        return parse_json(response.content)
    except NotJson as exc:
        raise TransientError(service, response.status_code, str(exc)) from None
