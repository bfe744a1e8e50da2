"""`python -m bot` with the default model settings, against the fake Hub and a fake router that
checks requests as the real one does: the model is found at startup (or the bot says plainly
that nothing serves it), chat goes through the router's own route with the policy, a failing
provider is followed by the next, and reasoning never reaches the reply."""

from __future__ import annotations

from pathlib import Path

import pytest

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
CHAT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture(autouse=True)
def strict_router(fakes: Fakes) -> None:
    """The fake router refuses what the real one would, against the fake Hub's mapping."""
    fakes.model.as_router(lambda: fakes.hub.models)


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


def test_a_conversational_model_goes_through_the_routers_chat_route_with_the_policy(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model(CHAT_MODEL, "together", "conversational", provider_id="together-id")

    output = answer_one(tmp_path, fakes, bots, INFERENCE_MODEL=CHAT_MODEL)

    assert f"Model: {CHAT_MODEL} via the router's fastest provider (chat" in output
    [request] = fakes.model.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == f"{CHAT_MODEL}:fastest"
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert "reasoning_effort" not in request.body
    assert "x-hf-bill-to" not in fakes.model.headers[0]


def test_cheapest_reasoning_effort_and_an_organisation_paying_are_sent(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model(CHAT_MODEL, "groq", "conversational")

    answer_one(
        tmp_path,
        fakes,
        bots,
        INFERENCE_MODEL=CHAT_MODEL,
        INFERENCE_POLICY="cheapest",
        REASONING_EFFORT="low",
        BILL_TO="acme-org",
    )

    [request] = fakes.model.requests
    assert request.body["model"] == f"{CHAT_MODEL}:cheapest"
    assert request.body["reasoning_effort"] == "low"
    assert fakes.model.headers[0]["x-hf-bill-to"] == "acme-org"


def test_a_failing_provider_is_followed_by_the_next_live_one_and_stays_behind(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model("bigscience/bloom", "novita", "text-generation", status="staging")
    fakes.hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    fakes.hub.serve_model("bigscience/bloom", "nscale", "text-generation", status="error")
    fakes.hub.serve_model("bigscience/bloom", "deepinfra", "text-generation", provider_id="bloom-d")
    down = Scripted(
        503, {"error": "upstream unavailable"}, headers={"X-Request-Id": "req-down-1"}, sticky=True
    )
    fakes.model.enqueue(Scripted(**{**down.__dict__, "on": "featherless-ai"}))

    output = answer_one(tmp_path, fakes, bots, RETRY_BUDGET="0")

    assert "then deepinfra" in output
    first, second = fakes.model.requests
    assert first.path == "/featherless-ai/v1/completions"
    assert (second.path, second.body["model"]) == ("/deepinfra/v1/openai/completions", "bloom-d")
    failover = next(line for line in output.splitlines() if "model_failover" in line)
    assert "provider=featherless-ai next=deepinfra" in failover
    assert "req-down-1" in failover  # the provider's request id, for its support
    assert "written by bigscience/bloom" in fakes.hub.comments[0].body["comment"]

    # The next mention starts with the provider that answered.
    second_mention = {**MENTION, "comment": {**MENTION["comment"], "id": "f" * 24}}
    assert bots[0].deliver(second_mention).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 2)
    assert fakes.model.requests[2].path == "/deepinfra/v1/openai/completions"


def test_a_reasoning_model_that_ran_out_of_tokens_is_asked_once_more_with_room(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model(CHAT_MODEL, "together", "conversational")
    fakes.model.reasoning = "The user asks about the card. Let me think it through at length."
    fakes.model.thinks_for = 1000

    output = answer_one(tmp_path, fakes, bots, INFERENCE_MODEL=CHAT_MODEL, MAX_NEW_TOKENS="250")

    short, roomy = fakes.model.requests
    assert (short.body["max_tokens"], roomy.body["max_tokens"]) == (250, 250 + 4096)
    posted = fakes.hub.comments[0].body["comment"]
    assert fakes.model.reply in posted
    assert "Let me think" not in posted
    assert "model_reasoned_only" in output


def test_a_model_that_only_ever_reasons_fails_with_a_notice_not_an_empty_reply(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model(CHAT_MODEL, "together", "conversational")
    fakes.model.reasoning = "Thinking forever about the question."
    fakes.model.think = True  # inside content, as <think>...</think>
    fakes.model.thinks_for = 100_000

    output = answer_one(tmp_path, fakes, bots, INFERENCE_MODEL=CHAT_MODEL)

    assert len(fakes.model.requests) == 2
    posted = fakes.hub.comments[0].body["comment"]
    assert "Thinking forever" not in posted and "<think>" not in posted
    dead = next(line for line in output.splitlines() if "outcome=dead" in line)
    assert "the model reasoned and gave no answer" in dead


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
