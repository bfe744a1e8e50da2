"""Taking secrets out of text before anyone sees it: log lines, stored reasons (and so the
status page and `jobs list`), and what the model wrote.

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
