"""Logging: one line per record, as `key=value` text or as JSON, secrets scrubbed on the way out.

Scrubbing happens in the formatter, after the line is built, so it also covers uvicorn's access
log (which prints query strings, and so `?secret=` and `?token=`) and any exception text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot.config import Secret

_QUERY_SECRET = re.compile(r"(?i)([?&](?:secret|token)=)[^&\s\"]*")
MASK = "***"


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one event with its fields; the text form is `event key=value ...`."""
    if not logger.isEnabledFor(level):
        return
    text = " ".join([event, *(f"{key}={_text(value)}" for key, value in fields.items())])
    logger.log(level, "%s", text, extra={"event": event, "fields": fields})


def _text(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\n') else text


def scrub(text: str, secrets: list[str]) -> str:
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class ScrubbingFormatter(logging.Formatter):
    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._secrets = [s.get_secret_value() for s in secrets if s.get_secret_value()]

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self._secrets)


class JsonFormatter(ScrubbingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
        }
        event = getattr(record, "event", None)
        if event:
            line["event"] = event
            line.update(getattr(record, "fields", {}))
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(line, default=str), self._secrets)


def configure_logging(level: str, secrets: list[Secret], form: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if form == "json" else ScrubbingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; ours already say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
