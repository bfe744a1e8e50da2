"""What the model backends share: one POST to the route's URL through the one retry policy,
errors that say which URL and model failed and what to do, and the rules real servers enforce.

- TGI refuses `temperature: 0` and `top_p: 1` (422): greedy decoding is `do_sample: false`
  without a temperature, and a `top_p` of 1 is simply not sent.
- hf-inference refuses parameters a non-TGI model does not take (400 "The following
  `model_kwargs` are not used by the model: [...]"): the request is sent once more without
  them, as huggingface_hub does.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot.answer.prompts import PromptContext, PromptSet
from bot.errors import ModelNotServed, TooLarge, TransientError, UpstreamError
from bot.inference.routing import Route
from bot.upstream import (
    CallLimits,
    Observer,
    RetryPolicy,
    error_from_response,
    fetch,
    ignore_call,
    json_body,
)

SERVICE = "model"
MAX_STOP_SEQUENCES = 4  # the Inference API and OpenAI accept at most four
_UNUSED_KWARGS = re.compile(r"The following `model_kwargs` are not used by the model: \[(.*?)\]")
BILLING_URL = "https://huggingface.co/settings/billing"
MODEL_LIMITS = CallLimits(deadline=60.0)


@dataclass(frozen=True)
class GenerationParameters:
    max_new_tokens: int
    temperature: float
    top_p: float

    def sampling(self) -> dict[str, float]:
        """Temperature and top_p as OpenAI-style servers take them (0 is greedy there)."""
        chosen = {"temperature": self.temperature}
        if self.top_p < 1:
            chosen["top_p"] = self.top_p
        return chosen


@dataclass(frozen=True)
class ModelRequest:
    shown: str  # the prompt as a person reads it: printed by preview, stripped from echoes
    body: dict[str, Any]


class Model(Protocol):
    route: Route
    label: str

    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest: ...

    async def generate(self, request: ModelRequest) -> str: ...


def stop_sequences(context: PromptContext) -> list[str]:
    """Where a transcript-style answer must end: the next speaker's turn."""
    names = ["User", context.bot_name, *(c.author for c in context.thread)]
    return list(dict.fromkeys(f"\n{name}:" for name in names))[:MAX_STOP_SEQUENCES]


class Endpoint:
    """A backend: `build` makes the request body from the prompts, `_extract` reads the answer."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        route: Route,
        parameters: GenerationParameters,
        retry: RetryPolicy,
        observe: Observer = ignore_call,
        limits: CallLimits = MODEL_LIMITS,
    ) -> None:
        """`http` carries the bearer token (INFERENCE_TOKEN)."""
        self._http = http
        self.route = route
        self.label = route.model
        self._parameters = parameters
        self._retry = retry
        self._observe = observe
        self._limits = limits

    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        raise NotImplementedError

    async def generate(self, request: ModelRequest) -> str:
        async def attempt() -> str:
            started = time.perf_counter()
            try:
                text = await self._call(request)
            except UpstreamError as exc:
                self._observe(SERVICE, time.perf_counter() - started, exc.summary())
                raise
            self._observe(SERVICE, time.perf_counter() - started, None)
            return text

        return await self._retry.call(attempt)

    async def _call(self, request: ModelRequest) -> str:
        response = await self._post(request.body)
        unused = _unused_kwargs(response)
        if unused:
            # Once, without what the server named; a second refusal is final.
            response = await self._post(self._without(request.body, unused))
        if not response.is_success:
            raise self._failure(response)
        return self._extract(json_body(response, SERVICE), request)

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        hint = f"is {self.route.url} reachable?"
        try:
            return await fetch(
                self._http, "POST", self.route.url, self._limits, SERVICE, hint, json=body
            )
        except (TransientError, TooLarge):
            raise
        except UpstreamError as exc:
            # The route's URL cannot be requested at all (malformed, say a provider id with a
            # TAB in it, or a redirect loop): the same every time, so ask for the route again.
            raise ModelNotServed(SERVICE, exc.status, exc.detail, self._unusable()) from None

    def _without(self, body: dict[str, Any], names: set[str]) -> dict[str, Any]:
        """The request without the named parameters (top-level keys, for OpenAI-style bodies)."""
        return {key: value for key, value in body.items() if key not in names}

    def _extract(self, body: object, request: ModelRequest) -> str:
        raise NotImplementedError

    def _failure(self, response: httpx.Response) -> UpstreamError:
        status = response.status_code
        error = error_from_response(response, SERVICE, self._hint(status))
        lowered = error.detail.lower()
        said_so = "not supported" in lowered or "not found" in lowered
        if status in (404, 410) or (status == 400 and said_so):
            # The endpoint says the model is not served there: retrying cannot help.
            return ModelNotServed(SERVICE, status, error.detail, self._not_served())
        return error

    def _not_served(self) -> str:
        return (
            f"{self.route.url} does not serve {self.label}: choose a served INFERENCE_MODEL"
            " or INFERENCE_URL (python -m bot check says which route the bot would take)"
        )

    def _unusable(self) -> str:
        return (
            f"the route {self.route.describe()} cannot be called: check INFERENCE_URL, or pick"
            " another INFERENCE_PROVIDER (the Hub's mapping for this one may be malformed)"
        )

    def _hint(self, status: int) -> str:
        if status in (401, 403):
            return "INFERENCE_TOKEN (default HF_TOKEN) may not call this model"
        if status == 402:
            return (
                "the account of INFERENCE_TOKEN (default HF_TOKEN) has used up its Inference"
                f" Providers credits: see its billing at {BILLING_URL}"
            )
        if status in (404, 410):
            return self._not_served()
        if status in (400, 413, 422):
            return "the model refused the request: check MAX_NEW_TOKENS, TEMPERATURE and TOP_P"
        if status == 503:
            return "the model is loading or unavailable; it is retried within RETRY_BUDGET"
        return ""


def _unused_kwargs(response: httpx.Response) -> set[str]:
    if response.status_code != 400:
        return set()
    found = _UNUSED_KWARGS.search(response.text)
    return {name.strip(" '\"") for name in found.group(1).split(",")} if found else set()


def first_choice(body: object) -> dict[str, Any] | None:
    """`choices[0]` of an OpenAI-style answer, if there is one."""
    choices = body.get("choices") if isinstance(body, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else None
