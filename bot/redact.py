"""Making text fit to show: secrets taken out of it before anyone sees it (log lines, stored
reasons, and so the status page and `jobs list`, the command line's output, what the model
wrote), and control characters escaped where a terminal or a log reader would act on them.

Removed: the bot's own secrets (tokens, the webhook secret, the database URL and password),
anything shaped like a Hugging Face token, any bearer credential an upstream quotes back
("Invalid credentials in Authorization header: Bearer ..."), and the value of a `secret` or
`token` query parameter, however its name is percent-encoded (`?%73ecret=`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from pydantic import SecretStr

REDACTED = "[redacted]"
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{16,}")
_QUERY_PARAMETER = re.compile(r"([?&])([^=&\s\"'#]+)=([^&\s\"'#]*)")
_SECRET_NAMES = frozenset({"secret", "token"})
# C0 (TAB and newline too), DEL, C1 (NEL U+0085 and CSI U+009B among them), and the Unicode
# line and paragraph separators: each can forge a line, or drive a terminal (ANSI, OSC 52).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character written as an escape (`\\t`, `\\u001b`, `\\u2028`),
    so that it shows as what it is; with `keep_newlines`, line breaks stay. The escapes are
    JSON's, so a JSON line stays JSON."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    if not pattern.search(text):
        return text
    return pattern.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group(0)
    return _NAMED.get(char) or f"\\u{ord(char):04x}"


class Redactor:
    """A callable that returns its text with every secret it knows of replaced."""

    def __init__(self, secrets: Iterable[SecretStr] = (), mask: str = REDACTED) -> None:
        values = {s.get_secret_value() for s in secrets}
        # Longest first, so a secret that contains another is removed whole.
        self._values = sorted((v for v in values if len(v) >= 4), key=len, reverse=True)
        self._mask = mask

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, self._mask)
        # Every log line passes here: the patterns run only where they could match.
        if "?" in text or "&" in text:
            text = _QUERY_PARAMETER.sub(self._query_value, text)
        if "hf_" in text:
            text = _HF_TOKEN.sub(self._mask, text)
        lowered = text.lower()
        if "bearer" in lowered or "basic" in lowered:
            text = _BEARER.sub(rf"\1\2{self._mask}", text)
        return text

    def _query_value(self, match: re.Match[str]) -> str:
        separator, name, _ = match.groups()
        if unquote_plus(name).strip().lower() in _SECRET_NAMES:
            return f"{separator}{name}={self._mask}"
        return match.group(0)
