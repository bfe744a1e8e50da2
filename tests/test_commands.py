"""Commands: `@hub-bot <command>` runs it; pause and resume only for the repo's people."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.answer.command_prompts import CommandTemplates
from bot.config import Settings
from bot.errors import PromptError
from bot.handlers.command import PAUSED_MARK, RESUMED_MARK, command_word
from tests.botprocess import ROOT
from tests.conversation_helpers import THREAD, job_of, say
from tests.fakes import FakeHub, FakeModel


@pytest.fixture
def database(settings: Settings) -> Path:
    return settings.data_dir / "bot.sqlite3"


def test_the_command_is_the_first_word_after_the_handle() -> None:
    assert command_word("@hub-bot summarize please", "hub-bot") == "summarize"
    assert command_word("Hi @Hub-Bot, Help!", "hub-bot") == "help"
    assert command_word("> @hub-bot pause\n\nquoted, then @hub-bot what is this?", "hub-bot") == (
        "what"
    )
    assert command_word("no mention here", "hub-bot") is None


def test_help_says_what_the_bot_does_its_commands_and_the_settings_in_force(
    client: httpx.Client, hub: FakeHub, model: FakeModel, database: Path
) -> None:
    comment, _ = say(hub, client, "alice", "@hub-bot help")

    status, kind, reason = job_of(database, comment)
    assert (status, kind) == ("done", "mention")
    assert reason.startswith("command help: replied")
    [posted] = hub.comments
    text = posted.body["comment"]
    for line in ("- `summarize`:", "- `describe`:", "- `pause`:", "follow-ups: off"):
        assert line in text
    assert model.requests == []  # written by the bot, not the model


def test_summarize_gives_the_model_its_task_and_the_opening_post(
    make_client: Callable[..., httpx.Client], hub: FakeHub, model: FakeModel, database: Path
) -> None:
    client = make_client(thread_budget_chars=400)
    hub.add_comment(THREAD, "alice", "Opening post: " + "the weights are missing. " * 10)
    for n in range(5):
        hub.add_comment(THREAD, f"user{n}", f"comment {n}: " + "me too. " * 10)

    comment, _ = say(hub, client, "bob", "@hub-bot summarize")

    assert job_of(database, comment)[2].startswith("command summarize: replied")
    prompt = model.requests[-1].body["inputs"]
    assert "Summarize this discussion's thread so far" in prompt
    assert "Opening post: the weights are missing." in prompt  # kept, though the oldest
    assert "comment 4:" in prompt and "comment 0:" not in prompt
    assert hub.comments[0].body["comment"].startswith(model.reply)


def test_describe_reads_the_pull_request_and_is_refused_outside_one(
    client: httpx.Client, hub: FakeHub, model: FakeModel, database: Path
) -> None:
    hub.open_pull_request(THREAD, 'diff --git a/config.json b/config.json\n-"a": 1\n+"a": 2')
    comment, _ = say(hub, client, "alice", "@hub-bot describe", pull_request=True)

    assert job_of(database, comment)[2].startswith("command describe: replied")
    prompt = model.requests[-1].body["inputs"]
    assert "Describe this pull request for a reviewer" in prompt
    assert '+"a": 2' in prompt

    hub.pull_requests.clear()
    other, _ = say(hub, client, "alice", "@hub-bot describe")
    job_of(database, other)
    assert "works in pull requests" in hub.comments[-1].body["comment"]
    assert len(model.requests) == 1


def test_pause_by_the_owner_silences_the_discussion_and_resume_restores_it(
    client: httpx.Client, hub: FakeHub, database: Path
) -> None:
    hub.owners.add("owner")
    paused, _ = say(hub, client, "owner", "@hub-bot pause")
    assert job_of(database, paused)[2].startswith("command pause: replied")
    assert PAUSED_MARK in hub.comments[-1].body["comment"]

    ignored, _ = say(hub, client, "alice", "@hub-bot what license is this?")
    assert "paused" in job_of(database, ignored)[2]
    helped, _ = say(hub, client, "alice", "@hub-bot help")
    assert "paused" in job_of(database, helped)[2]
    assert len(hub.comments) == 1  # said once

    resumed, _ = say(hub, client, "owner", "@hub-bot resume")
    assert job_of(database, resumed)[2].startswith("command resume: replied")
    assert RESUMED_MARK in hub.comments[-1].body["comment"]
    asked, _ = say(hub, client, "alice", "@hub-bot what license is this?")
    assert job_of(database, asked)[2].startswith("replied")
    assert len(hub.comments) == 3


def test_a_member_of_the_organisation_may_pause_too(
    client: httpx.Client, hub: FakeHub, database: Path
) -> None:
    hub.org_members.add("colleague")

    paused, _ = say(hub, client, "colleague", "@hub-bot pause")

    job_of(database, paused)
    assert PAUSED_MARK in hub.comments[-1].body["comment"]


def test_pause_by_a_stranger_is_refused_politely_and_changes_nothing(
    client: httpx.Client, hub: FakeHub, database: Path
) -> None:
    hub.owners.add("owner")
    refused, _ = say(hub, client, "stranger", "@hub-bot pause")
    job_of(database, refused)
    refusal = hub.comments[-1].body["comment"]
    assert "only this repo's owner" in refusal and PAUSED_MARK not in refusal

    asked, _ = say(hub, client, "alice", "@hub-bot what license is this?")

    assert job_of(database, asked)[2].startswith("replied")
    assert len(hub.comments) == 2


def test_an_operator_adds_a_command_with_a_template(
    make_client: Callable[..., httpx.Client],
    hub: FakeHub,
    model: FakeModel,
    database: Path,
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    (prompts / "commands" / "haiku.j2").write_text(
        "{# answer as a haiku #}\nAnswer in one haiku about this {{ repo_type }}.\n"
    )
    client = make_client(prompts_dir=prompts)

    comment, _ = say(hub, client, "alice", "@hub-bot haiku")
    assert job_of(database, comment)[2].startswith("command haiku: replied")
    assert "Answer in one haiku about this model." in model.requests[-1].body["inputs"]

    helped, _ = say(hub, client, "alice", "@hub-bot help")
    job_of(database, helped)
    assert "- `haiku`: answer as a haiku" in hub.comments[-1].body["comment"]


def test_an_unknown_word_is_an_ordinary_question(
    client: httpx.Client, hub: FakeHub, model: FakeModel, database: Path
) -> None:
    comment, _ = say(hub, client, "alice", "@hub-bot explain the license")

    assert job_of(database, comment)[2].startswith("replied")
    assert len(model.requests) == 1


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("haiku.j2", "Answer in a haiku.\n", "first line must be a Jinja comment"),
        ("haiku.j2", "{# a haiku #}\nAbout {{ comment }}\n", "operator's words only"),
        ("help.j2", "{# mine #}\nHelp.\n", "built-in command"),
        ("Bad_Name.j2", "{# x #}\nX\n", "lowercase letters"),
        ("haiku.j2", "{# a haiku #}\n{% if %}\n", "line 2"),
    ],
)
def test_a_bad_command_template_is_refused_with_what_to_fix(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    (tmp_path / "commands").mkdir()
    (tmp_path / "commands" / name).write_text(text)

    with pytest.raises(PromptError, match=problem):
        CommandTemplates(tmp_path)


def test_the_shipped_command_templates_load() -> None:
    templates = CommandTemplates(ROOT / "prompts")

    assert templates.names == ("describe", "summarize")
