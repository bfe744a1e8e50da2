"""What the command line says when there is little to say, or something is wrong: each
command's own --help, an empty listing, a missing webhook or model, a retried job's history,
and a preview of a discussion whose mention only the bot's store holds (as against the fakes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.botprocess import Fakes, bot_environment, run_bot
from tests.test_cli import _seed, cli, with_store


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["serve"], "serve the webhook on HOST:PORT"),
        (["check"], "check the token, model, webhook, prompts and state"),
        (["webhooks", "list"], "the webhooks of the token's account"),
        (["jobs", "list"], "recent jobs, newest first"),
    ],
)
def test_each_command_s_own_help_says_what_it_does(
    tmp_path: Path, command: list[str], says: str
) -> None:
    shown = cli(tmp_path, *command, "--help").stdout.splitlines()

    assert shown[0].startswith("usage: python -m bot")
    assert says in " ".join(shown[1:6])  # the lines after the usage


def test_an_empty_listing_by_status_says_which_status(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}

    empty = cli(tmp_path, "jobs", "list", env=env)
    none_dead = cli(tmp_path, "jobs", "list", "--status", "dead", env=env)

    assert empty.stdout.strip() == "no jobs yet"
    assert none_dead.stdout.strip() == "no dead jobs (jobs list shows them all)"


def test_a_missing_webhook_or_model_is_not_blamed_on_a_repo_or_discussion(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes)
    unknown_model = {**env, "INFERENCE_MODEL": "nobody/no-such-model"}
    del unknown_model["INFERENCE_URL"]

    deleted = run_bot(tmp_path, env, "webhooks", "delete", "nope")
    checked = run_bot(tmp_path, unknown_model, "check")

    assert deleted.returncode == 1
    [line] = deleted.stderr.strip().splitlines()
    assert "no webhook of the token's account has this id" in line
    assert "repo or discussion" not in line
    [model] = [row for row in checked.stdout.splitlines() if " model: " in row]
    assert "INFERENCE_MODEL nobody/no-such-model cannot be read on the Hub" in model
    assert "repo or discussion" not in model
    assert "((" not in model and "))" not in model  # no brackets inside brackets


def test_a_retried_job_keeps_its_earlier_attempts(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    with_store(env, _seed)  # job 2: dead after one attempt, "model: HTTP 503: down"

    retried = cli(tmp_path, "jobs", "retry", "2", env=env)
    shown = cli(tmp_path, "jobs", "show", "2", env=env)

    assert retried.returncode == 0, retried.stderr
    assert "attempts 0" in shown.stdout.splitlines()[0]  # the new round starts again
    [earlier] = [row for row in shown.stdout.splitlines() if row.strip().startswith("retried")]
    assert "1 attempt(s) before, dead: model: HTTP 503: down" in earlier


def test_preview_of_a_discussion_finds_the_mention_the_bot_recorded(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes)
    with_store(env, _seed)  # mentions in org/name #1 and #2, which the fake Hub's threads lack
    url = f"{fakes.hub_url}/org/name/discussions/1"
    elsewhere = f"{fakes.hub_url}/org/name/discussions/9"

    found = run_bot(tmp_path, env, "preview", "--discussion", url)
    none = run_bot(tmp_path, env, "preview", "--discussion", elsewhere)

    assert found.returncode == 0, found.stderr
    assert "=== prompt" in found.stdout and "@hub-bot hi" in found.stdout
    assert none.returncode == 1
    assert none.stderr.strip().startswith(
        "error: no comment in that discussion mentions @hub-bot (0 read)"
    )
