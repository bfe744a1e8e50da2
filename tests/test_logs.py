"""Secrets never reach a log line, whoever writes it."""

from __future__ import annotations

import io
import logging

from bot.config import Secret
from bot.logs import ScrubbingFormatter


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
