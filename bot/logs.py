"""Logging: one line per record, as `key=value` text or as JSON, secrets scrubbed on the way out.

Scrubbing (bot.redact) happens in the formatter, after the line is built, so it also covers
uvicorn's access log (which prints query strings, and so `?secret=` and `?token=`) and any
exception text. So does escaping: no control character reaches a log raw (a TAB, NEL or CSI in
a `Webhook-Id` would forge a line or drive the terminal of whoever reads it), so a record is
one line, its traceback included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.config import Secret
from bot.redact import Redactor, escape_controls

MASK = "***"
# A value with a space, a quote, an `=` or a control character is written as a JSON string.
_NEEDS_QUOTES = re.compile(r'[ "=\x00-\x1f\x7f-\x9f\u2028\u2029]')
# What the current task works on (job=, delivery=), for lines logged deep inside it.
working_on: ContextVar[dict[str, object]] = ContextVar("working_on", default={})  # noqa: B039


@dataclass
class _Window:
    start: float
    admitted: int = 1
    held: int = 0


class Throttle:
    """At most `lines` lines of each kind per interval: `admit` answers None to hold a line
    back, or how many were held back since the last one admitted."""

    def __init__(self, interval: float, lines: int = 1) -> None:
        self._interval = interval
        self._lines = lines
        self._windows: dict[object, _Window] = {}

    def admit(self, kind: object) -> int | None:
        now = time.monotonic()
        window = self._windows.get(kind)
        if window is None or now - window.start >= self._interval:
            self._windows[kind] = _Window(now)
            return window.held if window else 0
        if window.admitted < self._lines:
            window.admitted += 1
            held, window.held = window.held, 0
            return held
        window.held += 1
        return None


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
    return json.dumps(text) if not text or _NEEDS_QUOTES.search(text) else text


class ScrubbingFormatter(logging.Formatter):
    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._scrub = Redactor(secrets, MASK)

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(self._scrub(super().format(record)))


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
        # json.dumps escapes every control character but DEL, which is ASCII.
        return escape_controls(self._scrub(json.dumps(line, default=str)))


def configure_logging(level: str, secrets: list[Secret], form: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if form == "json" else ScrubbingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A line per delivery is on the hot path: skip looking up what no line shows (the caller's
    # file and line, the thread, the process), as the logging documentation suggests.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # httpx logs every request at INFO; ours already say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
