"""`python -m bot` as a real process, against a fake Hub and a fake model on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.botprocess import BotProcess, Fakes, bot_environment, start_bot, wait_healthy
from tests.conftest import WEBHOOK_SECRET, load_payload, mention_in
from tests.fakes import BOT_ID, TOKEN, FakeHub, serve_in_thread


@pytest.fixture
def running_bot(tmp_path: Path, fakes: Fakes) -> Iterator[BotProcess]:
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes))
    try:
        wait_healthy(bot)
        yield bot
    finally:
        bot.stop()


def test_a_mention_gets_one_reply_on_the_hub_and_nothing_else_is_sent(
    running_bot: BotProcess, fakes: Fakes
) -> None:
    hub, model = fakes.hub, fakes.model

    response = running_bot.deliver(load_payload("comment_create_mention"))

    assert response.status_code == 202
    assert hub.wait_until(lambda: len(hub.comments) == 1)
    [reply] = hub.comments
    assert reply.path == "/api/models/some-user/some-repo/discussions/4/comment"
    assert reply.authorization == f"Bearer {TOKEN}"
    assert reply.body["comment"].startswith(model.reply)
    assert "reply-to:6398872887bfcfb93a306f18" in reply.body["comment"]
    sha = hub.repos[("model", "some-user/some-repo")]["sha"]
    # Read in parallel: the discussion, the repo's facts, then its card at that revision; then
    # the repo's .hub-bot.yaml at that revision.
    assert sorted((r.method, r.path) for r in hub.requests) == [
        ("GET", "/api/models/some-user/some-repo"),
        ("GET", "/api/models/some-user/some-repo/discussions/4"),
        ("GET", "/api/whoami-v2"),
        ("GET", f"/some-user/some-repo/resolve/{sha}/.hub-bot.yaml"),  # the repo's own settings
        ("GET", f"/some-user/some-repo/resolve/{sha}/README.md"),
        ("POST", "/api/models/some-user/some-repo/discussions/4/comment"),
    ]
    assert hub.requests[-1].method == "POST"
    assert running_bot.deliver(load_payload("comment_create_mention")).json()["status"] == (
        "duplicate"
    )


def test_startup_says_who_the_bot_is_and_where_to_point_the_webhook(
    running_bot: BotProcess,
) -> None:
    output = running_bot.output()

    assert f"Bot account: hub-bot (id {BOT_ID})" in output
    assert "Listening for: @hub-bot" in output
    assert "Webhook URL to configure on the Hub: http://localhost:" in output


def test_urls_inside_a_forged_payload_never_receive_the_token(
    running_bot: BotProcess, fakes: Fakes
) -> None:
    hub = fakes.hub
    trap = FakeHub()
    with serve_in_thread(trap.app) as trap_url:
        payload = load_payload("comment_create_mention")
        payload["repo"]["url"] = {"web": trap_url, "api": f"{trap_url}/api/models/x/y"}
        payload["discussion"]["url"]["api"] = f"{trap_url}/api/models/x/y/discussions/4"

        assert running_bot.deliver(payload).status_code == 202
        assert hub.wait_until(lambda: len(hub.comments) == 1)

    assert trap.requests == []


def test_secrets_stay_out_of_the_logs_and_sigterm_stops_cleanly(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, ACCESS_LOG="true"))
    bots.append(bot)
    wait_healthy(bot)
    hub = fakes.hub
    payload = load_payload("comment_create_mention")
    by_query = bot.deliver(payload, path=f"/webhook?secret={WEBHOOK_SECRET}")
    # A name percent-encoded is still the secret: accepted, and still masked in the log.
    encoded = bot.deliver(mention_in(2), path=f"/webhook?%73ecret={WEBHOOK_SECRET}")
    as_token = httpx.post(f"{bot.url}/webhook?%74oken={WEBHOOK_SECRET}", content=b"{}")
    wrong = httpx.post(f"{bot.url}/webhook?secret=almost-{WEBHOOK_SECRET}", content=b"{}")
    assert (by_query.status_code, encoded.status_code) == (202, 202)
    assert (as_token.status_code, wrong.status_code) == (401, 403)
    assert hub.wait_until(lambda: len(hub.comments) == 2)

    bot.process.send_signal(signal.SIGTERM)

    # uvicorn re-raises the signal once it has shut down, so the status says "SIGTERM".
    assert bot.process.wait(timeout=30) in (0, -signal.SIGTERM)
    output = bot.output()
    assert "Application shutdown complete" in output
    assert "POST /webhook?secret=***" in output
    assert "POST /webhook?%73ecret=***" in output and "POST /webhook?%74oken=***" in output
    assert WEBHOOK_SECRET not in output
    assert TOKEN not in output


def test_a_rejected_token_stops_startup_with_one_line(tmp_path: Path, fakes: Fakes) -> None:
    env = bot_environment(tmp_path, fakes, HF_TOKEN="hf_revoked_token_value")

    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )

    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: Hub: HTTP 401")
    assert "HF_TOKEN" in lines[0]
    assert b"hf_revoked_token_value" not in result.stdout + result.stderr


def test_a_missing_setting_stops_startup_with_one_line(tmp_path: Path, fakes: Fakes) -> None:
    env = bot_environment(tmp_path, fakes)
    del env["WEBHOOK_SECRET"]

    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )

    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        "error: WEBHOOK_SECRET is not set: choose a long random string and set the same one"
        " on the Hub webhook"
    ]
