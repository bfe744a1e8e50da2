"""The three backends against a fake that validates as real servers do: what they send, what
they read back (never a reasoning model's thinking), and how a refusal becomes a reason an
operator can act on."""

from __future__ import annotations

import httpx
import pytest

from bot.answer.prompt_context import SAMPLE_CONTEXT
from bot.answer.prompts import Prompts
from bot.errors import TransientError, UpstreamError
from bot.inference.models import GenerationParameters, Model, model_for
from bot.inference.reasoning import REASONING_ROOM, ReasonedOnly, without_reasoning
from bot.inference.routing import Api, Route
from bot.upstream import RetryPolicy, error_from_response
from tests.botprocess import ROOT
from tests.conftest import RecordedSleep
from tests.fakes import FakeModel, Scripted

pytestmark = pytest.mark.anyio
PROMPTS = Prompts(ROOT / "prompts").for_repo("org/name")
URLS = {
    "text-generation": "http://model.test/models/bigscience/bloom",
    "completions": "http://model.test/featherless-ai/v1/completions",
    "chat": "http://model.test/together/v1/chat/completions",
}


def backend(
    api: Api,
    fake: FakeModel,
    temperature: float = 0.7,
    top_p: float = 0.9,
    sleep: RecordedSleep | None = None,
) -> Model:
    route = Route(api, URLS[api], "bigscience/bloom", None if api == "text-generation" else "p-id")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    retry = RetryPolicy(budget=60, sleep=sleep or RecordedSleep())
    return model_for(route, http, GenerationParameters(32, temperature, top_p), retry)


async def generate(model: Model) -> str:
    return await model.generate(model.build(PROMPTS, SAMPLE_CONTEXT))


async def test_greedy_text_generation_sends_no_temperature_and_tgi_accepts_it(
    model: FakeModel,
) -> None:
    answer = await generate(backend("text-generation", model, temperature=0, top_p=1))

    assert answer == model.reply
    [request] = model.requests
    assert request.body["parameters"] == {
        "max_new_tokens": 32,
        "do_sample": False,
        "return_full_text": False,
        "stop": ["\nUser:", "\nbot:", "\nsomeone:"],
    }


@pytest.mark.parametrize("api", ["completions", "chat"])
async def test_openai_style_backends_send_greedy_as_zero_and_leave_top_p_of_one_out(
    api: Api, model: FakeModel
) -> None:
    await generate(backend(api, model, temperature=0, top_p=1))

    [request] = model.requests
    assert request.body["temperature"] == 0
    assert "top_p" not in request.body
    assert request.body["model"] == "p-id"


async def test_completions_send_the_completion_prompt_and_read_the_text(
    model: FakeModel,
) -> None:
    answer = await generate(backend("completions", model))

    [request] = model.requests
    assert request.path == "/featherless-ai/v1/completions"
    assert list(request.body) == ["model", "prompt", "max_tokens", "temperature", "top_p", "stop"]
    assert request.body["prompt"] == PROMPTS.completion(SAMPLE_CONTEXT)
    assert request.body["prompt"].endswith("bot:")
    assert request.body["stop"] == ["\nUser:", "\nbot:", "\nsomeone:"]
    assert answer == model.reply


async def test_a_backend_that_refuses_stop_is_asked_once_more_without_it(
    model: FakeModel,
) -> None:
    model.refuses_stop = True

    answer = await generate(backend("text-generation", model))

    assert answer == model.reply
    first, second = model.requests
    assert "stop" in first.body["parameters"]
    assert "stop" not in second.body["parameters"]
    assert second.body["parameters"]["max_new_tokens"] == 32


async def test_the_routers_error_envelope_gives_its_message_not_a_dict(model: FakeModel) -> None:
    message = "The requested model 'x/y' is not supported by any provider you have enabled."
    model.enqueue(
        Scripted(
            400,
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_supported",
                }
            },
        )
    )

    with pytest.raises(UpstreamError) as caught:
        await generate(backend("chat", model))

    assert caught.value.detail == message
    assert (caught.value.code, caught.value.request_id) == ("model_not_supported", "Root=1-fake-1")
    assert "{" not in caught.value.summary().split("(")[0]
    assert "choose a served INFERENCE_MODEL" in caught.value.hint


async def test_credits_used_up_is_not_retried_and_names_the_billing(model: FakeModel) -> None:
    sleeps = RecordedSleep()
    model.enqueue(
        Scripted(
            402,
            {
                "error": "You have exceeded your monthly included credits for Inference"
                " Providers. Subscribe to PRO to get 20x more monthly included"
                " credits."
            },
        ),
    )

    with pytest.raises(UpstreamError) as caught:
        await generate(backend("completions", model, sleep=sleeps))

    assert not isinstance(caught.value, TransientError)
    assert sleeps.waits == []
    assert "exceeded your monthly included credits" in caught.value.detail
    assert "https://huggingface.co/settings/billing" in caught.value.hint


def test_the_hubs_rate_limit_header_means_wait_only_on_a_429_with_nothing_left() -> None:
    headers = {"RateLimit": '"api";r=0;t=55'}
    every_answer = {"RateLimit": '"api";r=120;t=280'}

    limited = error_from_response(httpx.Response(429, headers=headers), "Hub")
    five_hundred = error_from_response(httpx.Response(502, headers=headers), "Hub")
    still_left = error_from_response(httpx.Response(429, headers=every_answer), "Hub")

    assert isinstance(limited, TransientError) and limited.retry_after == 55
    assert isinstance(five_hundred, TransientError) and five_hundred.retry_after is None
    assert isinstance(still_left, TransientError) and still_left.retry_after is None


async def test_a_5xx_with_a_long_rate_limit_window_is_retried_promptly(model: FakeModel) -> None:
    sleeps = RecordedSleep()
    model.enqueue(Scripted(502, {"error": "bad gateway"}, headers={"RateLimit": '"api";r=0;t=300'}))

    answer = await generate(backend("chat", model, sleep=sleeps))

    assert answer == model.reply
    [wait] = sleeps.waits
    assert wait < 30


@pytest.mark.parametrize(
    ("content", "answer"),
    [
        ("<think>The card says MIT.</think>\n\nIt is MIT.", "It is MIT."),
        ("The template opened the thought.</think>It is MIT.", "It is MIT."),
        ("It is MIT.<think>an aside</think> Really.", "It is MIT. Really."),
        ("<think>cut off while thinking", ""),
        ("It is MIT.", "It is MIT."),
    ],
)
def test_thinking_is_cut_from_the_answer(content: str, answer: str) -> None:
    assert without_reasoning(content) == (answer, content != answer)


@pytest.mark.parametrize("api", ["completions", "chat"])
async def test_reasoning_beside_or_inside_the_answer_is_not_the_answer(
    api: Api, model: FakeModel
) -> None:
    model.reasoning = "Let me look at the card first."
    model.think = api == "completions"  # chat sends it as reasoning_content

    answer = await generate(backend(api, model))

    assert answer == model.reply


async def test_only_reasoning_is_asked_again_once_with_room_then_fails_for_good(
    model: FakeModel,
) -> None:
    model.reasoning = "Still thinking."
    model.thinks_for = 10_000

    with pytest.raises(ReasonedOnly) as caught:
        await generate(backend("chat", model))

    assert [r.body["max_tokens"] for r in model.requests] == [32, 32 + REASONING_ROOM]
    assert not isinstance(caught.value, TransientError)
    assert "REASONING_EFFORT" in caught.value.hint
