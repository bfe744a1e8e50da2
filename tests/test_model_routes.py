"""`python -m bot` with the default model settings, against the fake Hub and router: the model
is found at startup, or the bot says plainly that nothing serves it."""

from __future__ import annotations

from pathlib import Path

from tests.botprocess import (
    BotProcess,
    Fakes,
    eventually,
    routed_environment,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import load_payload
from tests.fakes import Scripted

MENTION = load_payload("comment_create_mention")


def answer_one(tmp_path: Path, fakes: Fakes, bots: list[BotProcess], **settings: str) -> str:
    bot = start_bot(tmp_path, routed_environment(tmp_path, fakes, **settings))
    bots.append(bot)
    wait_healthy(bot)
    assert bot.deliver(MENTION).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)
    return bot.output()


def test_bloom_served_by_nobody_stops_the_start_with_one_line(tmp_path: Path, fakes: Fakes) -> None:
    fakes.hub.add_model("bigscience/bloom")
    fakes.hub.serve_model("org/popular-chat", "together", "conversational", likes=900)
    fakes.hub.serve_model("org/base-model", "featherless-ai", "text-generation", likes=100)

    result = run_bot(tmp_path, routed_environment(tmp_path, fakes))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: bigscience/bloom is not served by any Inference Provider today: set a served"
        " model (INFERENCE_MODEL=org/popular-chat, INFERENCE_MODEL=org/base-model), or"
        " INFERENCE_URL to your own endpoint running it"
    ]


def test_bloom_served_for_text_generation_is_asked_through_completions(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model(
        "bigscience/bloom", "featherless-ai", "text-generation", provider_id="bigscience/bloom-p"
    )

    output = answer_one(tmp_path, fakes, bots)

    assert (
        "Model: bigscience/bloom via provider featherless-ai (completions, task text-generation)"
        f" at {fakes.model_url}/featherless-ai/v1/completions" in output
    )
    [request] = fakes.model.requests
    assert request.path == "/featherless-ai/v1/completions"
    assert request.body["model"] == "bigscience/bloom-p"
    assert request.body["prompt"].endswith(f"User: {MENTION['comment']['content']}\n\nhub-bot:")
    assert "written by bigscience/bloom" in fakes.hub.comments[0].body["comment"]


def test_a_conversational_only_model_is_answered_through_chat(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model("meta-llama/Llama-3.1-8B-Instruct", "together", "conversational")

    answer_one(tmp_path, fakes, bots, INFERENCE_MODEL="meta-llama/Llama-3.1-8B-Instruct")

    [request] = fakes.model.requests
    assert request.path == "/together/v1/chat/completions"
    assert request.body["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]


def test_a_hub_that_cannot_say_at_startup_is_asked_again_before_the_first_reply(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    fakes.hub.enqueue(Scripted(503, {"error": "Service Unavailable"}, on="model"))

    output = answer_one(tmp_path, fakes, bots, RETRY_BUDGET="0")

    assert "cannot ask the Hub how bigscience/bloom is served" in output
    assert "Model: bigscience/bloom (how it is served: asked again)" in output
    asked = [r for r in fakes.hub.requests if r.path == "/api/models/bigscience/bloom"]
    assert len(asked) == 2
    eventually(lambda: "outcome=replied" in bots[0].output(), what="the reply's log line")
