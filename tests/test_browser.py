"""The status page in a real headless Chromium, served by the real `python -m bot` process.

Chromium comes from Debian (`.ci/run` installs it). Outside CI the test is skipped when it is
missing; in CI a missing browser is a failure, so the check cannot silently disappear.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.botprocess import BotProcess, Fakes, bot_environment, eventually, start_bot, wait_healthy
from tests.conftest import load_payload, mention_in
from tests.fakes import Scripted

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

# Set BOT_SCREENSHOTS to a folder to keep the screenshots and look at them.
SCREENSHOTS = Path(os.environ["BOT_SCREENSHOTS"]) if os.environ.get("BOT_SCREENSHOTS") else None
# Quiet flags: this machine has no network beyond loopback, and Chromium phones home otherwise.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium(
    tmp_path: Path, *args: str, width: int = 1200, height: int = 900
) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM, "Chromium is required in CI: .ci/run installs it"
    profile = tmp_path / "chromium-profile"
    size = f"--window-size={width},{height}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, size, f"--user-data-dir={profile}", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def screenshot(
    tmp_path: Path, url: str, name: str, width: int = 1200, height: int = 900
) -> Image.Image:
    shot = SCREENSHOTS / name if SCREENSHOTS else tmp_path / name
    taken = chromium(tmp_path, f"--screenshot={shot}", url, width=width, height=height)
    assert taken.returncode == 0, taken.stderr
    image = Image.open(shot).convert("L")
    assert image.size == (width, height)
    darkest, lightest = image.getextrema()
    assert lightest - darkest > 100  # text on a background, not one flat colour
    assert sum(image.histogram()[:200]) > 2000  # thousands of inked pixels, not a blank page
    return image


def test_status_page_in_chromium_idle_busy_and_narrow_and_logs_are_json(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.enqueue(
        Scripted(400, {"error": "Input validation error"}),  # the first mention: given up
        Scripted(503, {"error": "Model is overloaded"}),  # the second: tried again later
    )
    env = bot_environment(
        tmp_path, fakes, LOG_FORMAT="json", RETRY_BUDGET="0", MAX_ATTEMPTS="2",
        ATTEMPT_BACKOFF="600", FAILURE_NOTICE="false",
    )  # fmt: skip
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)
    screenshot(tmp_path, bot.url + "/", "status-idle.png")

    for serial in (1, 2):
        assert bot.deliver(mention_in(serial)).status_code == 202
        assert fakes.model.wait_until(lambda n=serial: len(fakes.model.requests) == n)
    eventually(lambda: bot.job_status(f"{2:024x}") == "failed", what="the retrying job")
    failing = chromium(tmp_path, "--dump-dom", bot.url + "/").stdout
    screenshot(tmp_path, bot.url + "/", "status-failing.png")
    assert re.search(r"Not working: the model(&#39;|')s last call failed", failing)
    assert re.search(r"Failing</span> since \d+ s ago", failing)
    mention = bot.deliver(load_payload("comment_create_mention"), **{"Webhook-Id": "whk-42"})
    assert mention.status_code == 202
    assert bot.deliver(load_payload("repo_content_update")).status_code == 200
    refused = httpx.post(bot.url + "/webhook", json={}, headers={"X-Webhook-Secret": "wrong"})
    assert refused.status_code == 403
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)
    eventually(lambda: bot.job_status(f"{2:024x}") == "failed", what="the retrying job")

    dom = chromium(tmp_path, "--dump-dom", bot.url + "/")
    screenshot(tmp_path, bot.url + "/", "status-busy.png")
    screenshot(tmp_path, bot.url + "/", "status-narrow.png", width=600, height=2400)

    assert dom.returncode == 0, dom.stderr
    page = dom.stdout.replace("<wbr>", "")  # where long URLs may wrap
    assert "<h1>@hub-bot</h1>" in page
    assert 'id="webhook-url">http://localhost:' in page
    assert '<span class="badge dead">dead</span>' in page
    assert '<span class="badge failed">failed</span>' in page
    assert '<span class="badge done">done</span>' in page
    assert "whk-42" in page and "repo.content/update" in page and "wrong webhook secret" in page
    assert "Refused for a wrong or missing secret since the bot started: <strong>1</strong>" in page

    events = [
        json.loads(line) for line in bot.stderr.read_text().splitlines() if line.startswith("{")
    ]
    deliveries = [e for e in events if e.get("event") == "delivery"]
    jobs = [e for e in events if e.get("event") == "job"]
    assert {d["delivery"] for d in deliveries} >= {"whk-42"}
    assert all(d["delivery"].startswith(("whk-", "local-")) for d in deliveries)
    assert [j["outcome"] for j in jobs if j["delivery"] == "whk-42"] == ["replied"]
    assert all(line.startswith("{") for line in bot.stderr.read_text().splitlines())
