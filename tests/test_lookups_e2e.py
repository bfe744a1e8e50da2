"""Answers that look things up, proven on the real `python -m bot` against the fakes of the
Hub, the model and the dataset viewer: for each source, a question that needs it puts the fact
in what the model is asked and a link at the revision under the reply; a source that fails is
left out and named in the job's reason, and the reply is still posted. Completions (BLOOM)
here; chat with tools in test_lookups_tools.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.botprocess import (
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import load_payload, mention_in
from tests.fakes import TOKEN, Scripted, serve_in_thread
from tests.fakes.viewer import FakeViewer

REPO = "some-user/some-repo"
SHA = "b" * 40
WEB = f"https://huggingface.co/{REPO}"
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "max_position_embeddings": 131072,
    "num_hidden_layers": 32,
    "torch_dtype": "bfloat16",
}
MODEL_INDEX = [{"name": "llm", "results": [{
    "task": {"type": "text-generation"},
    "dataset": {"name": "MMLU", "type": "cais/mmlu"},
    "metrics": [{"type": "acc", "value": 68.4, "name": "accuracy"}],
}]}]  # fmt: skip
DATASET = "some-org/speech-corpus"
SPACE = "some-user/demo-space"


@pytest.fixture
def viewer() -> Iterator[tuple[FakeViewer, str]]:
    fake = FakeViewer()
    with serve_in_thread(fake.app) as url:
        yield fake, url


def started(tmp_path: Path, fakes: Fakes, bots: list[BotProcess], **settings: str) -> BotProcess:
    unlimited = {"REPLIES_PER_AUTHOR_HOUR": "0", "REPLIES_PER_DISCUSSION_HOUR": "0"}
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, **unlimited, **settings))
    bots.append(bot)
    wait_healthy(bot)
    return bot


def asking(num: int, text: str) -> dict[str, Any]:
    payload = mention_in(num)
    payload["comment"]["content"] = f"@hub-bot {text}"
    return payload


def ask(bot: BotProcess, fakes: Fakes, payload: dict[str, Any]) -> tuple[str, str]:
    """Deliver; the prompt the model was asked and the reply posted."""
    replies = len(fakes.hub.comments) + 1
    assert bot.deliver(payload).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) >= replies)
    posted = str(fakes.hub.comments[-1].body["comment"])
    return str(fakes.model.requests[-1].body["inputs"]), posted


def reasons(bot: BotProcess, count: int) -> list[str]:
    eventually(lambda: bot.output().count("outcome=replied") >= count, what="the outcomes")
    lines = [line for line in bot.output().splitlines() if "outcome=replied" in line]
    return [line.split("reason=", 1)[1] for line in lines]


def a_model(fakes: Fakes) -> None:
    fakes.hub.repo(
        "model", REPO, sha=SHA,
        cardData={"license": "llama3.1", "model-index": MODEL_INDEX},
        safetensors={"parameters": {"BF16": 8_030_261_248}, "total": 8_030_261_248},
    )  # fmt: skip
    fakes.hub.add_file("model", REPO, "config.json", json.dumps(CONFIG))
    fakes.hub.add_file("model", REPO, "llm-Q4_K_M.gguf", b"GGUF", lfs_size=4_900_000_000)
    fakes.hub.add_file("model", REPO, "scripts/train.py", "optimizer = AdamW(lr=3e-4)\n")


def test_each_model_source_reaches_the_prompt_and_is_cited_at_the_revision(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    a_model(fakes)
    bot = started(tmp_path, fakes, bots)

    prompt, posted = ask(bot, fakes, asking(1, "What is the context length?"))
    assert "- Context length: 131,072 tokens (config.json max_position_embeddings)" in prompt
    assert "<lookup>\nconfig.json: architecture: LlamaForCausalLM" in prompt
    assert f"[config.json]({WEB}/blob/{SHA}/config.json)" in posted
    assert f"/{REPO}/resolve/{SHA}/config.json" in [r.path for r in fakes.hub.requests]

    prompt, posted = ask(bot, fakes, asking(2, "How many parameters, in what dtype? Any GGUF?"))
    assert "Parameters: 8,030,261,248 (BF16)" in prompt and "GGUF (Q4_K_M)" in prompt
    assert f"[files]({WEB}/tree/{SHA})" in posted

    prompt, posted = ask(bot, fakes, asking(3, "What scores does it report?"))
    assert "text-generation on MMLU: accuracy = 68.4" in prompt
    assert f"({WEB}/blob/{SHA}/README.md)" in posted

    prompt, posted = ask(bot, fakes, asking(4, "What does train.py do with the learning rate?"))
    assert "optimizer = AdamW(lr=3e-4)" in prompt
    assert f"[scripts/train.py]({WEB}/blob/{SHA}/scripts/train.py)" in posted

    assert all("api/" not in link and TOKEN not in link
               for link in re.findall(r"\]\((.*?)\)", posted))  # fmt: skip
    assert not [r for r in fakes.hub.requests if r.path.endswith(".gguf")]  # LFS: never fetched
    assert reasons(bot, 4) and "sources=1" in bot.output() and "lookups_ms=" in bot.output()
    shown = run_bot(tmp_path, bot_environment(tmp_path, fakes), "jobs", "show", "1")
    assert "sources: config.json" in shown.stdout, shown.stderr
    page = httpx.get(bot.url + "/", timeout=5).text
    assert "Sources: scripts/train.py" in page and "Sources: files" in page


def test_a_model_source_that_fails_is_named_and_the_reply_still_posted(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.repo("model", REPO, sha=SHA)["siblings"].append({"rfilename": "config.json"})
    fakes.hub.add_file("model", REPO, "big/config.json", "{}")
    bot = started(tmp_path, fakes, bots, RETRY_BUDGET="0")

    for num, question in enumerate(
        ["What is the context length?", "How many parameters?", "Any benchmark scores?",
         "What does train.py do?"], start=1,
    ):  # fmt: skip
        _, posted = ask(bot, fakes, asking(num, question))
        assert "Sources:" not in posted  # no weights: a fact the model is told, not cited

    found = reasons(bot, 4)
    assert found[0].startswith('"replied without config.json (HTTP 404)"')
    assert found[1].startswith("replied ")
    assert found[2].startswith('"replied without the evaluation results (the card declares')
    assert found[3].startswith('"replied reply=') or found[3].startswith("replied ")


def test_a_5_mb_config_never_makes_a_large_prompt(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.repo("model", REPO, sha=SHA)
    fakes.hub.add_file("model", REPO, "config.json", json.dumps({**CONFIG, "x": "y" * 5_000_000}))
    bot = started(tmp_path, fakes, bots)

    prompt, _ = ask(bot, fakes, asking(1, "what is the context length of config.json?"))

    assert len(prompt) < 8000
    assert reasons(bot, 1)[0].startswith('"replied without config.json (larger than 262,144 bytes')


def test_the_dataset_viewer_its_rows_and_its_error(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess], viewer: tuple[FakeViewer, str]
) -> None:
    fake, url = viewer
    fake.add_dataset(DATASET, [{"audio_path": "a.wav", "text": "hello " * 200_000}])
    bot = started(tmp_path, fakes, bots, DATASET_VIEWER_URL=url)
    payload = load_payload("discussion_create_mention")  # "is there a test split?"

    prompt, posted = ask(bot, fakes, payload)
    assert "- Dataset viewer: works (viewer, preview, search, filter)" in prompt
    assert "Splits (config/split): default/train" in prompt and "Row 0: audio_path: a.wav" in prompt
    assert len(prompt) < 8000  # a 1 MB row is cut
    assert f"[dataset viewer](https://huggingface.co/datasets/{DATASET}/viewer)" in posted

    fake.datasets.clear()
    fake.fail(DATASET, "StreamingRowsError", "Cannot load the dataset split (in streaming mode)",
              "ValueError", "Bad split: train. Available splits: ['test']")  # fmt: skip
    payload["comment"]["id"] = "f" * 24
    prompt, _ = ask(bot, fakes, payload)
    assert "Error (StreamingRowsError): Cannot load the dataset split" in prompt
    assert "Cause: ValueError: Bad split: train." in prompt

    fake.enqueue(Scripted(503, text="upstream down"), Scripted(503, text="upstream down"))
    payload["comment"]["id"] = "e" * 24
    ask(bot, fakes, payload)
    assert reasons(bot, 3)[2].startswith('"replied without the dataset viewer (HTTP 503)"')
    assert {r.authorization for r in fake.requests} == {f"Bearer {TOKEN}"}


def test_a_viewer_redirecting_to_another_origin_never_gets_the_token(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess], viewer: tuple[FakeViewer, str]
) -> None:
    fake, url = viewer
    elsewhere = FakeViewer()
    for each in (fake, elsewhere):
        each.add_dataset(DATASET, [{"text": "from elsewhere"}])
    with serve_in_thread(elsewhere.app) as other:
        moved = {"Location": f"{other}/splits?dataset={DATASET}"}
        bot = started(tmp_path, fakes, bots, DATASET_VIEWER_URL=url)
        fake.enqueue(Scripted(200, {"viewer": True}), Scripted(302, text="", headers=moved))
        prompt, _ = ask(bot, fakes, load_payload("discussion_create_mention"))

    assert "default/train" in prompt
    assert [(r.path, r.authorization) for r in elsewhere.requests] == [("/splits", None)]
    assert {r.authorization for r in fake.requests} == {f"Bearer {TOKEN}"}


def test_a_space_build_error_and_a_file_of_its_pull_request(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.runtimes[SPACE] = {
        "stage": "BUILD_ERROR",
        "hardware": {"current": None, "requested": "cpu-basic"},
        "errorMessage": "Build failed with exit code: 1."
        " ERROR: No matching distribution for torch==9.9",
    }
    fakes.hub.add_file("space", SPACE, "requirements.txt", "torch==9.9\ngradio\n")
    fakes.hub.open_pull_request("/api/spaces/some-user/demo-space/discussions/2", "")
    bot = started(tmp_path, fakes, bots, RETRY_BUDGET="0")  # a failure is final here
    payload = load_payload("comment_create_mention_space_pr")
    payload["comment"]["content"] = "@hub-bot why does this Space not start? see requirements.txt"

    prompt, posted = ask(bot, fakes, payload)

    assert "Stage: BUILD_ERROR" in prompt and "No matching distribution for torch==9.9" in prompt
    assert "torch==9.9\ngradio" in prompt
    assert f"[Space status](https://huggingface.co/spaces/{SPACE})" in posted
    pr_head = "refs%2Fpr%2F2"
    assert f"(https://huggingface.co/spaces/{SPACE}/blob/{pr_head}/requirements.txt)" in posted
    assert f"/spaces/{SPACE}/resolve/refs/pr/2/requirements.txt" in [
        r.path for r in fakes.hub.requests
    ]

    fakes.hub.enqueue(Scripted(500, {"error": "Internal Error"}, on="runtime"))
    payload["comment"]["id"] = "d" * 24
    payload["comment"]["content"] = "@hub-bot still a build error?"
    ask(bot, fakes, payload)
    assert reasons(bot, 2)[1].startswith('"replied without the Space\'s runtime (HTTP 500)"')


def test_preview_prints_the_sources_read_and_their_text(tmp_path: Path, fakes: Fakes) -> None:
    a_model(fakes)
    url = f"https://huggingface.co/{REPO}/discussions/4"
    env = bot_environment(tmp_path, fakes)

    result = run_bot(tmp_path, env, "preview", "--discussion", url, "--comment",
                     "@hub-bot what is the context length?")  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "=== sources (1 read in" in result.stdout
    assert "- Context length: 131,072 tokens" in result.stdout
    assert f"--- config.json ({WEB}/blob/{SHA}/config.json)" in result.stdout


def test_the_facts_sheet_alone_costs_one_read_kept_per_revision(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    a_model(fakes)
    bot = started(tmp_path, fakes, bots)

    for num in (1, 2, 3):
        prompt, posted = ask(bot, fakes, asking(num, "thanks, that helps"))

    assert "- Context length: 131,072 tokens" in prompt and "Sources:" not in posted
    repo_reads = [
        r.path for r in fakes.hub.requests if REPO in r.path and "discussions" not in r.path
    ]
    assert set(repo_reads) == {
        f"/api/models/{REPO}",
        f"/{REPO}/resolve/{SHA}/README.md",
        f"/{REPO}/resolve/{SHA}/config.json",
        f"/{REPO}/resolve/{SHA}/.hub-bot.yaml",  # the repo's own settings, also once
    }
    assert repo_reads.count(f"/{REPO}/resolve/{SHA}/config.json") == 1
