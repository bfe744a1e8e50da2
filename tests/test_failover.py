"""Providers that fail, against a fake router that refuses what the real one refuses: the next
live provider is asked, one that says it does not serve the model is not asked again, and every
failure keeps the router's own words and request id."""

from __future__ import annotations

import httpx
import pytest

from bot.answer.prompt_context import SAMPLE_CONTEXT
from bot.answer.prompts import Prompts
from bot.errors import ModelNotServed, TransientError, UpstreamError
from bot.inference.models import GenerationParameters, Model, model_for
from bot.inference.routing import Route
from bot.upstream import RetryPolicy
from tests.botprocess import ROOT
from tests.conftest import RecordedSleep
from tests.fakes import TOKEN, FakeHub, FakeModel, Scripted

pytestmark = pytest.mark.anyio
PROMPTS = Prompts(ROOT / "prompts").for_repo("org/name")
ROUTER = "http://router.test"
CHAT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def completions(provider: str, provider_id: str = "bigscience/bloom") -> Route:
    path = "/v1/openai/completions" if provider == "deepinfra" else "/v1/completions"
    url = f"{ROUTER}/{provider}{path}"
    return Route("completions", url, "bigscience/bloom", provider_id, provider, "text-generation")


def chat(model: str) -> Route:
    url = f"{ROUTER}/v1/chat/completions"
    return Route("chat", url, CHAT_MODEL, model, None, "conversational", "fastest")


@pytest.fixture
def router(hub: FakeHub, model: FakeModel) -> FakeModel:
    hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    hub.serve_model("bigscience/bloom", "deepinfra", "text-generation")
    hub.serve_model(CHAT_MODEL, "together", "conversational")
    model.as_router(lambda: hub.models)
    return model


def backend(
    fake: FakeModel,
    route: Route,
    *fallbacks: Route,
    token: str = TOKEN,
    sleeps: RecordedSleep | None = None,
    bill_to: str | None = None,
) -> Model:
    http = httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"} if token else {},
        transport=httpx.ASGITransport(app=fake.app),
    )
    retry = RetryPolicy(budget=60, max_attempts=3, sleep=sleeps or RecordedSleep())
    chosen = Route(**{**route.__dict__, "fallbacks": fallbacks})
    parameters = GenerationParameters(32, 0.7, 0.9)
    return model_for(chosen, http, parameters, retry, bill_to=bill_to)


async def generate(model: Model) -> str:
    return await model.generate(model.build(PROMPTS, SAMPLE_CONTEXT))


async def test_the_fake_router_refuses_no_token_a_wrong_model_and_a_wrong_path(
    router: FakeModel,
) -> None:
    with pytest.raises(UpstreamError) as no_token:
        await generate(backend(router, chat(f"{CHAT_MODEL}:fastest"), token=""))
    with pytest.raises(ModelNotServed) as unknown:
        await generate(backend(router, chat("nobody/serves-this:fastest")))
    with pytest.raises(ModelNotServed) as wrong_provider:
        await generate(backend(router, chat(f"{CHAT_MODEL}:groq")))
    with pytest.raises(ModelNotServed) as wrong_id:
        await generate(backend(router, completions("featherless-ai", "not-its-id")))
    wrong_path = Route(**{**completions("deepinfra").__dict__, "url": f"{ROUTER}/deepinfra/v1/x"})
    with pytest.raises(ModelNotServed) as not_found:
        await generate(backend(router, wrong_path))

    assert no_token.value.status == 401 and not isinstance(no_token.value, TransientError)
    assert "Invalid username or password" in no_token.value.detail
    assert "INFERENCE_TOKEN" in no_token.value.hint
    assert unknown.value.status == 400 and "not supported by any provider" in unknown.value.detail
    assert wrong_provider.value.status == 400
    assert "Model not supported by provider featherless-ai" in wrong_id.value.detail
    assert not_found.value.status == 404


async def test_a_provider_down_is_followed_by_the_next_then_asked_after_it(
    router: FakeModel,
) -> None:
    router.enqueue(Scripted(502, {"error": "bad gateway"}, on="featherless-ai", sticky=True))
    model = backend(router, completions("featherless-ai"), completions("deepinfra"))

    first = await generate(model)
    second = await generate(model)

    assert first == second == router.reply
    assert [r.path.split("/")[1] for r in router.requests] == [
        "featherless-ai",
        "deepinfra",
        "deepinfra",
    ]


async def test_a_provider_that_does_not_serve_the_model_is_not_asked_again(
    router: FakeModel,
) -> None:
    router.enqueue(
        Scripted(404, {"error": "Model not found"}, on="featherless-ai"),
        Scripted(503, {"error": "overloaded"}, on="deepinfra"),
    )
    model = backend(router, completions("featherless-ai"), completions("deepinfra"))

    answer = await generate(model)

    assert answer == router.reply
    # 404 at featherless-ai, 503 at deepinfra, waited, then deepinfra alone.
    assert [r.path.split("/")[1] for r in router.requests] == [
        "featherless-ai",
        "deepinfra",
        "deepinfra",
    ]


async def test_every_provider_refusing_the_model_asks_for_the_route_again(
    router: FakeModel,
) -> None:
    sleeps = RecordedSleep()
    not_supported = {"error": {"message": "not here", "code": "model_not_supported"}}
    router.enqueue(
        Scripted(400, not_supported, on="featherless-ai"),
        Scripted(400, not_supported, on="deepinfra"),
    )
    model = backend(router, completions("featherless-ai"), completions("deepinfra"), sleeps=sleeps)

    with pytest.raises(ModelNotServed):
        await generate(model)
    with pytest.raises(ModelNotServed, match="no provider left to ask"):
        await generate(model)

    assert len(router.requests) == 2 and sleeps.waits == []


async def test_a_refusal_that_is_the_accounts_is_not_passed_to_the_next_provider(
    router: FakeModel,
) -> None:
    router.enqueue(Scripted(402, {"error": "credits used up"}, on="featherless-ai"))
    model = backend(router, completions("featherless-ai"), completions("deepinfra"))

    with pytest.raises(UpstreamError) as caught:
        await generate(model)

    assert caught.value.status == 402
    assert len(router.requests) == 1


async def test_error_headers_and_the_request_id_are_kept_in_the_reason(router: FakeModel) -> None:
    router.enqueue(
        Scripted(
            400,
            {"error": "Bad request"},
            headers={
                "X-Error-Code": "InvalidParameter",
                "X-Error-Message": "max_tokens is too large",
                "X-Request-Id": "req-0123",
            },
        )
    )

    with pytest.raises(UpstreamError) as caught:
        await generate(backend(router, completions("featherless-ai")))

    error = caught.value
    assert (error.detail, error.code) == (
        "max_tokens is too large; Bad request",
        "InvalidParameter",
    )
    assert "[request req-0123]" in error.summary()


async def test_the_paying_organisation_goes_to_the_router_only(router: FakeModel) -> None:
    own = Route("chat", "http://my-vllm.test/v1/chat/completions", CHAT_MODEL, CHAT_MODEL)
    plain = FakeModel()

    await generate(backend(router, chat(f"{CHAT_MODEL}:fastest"), bill_to="acme"))
    await generate(backend(plain, own, bill_to="acme"))

    assert router.headers[0]["x-hf-bill-to"] == "acme"
    assert "x-hf-bill-to" not in plain.headers[0]
