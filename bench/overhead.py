"""Reply overhead: the bot's own time per reply, with fakes that answer at once.

Mentions go in one at a time, each after the previous reply is posted, so nothing else runs
beside the reply being measured. The bot logs its own time with each reply (`own_ms=`: claim
to posted comment, less the time inside calls to the Hub and the model); the first replies warm
its connections and caches and are left out.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.servers import FIXTURE_COMMENT, MENTION, SECRET, bot_env, started
from tests.fakes import FakeHub, FakeModel, free_port

WARM_UP = 10


@dataclass
class Overhead:
    replies: int
    median_ms: float
    p99_ms: float


def measure(
    hub: FakeHub, model: FakeModel, urls: tuple[str, str], replies: int, **env: str
) -> Overhead:
    model.latency = 0
    template = MENTION.read_text()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        settings = bot_env(*urls, Path(data), port, **env)
        url = f"http://127.0.0.1:{port}/webhook"
        with started([sys.executable, "-m", "bot"], settings, url) as bot, httpx.Client() as http:
            for n in range(WARM_UP + replies):
                wanted = len(hub.comments) + 1

                def posted(wanted: int = wanted) -> bool:
                    return len(hub.comments) >= wanted

                body = template.replace(FIXTURE_COMMENT, f"{n + 1:024x}")
                body = body.replace('"num": 4', f'"num": {10_000 + n}')
                http.post(url, content=body, headers={"X-Webhook-Secret": SECRET})
                if not hub.wait_until(posted, timeout=30):
                    raise SystemExit(f"reply overhead: no reply to mention {n + 1}")
            times = _logged(bot.log, WARM_UP + replies)
    measured = times[WARM_UP:]
    return Overhead(
        replies=replies,
        median_ms=round(statistics.median(measured), 2),
        p99_ms=round(statistics.quantiles(measured, n=100)[98], 2),
    )


def _logged(log: Path, expected: int) -> list[float]:
    """The own_ms figures, once all are logged (the line follows the posted comment)."""
    deadline = time.monotonic() + 10
    while True:
        times = [float(ms) for ms in re.findall(r" own_ms=([\d.]+)", log.read_text())]
        if len(times) >= expected:
            return times
        if time.monotonic() > deadline:
            raise SystemExit(f"reply overhead: {len(times)} own_ms figures for {expected} replies")
        time.sleep(0.05)
