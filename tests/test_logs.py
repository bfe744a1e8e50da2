"""Secrets never reach a log line, whoever writes it."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from bot import logs
from bot.config import Secret
from bot.logs import JsonFormatter, ScrubbingFormatter


def test_access_log_query_secret_and_known_secrets_are_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ScrubbingFormatter([Secret("hf_tok123"), Secret("whsec")]))
    logger = logging.getLogger("test.scrub")
    logger.addHandler(handler)
    logger.propagate = False

    logger.warning(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "POST", "/webhook?secret=guess&x=1", "1.1", 403
    )
    logger.warning("upstream said Bearer hf_tok123 and whsec")

    output = stream.getvalue()
    assert "secret=***&x=1" in output
    assert "guess" not in output
    assert "hf_tok123" not in output and "whsec" not in output


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_lines_is_cut_to_a_few_per_interval_and_the_next_line_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(logs.time, "monotonic", clock)
    throttle = logs.Throttle(1.0, lines=3)

    burst = [throttle.admit("ignored") for _ in range(10)]
    assert burst == [0, 0, 0, *[None] * 7]
    assert throttle.admit("queued") == 0  # each kind has its own budget

    clock.now += 1.0
    assert throttle.admit("ignored") == 7  # the first line after the burst says how many
    assert throttle.admit("ignored") == 0


@pytest.mark.parametrize("form", ["text", "json"])
def test_control_characters_are_escaped_in_every_log_line(form: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter([]) if form == "json" else ScrubbingFormatter([]))
    logger = logging.getLogger(f"test.controls.{form}")
    logger.addHandler(handler)
    logger.propagate = False
    hostile = "a\tb\x85c\x9bd\x1b]52;c;eA==\x07e\x7ff\u2028g\nh"

    logs.log_event(logger, logging.WARNING, "delivery", delivery=hostile)
    logger.warning("raw %s", hostile)
    try:
        raise ValueError(hostile)
    except ValueError:
        logger.exception("failed")

    output = stream.getvalue()
    assert len(output.splitlines()) == 3  # one line per record, the traceback's included
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", output)
    if form == "json":
        assert [json.loads(line)["level"] for line in output.splitlines()] == ["WARNING"] * 2 + [
            "ERROR"
        ]
