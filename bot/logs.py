"""Logging: one line per record, with secrets scrubbed from every line on its way out.

Scrubbing happens in the formatter, after the message is built, so it also covers uvicorn's
access log (which prints query strings, and so `?secret=...`) and any exception text.
"""

from __future__ import annotations

import logging
import re
import sys

from bot.config import Secret

_QUERY_SECRET = re.compile(r"(?i)([?&]secret=)[^&\s\"]*")
MASK = "***"


class ScrubbingFormatter(logging.Formatter):
    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._secrets = [s.reveal() for s in secrets if s.reveal()]

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self._secrets)


def scrub(text: str, secrets: list[str]) -> str:
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def configure_logging(level: str, secrets: list[Secret]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; ours already say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
