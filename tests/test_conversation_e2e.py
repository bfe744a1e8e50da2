"""Conversation features on the real `python -m bot`, against the fakes on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.handlers.command import PAUSED_MARK
from bot.handlers.follow_up import FOLLOW_UP_MARK
from tests.botprocess import (
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conversation_helpers import THREAD, payload_for


@pytest.fixture
def bot(tmp_path: Path, fakes: Fakes, bots: list[BotProcess]) -> BotProcess:
    started = start_bot(
        tmp_path,
        bot_environment(tmp_path, fakes, FOLLOW_UPS="true", REPLIES_PER_DISCUSSION_HOUR="0"),
    )
    bots.append(started)
    wait_healthy(started)
    return started


def said(bot: BotProcess, fakes: Fakes, author: str, text: str) -> dict[str, Any]:
    event = fakes.hub.add_comment(THREAD, author, text)
    assert bot.deliver(payload_for(event)).status_code in (200, 202)
    return event


def finished(bot: BotProcess, comment_id: str) -> None:
    eventually(lambda: bot.job_status(comment_id) in ("done", "dead"), what="the job to finish")


def test_a_conversation_with_a_follow_up_a_pause_and_a_resume(
    bot: BotProcess, fakes: Fakes
) -> None:
    hub = fakes.hub
    hub.owners.add("owner")
    finished(bot, said(bot, fakes, "alice", "@hub-bot which license?")["id"])
    follow_up = said(bot, fakes, "alice", "and the 8-bit version?")
    finished(bot, follow_up["id"])
    assert FOLLOW_UP_MARK in hub.comments[-1].body["comment"]
    assert bot.deliver(payload_for(follow_up)).json()["status"] == "duplicate"

    finished(bot, said(bot, fakes, "owner", "@hub-bot pause")["id"])
    assert PAUSED_MARK in hub.comments[-1].body["comment"]
    finished(bot, said(bot, fakes, "alice", "@hub-bot still there?")["id"])
    assert len(hub.comments) == 3

    finished(bot, said(bot, fakes, "owner", "@hub-bot resume")["id"])
    finished(bot, said(bot, fakes, "alice", "@hub-bot still there?")["id"])
    assert len(hub.comments) == 5

    listed = run_bot(bot.stdout.parent, bot_environment(bot.stdout.parent, fakes), "jobs", "list")
    assert "follow-up" in listed.stdout and "command pause" in listed.stdout


def test_preview_shows_a_command_and_a_follow_up(tmp_path: Path, fakes: Fakes) -> None:
    env = bot_environment(tmp_path, fakes)

    helped = run_bot(tmp_path, env, "preview", "--comment", "@hub-bot help")
    summary = run_bot(tmp_path, env, "preview", "--comment", "@hub-bot summarize")
    follow_up = run_bot(tmp_path, env, "preview", "--comment", "and in 8-bit?", "--follow-up")

    assert helped.returncode == 0, helped.stderr
    assert "=== command help, as it would be posted (no model) ===" in helped.stdout
    assert "- `summarize`:" in helped.stdout
    assert "Summarize this discussion's thread so far" in summary.stdout
    assert follow_up.returncode == 0, follow_up.stderr
    assert "and in 8-bit?" in follow_up.stdout and "ignored" not in follow_up.stdout


def test_check_names_a_bad_command_template(tmp_path: Path, fakes: Fakes) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for template in (Path(__file__).parent.parent / "prompts").glob("*.j2"):
        (prompts / template.name).write_text(template.read_text())
    (prompts / "commands").mkdir()
    (prompts / "commands" / "shout.j2").write_text("no help line\n")
    env = bot_environment(tmp_path, fakes, PROMPTS_DIR=str(prompts))

    result = run_bot(tmp_path, env, "check")

    assert result.returncode != 0
    assert "shout.j2: its first line must be a Jinja comment" in result.stdout + result.stderr
