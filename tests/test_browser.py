"""The status page in a real headless Chromium, served by the real `python -m bot` process.

Chromium comes from Debian (`.ci/run` installs it). Outside CI the test is skipped when it is
missing; in CI a missing browser is a failure, so the check cannot silently disappear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.botprocess import Fakes, bot_environment, start_bot, wait_healthy
from tests.conftest import load_payload

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

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
    "--window-size=1200,900",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM, "Chromium is required in CI: .ci/run installs it"
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def test_status_page_renders_in_chromium_and_logs_are_json_with_delivery_ids(
    tmp_path: Path, fakes: Fakes
) -> None:
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, LOG_FORMAT="json"))
    try:
        wait_healthy(bot)
        mention = bot.deliver(load_payload("comment_create_mention"), **{"Webhook-Id": "whk-42"})
        assert mention.status_code == 202
        assert bot.deliver(load_payload("repo_content_update")).status_code == 200
        assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)

        dom = chromium(tmp_path, "--dump-dom", bot.url + "/")
        shot = tmp_path / "status.png"
        taken = chromium(tmp_path, f"--screenshot={shot}", bot.url + "/")
    finally:
        bot.stop()

    assert dom.returncode == 0, dom.stderr
    assert "<h1>@hub-bot</h1>" in dom.stdout
    assert 'id="webhook-url">http://localhost:' in dom.stdout
    assert "whk-42" in dom.stdout and "queued (job 1)" in dom.stdout
    assert "repo.content/update" in dom.stdout

    assert taken.returncode == 0, taken.stderr
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 900)
    darkest, lightest = image.getextrema()
    assert lightest - darkest > 100  # text on a background, not one flat colour
    histogram = image.histogram()
    assert sum(histogram[:200]) > 2000  # thousands of inked pixels, not a blank page

    events = [
        json.loads(line) for line in bot.stderr.read_text().splitlines() if line.startswith("{")
    ]
    deliveries = [e for e in events if e.get("event") == "delivery"]
    jobs = [e for e in events if e.get("event") == "job"]
    assert {d["delivery"] for d in deliveries} >= {"whk-42"}
    assert all(d["delivery"].startswith(("whk-", "local-")) for d in deliveries)
    assert jobs and jobs[-1]["delivery"] == "whk-42" and jobs[-1]["outcome"] == "replied"
    assert all(line.startswith("{") for line in bot.stderr.read_text().splitlines())
