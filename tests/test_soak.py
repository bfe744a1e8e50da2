"""A mixed stream at 50 deliveries a second for a minute, against the real process.

Every delivery must get a 2xx, every mention exactly one reply, and the bot's memory must stay
flat once warm. The stream is a quarter new mentions, a quarter redeliveries of earlier ones,
a quarter comments without a mention and a quarter repo events.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.botprocess import Fakes, bot_environment, eventually, start_bot, wait_healthy
from tests.conftest import WEBHOOK_SECRET, load_payload

RATE = 50  # deliveries per second
SECONDS = 60
WARM_UP = 200
ALLOWED_GROWTH_MB = 15.0


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) / 1024


class Stream:
    def __init__(self) -> None:
        self.mention = load_payload("comment_create_mention")
        self.chatter = load_payload("comment_create_no_mention")
        self.repo_event = load_payload("repo_content_update")
        self.sent_mentions: list[str] = []

    def next(self, n: int) -> bytes:
        kind = n % 4
        if kind == 0 or not self.sent_mentions:
            comment = f"{n:024x}"
            self.sent_mentions.append(comment)
            payload = json.loads(json.dumps(self.mention))
            payload["comment"]["id"] = comment
            payload["discussion"]["num"] = 1 + n % 97  # spread over discussions
            return json.dumps(payload).encode()
        if kind == 1:
            payload = json.loads(json.dumps(self.mention))
            payload["comment"]["id"] = self.sent_mentions[n % len(self.sent_mentions)]
            payload["discussion"]["num"] = 1 + int(payload["comment"]["id"], 16) % 97
            return json.dumps(payload).encode()
        return json.dumps(self.chatter if kind == 2 else self.repo_event).encode()


def test_soak_every_delivery_acknowledged_every_mention_answered_once_memory_flat(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(
        tmp_path,
        fakes,
        REPLIES_PER_AUTHOR_HOUR="0",
        REPLIES_PER_DISCUSSION_HOUR="0",
        REPLIES_PER_DAY="0",
        LOG_LEVEL="WARNING",
    )
    bot = start_bot(tmp_path, env)
    stream = Stream()
    statuses: Counter[int] = Counter()
    try:
        wait_healthy(bot)
        headers = {"X-Webhook-Secret": WEBHOOK_SECRET, "Content-Type": "application/json"}
        with httpx.Client(base_url=bot.url, headers=headers, timeout=10) as client:
            for n in range(WARM_UP):
                statuses[client.post("/webhook", content=stream.next(n)).status_code] += 1
            baseline = rss_mb(bot.process.pid)
            samples = []
            started = time.monotonic()
            for n in range(WARM_UP, WARM_UP + RATE * SECONDS):
                # Paced: the stream has a rate, so the sender keeps to it.
                due = started + (n - WARM_UP) / RATE
                if (ahead := due - time.monotonic()) > 0:
                    time.sleep(ahead)
                statuses[client.post("/webhook", content=stream.next(n)).status_code] += 1
                if n % (RATE * 10) == 0:
                    samples.append(rss_mb(bot.process.pid))
            elapsed = time.monotonic() - started

        mentions = set(stream.sent_mentions)
        eventually(lambda: len(fakes.hub.comments) >= len(mentions), 60, "every mention answered")
        final = rss_mb(bot.process.pid)
    finally:
        bot.stop()

    assert set(statuses) <= {200, 202}, statuses
    assert sum(statuses.values()) == WARM_UP + RATE * SECONDS
    assert statuses[202] == len(mentions)
    assert elapsed < SECONDS * 1.1  # the bot kept up with the rate
    answered = Counter(
        re.search(r"reply-to:([0-9a-f]{24})", c.body["comment"]).group(1)  # type: ignore[union-attr]
        for c in fakes.hub.comments
    )
    assert set(answered) == mentions
    assert max(answered.values()) == 1
    growth = final - baseline
    print(f"soak: rss baseline {baseline:.1f} MB, samples {samples}, final {final:.1f} MB")
    assert growth < ALLOWED_GROWTH_MB, (baseline, samples, final)
