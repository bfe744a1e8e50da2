"""Which provider, route and task answer: the Hub's mapping read in both forms, chat models
through the router's own route (`id:fastest`, `id:cheapest`, `id:provider`), text-generation
models through every live provider in order, and a plain answer when nothing serves the
model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.config import Secret, Settings
from bot.errors import TransientError
from bot.hub.client import HubClient
from bot.inference.routing import (
    NotServed,
    Route,
    RouteOptions,
    api_from_path,
    choose,
    custom_route,
    parse_mapping,
    resolve,
)
from bot.services.options import find_route, route_options
from bot.upstream import RetryPolicy
from tests.fakes import TOKEN, FakeHub, FakeModel, Scripted

pytestmark = pytest.mark.anyio
ROUTER = "https://router.huggingface.co"


def mapping(**providers: tuple[str, str]) -> dict[str, Any]:
    """{provider: (task, status)} as the model-info route gives it."""
    return {
        "inferenceProviderMapping": {
            name.replace("_", "-"): {"providerId": f"id-at-{name}", "status": status, "task": task}
            for name, (task, status) in providers.items()
        }
    }


def routed(settings: Settings, **changes: Any) -> RouteOptions:
    return route_options(settings.model_copy(update={"inference_url": None, **changes}))


def test_both_forms_of_the_mapping_are_read_and_malformed_entries_skipped() -> None:
    as_dict = parse_mapping(mapping(together=("conversational", "live")))
    as_list = parse_mapping(
        {
            "inferenceProviderMapping": [
                {
                    "provider": "together",
                    "providerId": "id-at-together",
                    "status": "live",
                    "task": "conversational",
                },
                {"provider": "broken"},
                "nonsense",
            ]
        }
    )

    assert as_dict == as_list
    assert [(m.provider, m.provider_id, m.task) for m in as_list] == [
        ("together", "id-at-together", "conversational")
    ]
    assert parse_mapping({"id": "unserved/model"}) == []


def test_the_first_live_provider_picks_the_api_and_the_others_follow(settings: Settings) -> None:
    found = parse_mapping(
        mapping(
            novita=("text-generation", "staging"),
            featherless_ai=("text-generation", "live"),
            together=("conversational", "live"),
            nscale=("text-generation", "error"),
            deepinfra=("text-generation", "live"),
        )
    )

    route = choose(routed(settings), found)

    assert route == Route(
        "completions",
        f"{ROUTER}/featherless-ai/v1/completions",
        "bigscience/bloom",
        "id-at-featherless_ai",
        "featherless-ai",
        "text-generation",
        fallbacks=(
            Route(
                "completions",
                f"{ROUTER}/deepinfra/v1/openai/completions",
                "bigscience/bloom",
                "id-at-deepinfra",
                "deepinfra",
                "text-generation",
            ),
        ),
    )
    assert route.describe().endswith("/featherless-ai/v1/completions, then deepinfra")


def test_entries_in_staging_or_error_are_skipped_not_fatal(settings: Settings) -> None:
    found = parse_mapping(
        mapping(novita=("text-generation", "staging"), nscale=("text-generation", "error"))
    )

    with pytest.raises(LookupError):
        choose(routed(settings), found)
    with_one_live = [*found, *parse_mapping(mapping(together=("text-generation", "live")))]
    assert choose(routed(settings), with_one_live).provider == "together"


def test_a_conversational_task_goes_through_chat_and_providers_keep_their_own_paths(
    settings: Settings,
) -> None:
    chat = choose(routed(settings), parse_mapping(mapping(groq=("conversational", "live"))))
    novita = choose(routed(settings), parse_mapping(mapping(novita=("text-generation", "live"))))

    # The router picks the provider for chat, by INFERENCE_POLICY (fastest unless set).
    assert (chat.api, chat.url, chat.request_model) == (
        "chat",
        f"{ROUTER}/v1/chat/completions",
        "bigscience/bloom:fastest",
    )
    assert chat.describe().startswith("bigscience/bloom via the router's fastest provider")
    assert (novita.api, novita.url) == ("completions", f"{ROUTER}/novita/v3/openai/completions")


def test_the_policy_is_the_suffix_of_the_model_when_no_provider_is_pinned(
    settings: Settings,
) -> None:
    found = parse_mapping(mapping(groq=("conversational", "live")))

    cheapest = choose(routed(settings, inference_policy="cheapest"), found)
    pinned = choose(routed(settings, inference_policy="cheapest", inference_provider="groq"), found)

    assert (cheapest.request_model, cheapest.provider, cheapest.policy) == (
        "bigscience/bloom:cheapest",
        None,
        "cheapest",
    )
    assert (pinned.request_model, pinned.provider, pinned.policy) == (
        "bigscience/bloom:groq",
        "groq",
        None,
    )


def test_hf_inference_keeps_its_own_text_generation_path(settings: Settings) -> None:
    found = parse_mapping(mapping(hf_inference=("text-generation", "live")))

    route = choose(routed(settings), found)

    assert (route.api, route.url) == (
        "text-generation",
        f"{ROUTER}/hf-inference/models/id-at-hf_inference",
    )


def test_a_pinned_provider_and_an_explicit_api_narrow_the_choice(settings: Settings) -> None:
    found = parse_mapping(
        mapping(featherless_ai=("text-generation", "live"), together=("conversational", "live"))
    )

    pinned = choose(routed(settings, inference_provider="together"), found)
    chat = choose(routed(settings, inference_api="chat", inference_provider="together"), found)

    assert pinned.provider == "together" and pinned.api == "chat"
    # An explicit chat API keeps the router's own chat route, with the provider in the name.
    assert (chat.url, chat.request_model) == (
        f"{ROUTER}/v1/chat/completions",
        "bigscience/bloom:together",
    )
    with pytest.raises(LookupError):
        choose(routed(settings, inference_api="completions", inference_provider="together"), found)


def test_the_api_of_a_custom_url_is_read_from_its_path() -> None:
    assert api_from_path("http://tgi:8080/v1/chat/completions") == "chat"
    assert api_from_path("http://vllm:8000/v1/completions/") == "completions"
    assert api_from_path("https://x.endpoints.huggingface.cloud") == "text-generation"
    assert api_from_path("http://tgi:8080/generate") == "text-generation"


@pytest.fixture
def hub_client(hub: FakeHub) -> HubClient:
    http = httpx.AsyncClient(
        base_url="http://hub.test",
        headers={"Authorization": f"Bearer {hub.token}"},
        transport=httpx.ASGITransport(app=hub.app),
    )
    return HubClient(http, RetryPolicy(budget=0))


async def test_the_hub_is_asked_with_the_expand_fields(
    settings: Settings, hub: FakeHub, hub_client: HubClient
) -> None:
    hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")

    route = await resolve(routed(settings), hub_client)

    assert route.provider == "featherless-ai"
    [asked] = hub.requests
    assert asked.path == "/api/models/bigscience/bloom"


async def test_the_mapping_in_list_form_is_read_too(
    settings: Settings, hub: FakeHub, hub_client: HubClient
) -> None:
    hub.mapping_as_list = True
    hub.serve_model("bigscience/bloom", "novita", "text-generation", status="error")
    hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")

    route = await resolve(routed(settings), hub_client)

    assert (route.provider, route.fallbacks) == ("featherless-ai", ())


async def test_an_unserved_model_says_so_and_names_three_served_models(
    settings: Settings, hub: FakeHub, hub_client: HubClient
) -> None:
    hub.add_model("bigscience/bloom", likes=5000)
    for n, likes in enumerate([10, 300, 20, 40]):
        hub.serve_model(f"org/served-{n}", "together", "conversational", likes=likes)
    hub.serve_model("org/staging-only", "novita", "text-generation", status="staging", likes=999)

    with pytest.raises(NotServed) as caught:
        await resolve(routed(settings), hub_client)

    assert str(caught.value) == (
        "bigscience/bloom is not served by any Inference Provider today: set a served model"
        " (INFERENCE_MODEL=org/served-1, INFERENCE_MODEL=org/served-3,"
        " INFERENCE_MODEL=org/served-2), or INFERENCE_URL to your own endpoint running it"
    )


async def test_a_model_the_hub_does_not_know_is_a_definite_answer(
    settings: Settings, hub_client: HubClient
) -> None:
    with pytest.raises(NotServed, match=r"^INFERENCE_MODEL bigscience/bloom cannot be read"):
        await resolve(routed(settings), hub_client)


async def test_a_hub_that_cannot_answer_is_not_a_verdict(
    settings: Settings, hub: FakeHub, hub_client: HubClient
) -> None:
    hub.enqueue(Scripted(503, {"error": "Service Unavailable"}, on="model"))

    with pytest.raises(TransientError):
        await resolve(routed(settings), hub_client)


async def test_a_custom_url_is_probed_for_what_it_serves(
    settings: Settings, model: FakeModel
) -> None:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=model.app))
    chat = route_options(
        settings.model_copy(update={"inference_url": "http://model.test/v1/chat/completions"})
    )

    unknown = await custom_route(chat, http)
    model.served = ("my-org/served-model",)
    told = await custom_route(chat, http)
    model.gone = True
    with pytest.raises(NotServed, match="410 Gone"):
        await custom_route(chat, http)

    assert (unknown.api, unknown.request_model) == ("chat", "model.test")
    assert (told.api, told.model, told.request_model) == (
        "chat",
        "my-org/served-model",
        "my-org/served-model",
    )
    assert model.requests == []  # probes are GETs: nothing was generated


async def test_the_mapping_is_read_with_the_token_that_calls_the_model(settings: Settings) -> None:
    inference_token = "hf_inference_only_0123456789"
    hub = FakeHub(token=inference_token)  # knows that token alone
    hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    as_bot = HubClient(
        httpx.AsyncClient(
            base_url="http://hub.test",
            headers={"Authorization": f"Bearer {TOKEN}"},
            transport=httpx.ASGITransport(app=hub.app),
        ),
        RetryPolicy(budget=0),
    )
    changed = {"inference_url": None, "inference_token": Secret(inference_token)}

    route = await find_route(
        settings.model_copy(update=changed),
        as_bot,
        hub_transport=httpx.ASGITransport(app=hub.app),
    )

    assert route.provider == "featherless-ai"
    assert [r.authorization for r in hub.requests] == [f"Bearer {inference_token}"]
