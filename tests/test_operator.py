"""The operator's first hour, on the real process: what the command line and the startup say,
and what they refuse to do."""

from __future__ import annotations

import argparse
import json
import re
import socket
from pathlib import Path

import pytest

from bot.cli.main import build_parser
from tests.botprocess import (
    ROOT,
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import load_payload, mention_in
from tests.fakes import Scripted


def every_parser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:  # argparse keeps its subcommands here, and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += every_parser(sub)
    return found


def test_every_command_and_option_says_what_it_is_for() -> None:
    for parser in every_parser(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), parser.prog
            elif not isinstance(action, argparse._HelpAction):
                assert action.help, f"{parser.prog} {action.option_strings or action.dest}"


def test_version_and_job_help_naming_its_variable(tmp_path: Path, fakes: Fakes) -> None:
    env = bot_environment(tmp_path, fakes)

    version = run_bot(tmp_path, env, "--version")
    job = run_bot(tmp_path, env, "job", "--help")

    assert version.returncode == 0 and version.stdout.startswith("python -m bot ")
    assert "WEBHOOK_PAYLOAD" in job.stdout


def test_webhooks_create_refuses_an_address_the_hub_cannot_call(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes)  # no PUBLIC_URL: http://localhost:PORT/webhook

    refused = run_bot(tmp_path, env, "webhooks", "create", "--watch", "model:acme/m")
    explicit = run_bot(tmp_path, env, "webhooks", "create", "--watch", "model:acme/m",
                       "--url", "http://localhost:7860/webhook")  # fmt: skip

    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: the bot's webhook URL is http://localhost:")
    assert "set PUBLIC_URL" in line and "--url" in line
    assert explicit.returncode == 0, explicit.stderr
    assert len(fakes.hub.webhooks) == 1  # only the explicit one was made


def test_send_checks_its_file_is_json_before_sending(tmp_path: Path, fakes: Fakes) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"event": {"action": "create",}')

    result = run_bot(tmp_path, bot_environment(tmp_path, fakes), "send", str(broken),
                     "--url", "http://127.0.0.1:9/webhook")  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {broken} is not JSON (line 1, column 31: Expecting property name enclosed in"
        " double quotes): nothing was sent"
    )


@pytest.fixture
def bot(tmp_path: Path, fakes: Fakes, bots: list[BotProcess]) -> BotProcess:
    env = bot_environment(tmp_path, fakes, RETRY_BUDGET="0", ATTEMPT_BACKOFF="0", MAX_ATTEMPTS="2")
    started = start_bot(tmp_path, env)
    bots.append(started)
    wait_healthy(started)
    return started


def test_an_ignored_comment_names_the_handle_the_bot_answers(bot: BotProcess) -> None:
    answer = bot.deliver(load_payload("comment_create_no_mention")).json()

    assert answer == {
        "status": "ignored",
        "reason": "the bot is not mentioned (it answers @hub-bot, outside quotes, code and links)",
    }


def test_one_line_per_delivery_and_retries_say_which_job_and_delivery(
    bot: BotProcess, fakes: Fakes
) -> None:
    fakes.model.enqueue(Scripted(503, {"error": "loading"}))
    bot.deliver(mention_in(1), **{"Webhook-Id": "whk-7"})
    bot.deliver(load_payload("repo_content_update"), **{"Webhook-Id": "whk-8"})

    eventually(lambda: "outcome=replied" in bot.output(), what="the reply")
    lines = bot.output().splitlines()
    assert len([line for line in lines if "whk-8" in line]) == 1  # no access log line besides
    [failed] = [line for line in lines if "outcome=failed" in line]
    assert "job=1 delivery=whk-7" in failed
    [replied] = [line for line in lines if "outcome=replied" in line]
    assert re.search(r" own_ms=\d+\.?\d*", replied)  # the bot's own time on the reply


def test_the_banner_names_the_status_page_and_warns_of_a_local_webhook_url(
    bot: BotProcess,
) -> None:
    banner = bot.stdout.read_text()

    assert f"Status page: http://localhost:{bot.url.rsplit(':', 1)[1]}/" in banner
    assert "Warning about the webhook URL: the Hub cannot reach a local address" in banner
    assert "State: SQLite at " in banner


def test_in_json_mode_the_banner_is_json_too(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    started = start_bot(tmp_path, bot_environment(tmp_path, fakes, LOG_FORMAT="json"))
    bots.append(started)
    wait_healthy(started)

    [line] = started.stdout.read_text().splitlines()
    said = json.loads(line)
    assert said["event"] == "started" and said["Listening for"].startswith("@hub-bot")


def test_a_missing_prompts_folder_is_named_with_the_path_tried(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes, PROMPTS_DIR="no-such-folder")

    result = run_bot(tmp_path, env)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: PROMPTS_DIR {tmp_path / 'no-such-folder'} is not a folder: set PROMPTS_DIR to"
        " the folder of prompt templates (the repository's prompts/)"
    )


def test_a_template_with_a_mistake_stops_the_bot_once_it_serves_with_one_line(
    tmp_path: Path, fakes: Fakes
) -> None:
    # The templates are checked right after the bot starts answering deliveries (what came
    # meanwhile waits in the store): a mistake stops it there, exit 1, its line last.
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for template in (ROOT / "prompts").glob("*.j2"):
        (prompts / template.name).write_text(template.read_text())
    (prompts / "completion.j2").write_text("{{ question }}\n")
    env = bot_environment(tmp_path, fakes, PROMPTS_DIR=str(prompts))

    result = run_bot(tmp_path, env)

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {prompts / 'completion.j2'} uses question, which is not a")
    assert "Traceback" not in result.stderr


def test_from_another_folder_the_prompts_beside_the_code_are_found(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes)
    del env["PROMPTS_DIR"]  # and the working folder, tmp_path, has no prompts/

    result = run_bot(tmp_path, env, "preview", "--comment", "@hub-bot hi")

    assert result.returncode == 0, result.stderr
    assert "=== prompt" in result.stdout


def test_preview_says_when_a_comment_would_be_ignored(tmp_path: Path, fakes: Fakes) -> None:
    result = run_bot(tmp_path, bot_environment(tmp_path, fakes), "preview", "--comment", "hi!")

    assert result.returncode == 0
    assert result.stdout.strip() == (
        "ignored: the bot would not answer this comment: @hub-bot is not mentioned (outside"
        " quotes, code and links)"
    )


def test_preview_gives_up_on_an_unreachable_model_in_seconds(tmp_path: Path, fakes: Fakes) -> None:
    # RETRY_BUDGET is the service's patience, not an interactive command's.
    env = bot_environment(
        tmp_path, fakes, INFERENCE_URL="http://127.0.0.1:9/generate", RETRY_BUDGET="120"
    )

    result = run_bot(tmp_path, env, "preview", "--comment", "@hub-bot hi", "--generate",
                     timeout=30)  # fmt: skip

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: model: no answer: connection failed")
    assert all("retrying" in line for line in lines[:-1])


def test_a_port_already_taken_is_one_line_before_any_banner(tmp_path: Path, fakes: Fakes) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = bot_environment(tmp_path, fakes, PORT=str(port))

        result = run_bot(tmp_path, env, timeout=30)

    assert result.returncode == 1
    assert result.stdout == ""  # no banner: nothing was found out before the port failed
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port} (")
    assert line.endswith("stop what holds the port, or set PORT (and HOST) to a free one")
