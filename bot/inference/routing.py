"""Which model answers, through which provider, route and task: found out once, at startup.

Without INFERENCE_URL the Hub is asked how the model is served
(`GET /api/models/{id}?expand[]=inference&expand[]=inferenceProviderMapping`, with the token
that calls the model), and the task of the first live entry decides, as huggingface_hub's
`provider="auto"` does. Entries whose status is `staging` or `error` are skipped.

- `conversational`: the router's own `POST {router}/v1/chat/completions` with `model` the Hub
  id and a suffix, `id:<INFERENCE_PROVIDER>` when pinned, else `id:fastest` or `id:cheapest`
  (INFERENCE_POLICY): the router picks the provider and fails over by itself.
- `text-generation`: the provider's OpenAI-style completions route with the completion prompt,
  for every live provider in the Hub's order (`Route.fallbacks`): the model backend asks the
  next one when one fails. hf-inference keeps its own path (`/models/{id}`).

With INFERENCE_URL the bot talks to that URL alone and asks the Hub nothing about providers;
`auto` reads the API from the URL's path. The URL is probed best-effort (`GET /v1/models`, TGI's
`/info`): only a definite answer (410 Gone) stops the bot, anything else means "cannot tell".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from bot.errors import BotError, UpstreamError
from bot.hub.client import HubClient
from bot.upstream import CallLimits, fetch

Api = Literal["text-generation", "completions", "chat"]
SERVED_TASKS = ("text-generation", "conversational")
# Paths that differ from the OpenAI defaults, per provider and task (huggingface_hub's
# `inference/_providers/*.py`, `_prepare_route`).
_PROVIDER_PATHS = {
    ("cohere", "conversational"): "/compatibility/v1/chat/completions",
    ("deepinfra", "text-generation"): "/v1/openai/completions",
    ("deepinfra", "conversational"): "/v1/openai/chat/completions",
    ("fireworks-ai", "conversational"): "/inference/v1/chat/completions",
    ("groq", "conversational"): "/openai/v1/chat/completions",
    ("novita", "text-generation"): "/v3/openai/completions",
    ("novita", "conversational"): "/v3/openai/chat/completions",
    ("zai-org", "conversational"): "/api/paas/v4/chat/completions",
}
_DEFAULT_PATHS = {"text-generation": "/v1/completions", "conversational": "/v1/chat/completions"}
PROBE_LIMITS = CallLimits(deadline=5.0, max_bytes=1024 * 1024)
SUGGESTIONS = "/api/models?inference_provider=all&pipeline_tag=text-generation&sort=likes&limit=3"


@dataclass(frozen=True)
class RouteOptions:
    """What decides the route: INFERENCE_MODEL (`model`), INFERENCE_API, INFERENCE_PROVIDER,
    INFERENCE_POLICY, the router's URL, HF_ENDPOINT (for the suggestions), and INFERENCE_URL
    when set."""

    model: str
    api: Literal["auto", "text-generation", "completions", "chat"] = "auto"
    provider: str | None = None
    policy: Literal["fastest", "cheapest"] = "fastest"
    router: str = "https://router.huggingface.co"
    hub: str = "https://huggingface.co"
    url: str | None = None
    url_model: str | None = None  # INFERENCE_MODEL as set: what INFERENCE_URL serves


class NotServed(BotError):
    """The model is definitely not served where the bot would ask it; the message says what to
    do instead."""


@dataclass(frozen=True)
class Route:
    """How the model is reached. `request_model` is what is sent as `model` (the provider's own
    id for the model, or `id:policy` on the router's chat route), None to send none;
    `provider` is the pinned or mapped provider, `policy` the router's choice when none is
    pinned; both None for INFERENCE_URL. `fallbacks` are the routes to try, in order, when
    this one fails."""

    api: Api
    url: str
    model: str
    request_model: str | None = None
    provider: str | None = None
    task: str | None = None
    policy: str | None = None
    fallbacks: tuple[Route, ...] = ()

    @property
    def via_router(self) -> bool:
        return self.provider is not None or self.policy is not None

    @property
    def candidates(self) -> tuple[Route, ...]:
        """This route, then its fallbacks."""
        return (self, *self.fallbacks)

    def describe(self) -> str:
        if self.provider:
            via = f"provider {self.provider}"
        elif self.policy:
            via = f"the router's {self.policy} provider"
        else:
            via = "INFERENCE_URL"
        task = f", task {self.task}" if self.task else ""
        then = "".join(f", then {r.provider}" for r in self.fallbacks)
        return f"{self.model} via {via} ({self.api}{task}) at {self.url}{then}"


@dataclass(frozen=True)
class ProviderMapping:
    provider: str
    provider_id: str
    status: str
    task: str


def parse_mapping(body: object) -> list[ProviderMapping]:
    """`inferenceProviderMapping` in both of the Hub's forms: a dict keyed by provider (model
    info) or a list with `provider` inside (model listing). Malformed entries are skipped."""
    raw = body.get("inferenceProviderMapping") if isinstance(body, dict) else None
    entries: list[tuple[object, object]] = []
    if isinstance(raw, dict):
        entries = list(raw.items())
    elif isinstance(raw, list):
        entries = [(e.get("provider"), e) for e in raw if isinstance(e, dict)]
    found = []
    for provider, entry in entries:
        if not isinstance(provider, str) or not isinstance(entry, dict):
            continue
        provider_id, task = entry.get("providerId"), entry.get("task")
        if isinstance(provider_id, str) and isinstance(task, str):
            found.append(ProviderMapping(provider, provider_id, str(entry.get("status")), task))
    return found


def api_from_path(url: str) -> Api:
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/completions"):
        return "completions"
    return "text-generation"


def provider_route(router: str, model: str, mapping: ProviderMapping) -> Route:
    """The router's URL for one provider's mapping of a model."""
    provider, task = mapping.provider, mapping.task
    if provider == "hf-inference":
        base = f"{router}/hf-inference/models/{mapping.provider_id}"
        if task == "text-generation":
            return Route("text-generation", base, model, None, provider, task)
        return Route(
            "chat", f"{base}/v1/chat/completions", model, mapping.provider_id, provider, task
        )
    path = _PROVIDER_PATHS.get((provider, task), _DEFAULT_PATHS[task])
    api: Api = "completions" if task == "text-generation" else "chat"
    return Route(api, f"{router}/{provider}{path}", model, mapping.provider_id, provider, task)


def choose(options: RouteOptions, mappings: list[ProviderMapping]) -> Route:
    """The route for the live providers that fit INFERENCE_API and INFERENCE_PROVIDER: the
    router's chat route when the first is conversational, else the first provider's
    completions route with the others of the same task as fallbacks."""
    api, model, router = options.api, options.model, options.router
    tasks = {"chat": ("conversational",), "auto": SERVED_TASKS}.get(api, ("text-generation",))
    live = [m for m in mappings if m.status == "live" and m.task in tasks]
    if options.provider:
        live = [m for m in live if m.provider == options.provider]
    if api == "text-generation":
        live = [m for m in live if m.provider == "hf-inference"]
    if not live:
        raise LookupError(model)
    if live[0].task == "conversational":
        # The router's own chat route: it picks the provider (or takes the pinned one) and
        # fails over by itself, as huggingface_hub's chat_completion with provider="auto".
        url = f"{router}/v1/chat/completions"
        if options.provider:
            asked = f"{model}:{options.provider}"
            return Route("chat", url, model, asked, options.provider, "conversational")
        asked = f"{model}:{options.policy}"
        return Route("chat", url, model, asked, None, "conversational", options.policy)
    first, *others = [provider_route(router, model, m) for m in live if m.task == live[0].task]
    return replace(first, fallbacks=tuple(others))


async def resolve(options: RouteOptions, hub: HubClient) -> Route:
    """The route to the model. Raises NotServed when the Hub says no provider serves it, and
    UpstreamError when the Hub cannot be asked (the caller decides whether to wait)."""
    model = options.model
    try:
        info = await hub.model_info(model, ("inference", "inferenceProviderMapping"))
    except UpstreamError as exc:
        if exc.status in (401, 403, 404):
            raise NotServed(
                f"INFERENCE_MODEL {model} cannot be read on the Hub ({exc.summary()}):"
                " check the model id, or that the bot's token may see it"
            ) from None
        raise
    try:
        return choose(options, parse_mapping(info))
    except LookupError:
        raise NotServed(await not_served_message(options, hub)) from None


async def not_served_message(options: RouteOptions, hub: HubClient) -> str:
    """One line: the model, that nothing serves it today, and the two ways out."""
    wanted = {
        "auto": "",
        "chat": " as a chat model",
        "completions": " for text generation",
        "text-generation": " on hf-inference",
    }[options.api]
    pinned = f" through {options.provider}" if options.provider else ""
    try:
        served = [m for m in await hub.model_ids(SUGGESTIONS) if m != options.model]
    except UpstreamError:
        served = []
    if served:
        others = ", ".join(f"INFERENCE_MODEL={model}" for model in served[:3])
    else:
        others = f"INFERENCE_MODEL=<a model listed at {options.hub}{SUGGESTIONS}>"
    return (
        f"{options.model} is not served by any Inference Provider today{wanted}{pinned}:"
        f" set a served model ({others}), or INFERENCE_URL to your own endpoint running it"
    )


@dataclass(frozen=True)
class Probe:
    """What a custom INFERENCE_URL said about itself: the models it serves, if it told."""

    served: tuple[str, ...] = ()
    gone: bool = False


async def probe(url: str, http: httpx.AsyncClient) -> Probe:
    """Ask a custom endpoint what it serves (OpenAI `/v1/models`, TGI `/info`), best-effort:
    no answer, a 404 or a strange body all mean "cannot tell"."""
    parts = urlsplit(url)
    path = parts.path
    for suffix in ("/generate_stream", "/generate"):
        path = path.removesuffix(suffix)
    base = f"{parts.scheme}://{parts.netloc}{path.split('/v1/', 1)[0]}".rstrip("/")
    for probe_path in ("/v1/models", "/info"):
        try:
            response = await fetch(http, "GET", base + probe_path, PROBE_LIMITS, "model")
        except UpstreamError:
            return Probe()
        if response.status_code == 410:
            return Probe(gone=True)
        if response.is_success:
            served = _served_ids(_json(response))
            if served:
                return Probe(served)
    return Probe()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _served_ids(body: Any) -> tuple[str, ...]:
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return tuple(m["id"] for m in body["data"] if isinstance(m, dict) and "id" in m)
    if isinstance(body, dict) and isinstance(body.get("model_id"), str):
        return (body["model_id"],)
    return ()


def label_of(url: str) -> str:
    """What a custom URL serves when nobody said: the model path of the URL, else its host."""
    path = urlsplit(url).path
    return path.split("/models/", 1)[1] if "/models/" in path else urlsplit(url).netloc


async def custom_route(options: RouteOptions, http: httpx.AsyncClient) -> Route:
    """INFERENCE_URL as configured, checked against what the endpoint says it serves."""
    url = options.url or ""
    api: Api = api_from_path(url) if options.api == "auto" else options.api
    found = await probe(url, http)
    if found.gone:
        raise NotServed(
            f"{url} answers 410 Gone: that endpoint no longer serves models; unset INFERENCE_URL"
            f" to use an Inference Provider, or point it at your own endpoint"
        )
    model = options.url_model or (found.served[0] if found.served else label_of(url))
    return Route(api, url, model, None if api == "text-generation" else model)
