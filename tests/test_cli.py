"""The operator's command line, run as a process the way an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from bot.config import load_settings
from bot.events import DiscussionRef, Mention
from bot.services.options import store_options
from bot.store import Enqueue, Store, open_store
from tests.botprocess import Fakes, bot_environment
from tests.conftest import PAYLOADS, WEBHOOK_SECRET, load_payload
from tests.fakes import TOKEN, Scripted

T = TypeVar("T")
COMMANDS = [
    [],
    ["serve"],
    ["preview"],
    ["send"],
    ["job"],
    ["jobs"],
    ["jobs", "list"],
    ["jobs", "show"],
    ["jobs", "retry"],
    ["webhooks"],
    *[
        ["webhooks", action]
        for action in ("list", "create", "update", "enable", "disable", "delete")
    ],
]


def cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path, env={**base, **(env or {})}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "bot")
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    result = cli(tmp_path, *command, "--help")

    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m bot")
    assert result.stderr == ""


def test_top_level_help_lists_the_commands(tmp_path: Path) -> None:
    result = cli(tmp_path, "--help")

    for command in ("serve", "preview", "send", "job", "jobs", "webhooks"):
        assert f"    {command} " in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["jobs"], "the following arguments are required: ACTION"),
        (["webhooks", "create"], "--watch"),
        (["webhooks", "create", "--watch", "repo:x"], "is not TYPE:NAME"),
        (["jobs", "list", "--limit", "many"], "invalid int value"),
    ],
)
def test_a_mistake_is_one_line_with_where_to_look(
    tmp_path: Path, args: list[str], says: str
) -> None:
    result = cli(tmp_path, *args)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and says in line and "--help" in line


def test_a_missing_setting_is_one_line(tmp_path: Path) -> None:
    result = cli(tmp_path, "webhooks", "list")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: HF_TOKEN is not set: create a write token for the bot account at"
        " https://huggingface.co/settings/tokens"
    ]


async def _seed(store: Store) -> None:
    for n, status in ((1, "done"), (2, "dead")):
        where = DiscussionRef("model", "org/name", n)
        mention = Mention(f"{n:024x}", "u", "@hub-bot hi", where, "t", False, False)
        await store.enqueue(Enqueue(mention, f"w{n}"))
        job = await store.claim(60)
        assert job is not None
        reason = "replied" if status == "done" else "model: HTTP 503: down"
        await store.finish(job.id, status, reason, reply_id="r1" if status == "done" else None)
    store.record_delivery("w1", "discussion.comment/create", "org/name", 202, "queued", None, 1)


def with_store(env: dict[str, str], use: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = await open_store(store_options(load_settings(env, env_file=None, required=())))
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(run())


def test_jobs_list_and_show_need_no_token(tmp_path: Path, backend: dict[str, str]) -> None:
    env = backend
    with_store(env, _seed)

    listed = cli(tmp_path, "jobs", "list", env=env)
    dead = cli(tmp_path, "jobs", "list", "--status", "dead", env=env)
    shown = cli(tmp_path, "jobs", "show", f"{1:024x}", env=env)
    missing = cli(tmp_path, "jobs", "show", "nope", env=env)

    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 2
    assert "dead" in dead.stdout and "model: HTTP 503: down" in dead.stdout
    assert len(dead.stdout.splitlines()) == 1
    assert "models/org/name#1" in shown.stdout and "delivery w1" in shown.stdout
    assert missing.returncode == 1 and missing.stderr.startswith("error: no job 'nope'")


def test_jobs_retry_requeues_a_dead_job_and_force_answers_a_done_one(
    tmp_path: Path, backend: dict[str, str]
) -> None:
    env = backend
    with_store(env, _seed)

    dead = cli(tmp_path, "jobs", "retry", "2", env=env)  # by job number
    done = cli(tmp_path, "jobs", "retry", f"{1:024x}", env=env)  # by comment id
    forced = cli(tmp_path, "jobs", "retry", f"{1:024x}", "--force", env=env)
    missing = cli(tmp_path, "jobs", "retry", "99", env=env)

    assert dead.returncode == 0, dead.stderr
    assert dead.stdout.strip() == f"queued another attempt for job 2 (comment {2:024x})"
    assert done.returncode == 1 and "--force posts a fresh answer" in done.stderr
    assert forced.returncode == 0 and "a fresh answer" in forced.stdout
    assert missing.returncode == 1 and missing.stderr.startswith("error: no job '99'")
    assert with_store(env, Store.depth) == 2


def test_send_delivers_a_saved_payload_like_the_hub(client: httpx.Client, tmp_path: Path) -> None:
    payload = str(PAYLOADS / "comment_create_mention.json")
    url = f"{client.base_url}/webhook"
    secret = {"WEBHOOK_SECRET": WEBHOOK_SECRET}

    sent = cli(tmp_path, "send", payload, "--url", url, env=secret)
    again = cli(tmp_path, "send", payload, "--url", url, env=secret)
    wrong = cli(tmp_path, "send", payload, "--url", url, env={"WEBHOOK_SECRET": "nope"})
    down = cli(tmp_path, "send", payload, "--url", "http://127.0.0.1:9/webhook", env=secret)
    garbled = cli(tmp_path, "send", payload, "--url", "http://127.0.0.1:99999x/webhook", env=secret)

    assert sent.returncode == 0 and sent.stdout.startswith('202 {"status": "queued"')
    assert again.stdout.startswith('200 {"status": "duplicate"')
    assert wrong.returncode == 1 and wrong.stdout.startswith("403")
    assert down.returncode == 1 and down.stderr.startswith("error: cannot reach")
    assert garbled.returncode == 1
    assert garbled.stderr.strip().splitlines() == [
        "error: --url 'http://127.0.0.1:99999x/webhook' is not a valid URL:"
        " give http://HOST:PORT/webhook"
    ]


def test_job_mode_answers_the_payload_in_its_environment(tmp_path: Path, fakes: Fakes) -> None:
    env = bot_environment(
        tmp_path, fakes, WEBHOOK_PAYLOAD=json.dumps(load_payload("comment_create_mention"))
    )
    del env["WEBHOOK_SECRET"]  # a Job has no webhook secret to check

    answered = cli(tmp_path, "job", env=env)
    again = cli(tmp_path, "job", env=env)

    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.startswith("replied: comment")
    assert again.returncode == 0 and again.stdout.startswith("duplicate")
    assert len(fakes.hub.comments) == 1


@pytest.mark.parametrize(
    ("payload", "code", "says"),
    [
        (load_payload("repo_content_update"), 0, "ignored: scope"),
        (load_payload("comment_create_by_bot"), 0, "ignored: comment was written by the bot"),
        ("not json", 1, "error: WEBHOOK_PAYLOAD is not a webhook payload"),
        ({"event": {"action": 1}}, 1, "error: WEBHOOK_PAYLOAD is not a webhook payload"),
        ("", 1, "error: WEBHOOK_PAYLOAD is empty"),
    ],
)
def test_job_mode_exit_codes(
    tmp_path: Path, fakes: Fakes, payload: object, code: int, says: str
) -> None:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    env = bot_environment(tmp_path, fakes, WEBHOOK_PAYLOAD=raw)

    result = cli(tmp_path, "job", env=env)

    assert result.returncode == code
    assert says in result.stdout + result.stderr
    assert fakes.hub.comments == []


def test_job_mode_failure_exits_non_zero(tmp_path: Path, fakes: Fakes) -> None:
    fakes.model.enqueue(Scripted(400, {"error": "Model not supported"}))
    env = bot_environment(
        tmp_path,
        fakes,
        FAILURE_NOTICE="false",
        WEBHOOK_PAYLOAD=json.dumps(load_payload("comment_create_mention")),
    )

    result = cli(tmp_path, "job", env=env)

    assert result.returncode == 1
    assert result.stdout.startswith("not answered: model: HTTP 400: Model not supported")


def test_webhooks_are_created_listed_changed_and_deleted_through_the_hub_api(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes, PUBLIC_URL="https://me-bot.hf.space")

    watch = ("--watch", "model:acme/m", "--watch", "org:acme")
    created = cli(tmp_path, "webhooks", "create", *watch, env=env)
    [hook_id] = fakes.hub.webhooks
    listed = cli(tmp_path, "webhooks", "list", env=env)
    other = "https://other.example/webhook"
    updated = cli(tmp_path, "webhooks", "update", hook_id, "--url", other, env=env)
    disabled = cli(tmp_path, "webhooks", "disable", hook_id, env=env)
    enabled = cli(tmp_path, "webhooks", "enable", hook_id, env=env)
    deleted = cli(tmp_path, "webhooks", "delete", hook_id, env=env)
    unknown = cli(tmp_path, "webhooks", "disable", "nope", env=env)

    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"created {hook_id}  enabled  https://me-bot.hf.space/webhook")
    assert "watched=model:acme/m,org:acme  domains=discussion" in created.stdout
    sent = [
        r.body for r in fakes.hub.requests if r.method == "POST" and r.path.endswith("webhooks")
    ]
    assert sent == [
        {
            "watched": [{"type": "model", "name": "acme/m"}, {"type": "org", "name": "acme"}],
            "domains": ["discussion"],
            "url": "https://me-bot.hf.space/webhook",
            "secret": WEBHOOK_SECRET,
        }
    ]
    assert hook_id in listed.stdout
    assert "https://other.example/webhook  watched=model:acme/m,org:acme" in updated.stdout
    assert disabled.stdout.startswith(f"disabled {hook_id}  disabled")
    assert enabled.stdout.startswith(f"enabled {hook_id}  enabled")
    assert deleted.stdout.strip() == f"deleted {hook_id}"
    assert fakes.hub.webhooks == {}
    assert unknown.returncode == 1 and "HTTP 404" in unknown.stderr
    everything = "".join(r.stdout + r.stderr for r in (created, listed, updated, disabled, enabled))
    assert WEBHOOK_SECRET not in everything and TOKEN not in everything
    assert all(r.authorization == f"Bearer {TOKEN}" for r in fakes.hub.requests)


def test_webhooks_list_shows_a_suspended_webhook_as_suspended_with_the_fix(
    tmp_path: Path, fakes: Fakes
) -> None:
    fakes.hub.webhooks["654bbbc16f2ec14d77f109cc"] = {
        "id": "654bbbc16f2ec14d77f109cc",
        "url": "https://me-bot.hf.space/webhook",
        "watched": [{"type": "model", "name": "acme/m"}],
        "domains": ["discussion"],
        "disabled": "suspended-after-failure",
    }

    listed = cli(tmp_path, "webhooks", "list", env=bot_environment(tmp_path, fakes))

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(
        "654bbbc16f2ec14d77f109cc  suspended (the Hub stopped it after failed deliveries: fix"
        " the cause, see its Activity tab, then python -m bot webhooks enable"
        " 654bbbc16f2ec14d77f109cc)  https://me-bot.hf.space/webhook"
    )
    assert "no secret (every delivery is refused)" in listed.stdout


def test_no_command_prints_the_token_an_upstream_quotes_back(tmp_path: Path, fakes: Fakes) -> None:
    quoted = {"error": f"Invalid credentials in Authorization header: Bearer {TOKEN} ({TOKEN})"}
    fakes.hub.webhooks["654bbbc16f2ec14d77f109cc"] = {
        "id": "654bbbc16f2ec14d77f109cc",
        "url": f"https://me-bot.hf.space/webhook/{TOKEN}",
        "watched": [{"type": "model", "name": TOKEN}],
        "domains": ["discussion"],
        "disabled": False,
        "secret": None,
    }
    env = bot_environment(tmp_path, fakes)

    fakes.hub.enqueue(Scripted(400, quoted, on="whoami"))
    checked = cli(tmp_path, "check", env=env)
    listed = cli(tmp_path, "webhooks", "list", env=env)
    fakes.model.enqueue(Scripted(400, quoted))
    previewed = cli(tmp_path, "preview", "--comment", "@hub-bot hi", "--generate", env=env)
    fakes.hub.enqueue(Scripted(400, quoted, on="whoami"))
    sent = cli(tmp_path, "send", "--comment", "hi", env=env)

    for result in (checked, listed, previewed, sent):
        shown = result.stdout + result.stderr
        assert "Invalid credentials" in shown or "654bbbc16f2ec14d77f109cc" in shown, shown
        assert TOKEN not in shown and "[redacted]" in shown


async def _seed_hostile(store: Store) -> None:
    where = DiscussionRef("model", "org/name", 1)
    mention = Mention(f"{1:024x}", "u", "@hub-bot hi", where, "t", False, False)
    await store.enqueue(Enqueue(mention, "w\x1b[31m\u2028forged"))
    job = await store.claim(60)
    assert job is not None
    reason = "model: HTTP 500: \x1b]52;c;ZXZpbA==\x07\x1b[2J\nforged line\u2028\x85"
    await store.finish(job.id, "done", reason, reply_id="r1", reply_text="ok\x1b[8m\u2028hidden")


def test_jobs_list_and_show_print_control_characters_escaped(
    tmp_path: Path, backend: dict[str, str]
) -> None:
    with_store(backend, _seed_hostile)

    listed = cli(tmp_path, "jobs", "list", env=backend)
    shown = cli(tmp_path, "jobs", "show", "1", env=backend)

    assert listed.returncode == 0 and shown.returncode == 0, listed.stderr + shown.stderr
    assert len(listed.stdout.splitlines()) == 1
    assert "\\u001b]52;c;ZXZpbA==\\u0007\\u001b[2J\\nforged line\\u2028\\u0085" in listed.stdout
    assert "ok\\u001b[8m\\u2028hidden" in shown.stdout
    for output in (listed.stdout, shown.stdout):
        assert not any(c in output for c in "\x1b\x07\x85\u2028")
