"""Lookups as tools for chat models, on the real `python -m bot` against the fakes: the calls a
model makes are run within MAX_TOOL_CALLS and fed back fenced as `role: tool` messages; a path
that leaves the repo gets a short error; a provider refusing tools is asked again without them,
once, and not offered them again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.botprocess import (
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    start_bot,
    wait_healthy,
)
from tests.conftest import mention_in
from tests.fakes import Scripted
from tests.fakes.model import tool_calls

REPO = "some-user/some-repo"
SHA = "b" * 40
CONFIG = {"model_type": "llama", "max_position_embeddings": 131072}


def chat_bot(tmp_path: Path, fakes: Fakes, bots: list[BotProcess], **settings: str) -> BotProcess:
    fakes.hub.repo("model", REPO, sha=SHA)
    fakes.hub.add_file("model", REPO, "config.json", json.dumps(CONFIG))
    env = bot_environment(
        tmp_path, fakes, INFERENCE_URL=f"{fakes.model_url}/v1/chat/completions",
        REPLIES_PER_AUTHOR_HOUR="0", REPLIES_PER_DISCUSSION_HOUR="0", **settings,
    )  # fmt: skip
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)
    return bot


def ask(bot: BotProcess, fakes: Fakes, num: int, text: str = "tell me about it") -> str:
    payload = mention_in(num)
    payload["comment"]["content"] = f"@hub-bot {text}"
    replies = len(fakes.hub.comments) + 1
    assert bot.deliver(payload).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) >= replies)
    return str(fakes.hub.comments[-1].body["comment"])


def tool_messages(body: Any) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def test_a_tool_call_is_run_and_its_result_fed_back_fenced_and_cited(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = chat_bot(tmp_path, fakes, bots)
    fakes.model.enqueue(Scripted(200, tool_calls(("read_file", '{"path": "config.json"}'))))

    posted = ask(bot, fakes, 1)

    first, second = (r.body for r in fakes.model.requests)
    names = [t["function"]["name"] for t in first["tools"]]
    assert names == ["read_file", "config", "weights", "evaluation"]
    assert first["tool_choice"] == "auto"
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_0"
    [result] = tool_messages(second)
    assert result["tool_call_id"] == "call_0"
    assert result["content"].startswith("<lookup>\nconfig.json (https://huggingface.co/")
    assert '"max_position_embeddings": 131072' in result["content"]
    assert f"[config.json](https://huggingface.co/{REPO}/blob/{SHA}/config.json)" in posted


def test_paths_that_leave_the_repo_or_do_not_exist_get_short_errors(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = chat_bot(tmp_path, fakes, bots, MAX_TOOL_CALLS="5")
    asked = ["../secrets.env", "https://evil.example/x.json", "/etc/passwd",
             "other-org/other-repo/config.json", "missing.py"]  # fmt: skip
    calls = [("read_file", json.dumps({"path": p})) for p in asked]
    fakes.model.enqueue(Scripted(200, tool_calls(*calls)))

    posted = ask(bot, fakes, 1)

    results = [m["content"] for m in tool_messages(fakes.model.requests[-1].body)]
    assert results[0].startswith("error: ../secrets.env (a path leaving this repo")
    assert results[1].startswith("error: https://evil.example/x.json (a URL")
    assert results[2].startswith("error: /etc/passwd (an absolute path")
    assert results[3] == (
        "error: other-org/other-repo/config.json (no such file in this repo at this revision)"
    )
    assert results[4] == "error: missing.py (no such file in this repo at this revision)"
    assert fakes.model.requests[-1].body["tool_choice"] == "none"
    assert all(r.path.startswith((f"/api/models/{REPO}", "/api/whoami")) or REPO in r.path
               for r in fakes.hub.requests)  # fmt: skip
    assert "Sources:" not in posted


def test_more_tool_calls_than_max_tool_calls_are_refused_and_the_model_must_answer(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = chat_bot(tmp_path, fakes, bots, MAX_TOOL_CALLS="2")
    three = (("config", "{}"), ("weights", "{}"), ("read_file", '{"path": "config.json"}'))
    fakes.model.enqueue(Scripted(200, tool_calls(*three)))

    ask(bot, fakes, 1)

    first, last = (r.body for r in fakes.model.requests)
    results = [m["content"] for m in tool_messages(last)]
    assert results[0].startswith("<lookup>\nconfig.json")
    assert results[1].startswith("<lookup>\nfiles") and "No weight files" in results[1]
    assert results[2] == "error: at most 2 lookups per reply; answer now"
    assert (first["tool_choice"], last["tool_choice"]) == ("auto", "none")


def test_a_provider_refusing_tools_is_asked_again_without_them_and_it_is_remembered(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.refuses_tools = True
    bot = chat_bot(tmp_path, fakes, bots)

    ask(bot, fakes, 1, "what is the context length?")
    ask(bot, fakes, 2, "what is the context length?")

    offered = ["tools" in r.body for r in fakes.model.requests]
    assert offered == [True, False, False]
    assert "131,072 tokens" in fakes.model.requests[-1].body["messages"][-1]["content"]
    eventually(lambda: bot.output().count("outcome=replied") == 2, what="two replies")


def test_tools_off_offers_none(tmp_path: Path, fakes: Fakes, bots: list[BotProcess]) -> None:
    bot = chat_bot(tmp_path, fakes, bots, TOOLS="off")

    ask(bot, fakes, 1)

    assert ["tools" in r.body for r in fakes.model.requests] == [False]
