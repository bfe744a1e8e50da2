"""What the model backends share: one POST to the route's URL through the one retry policy,
errors that say which URL and model failed and what to do, and the rules real servers enforce.

- TGI refuses `temperature: 0` and `top_p: 1` (422): greedy decoding is `do_sample: false`
  without a temperature, and a `top_p` of 1 is simply not sent.
- hf-inference refuses parameters a non-TGI model does not take (400 "The following
  `model_kwargs` are not used by the model: [...]"): the request is sent once more without
  them, as huggingface_hub does.

A route with fallbacks (a text-generation model several providers serve) is tried in order:
a provider that fails (5xx, no answer, 404, `model_not_supported`) is followed by the next,
and one that answered since is asked first. Every failure keeps the router's `X-Error-Code`
(or its body's `error.code`), `X-Error-Message` and `X-Request-Id` (`bot.upstream`), so each
log line about it names the request the provider's support will ask for.

A model that spent all its tokens thinking (`bot.inference.reasoning`) is asked once more with
REASONING_ROOM more; a second empty answer is a failure (ReasonedOnly), never an empty reply.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx

from bot.answer.prompt_context import PromptContext
from bot.answer.prompts import PromptSet
from bot.errors import ModelNotServed, TooLarge, TransientError, UpstreamError
from bot.inference.reasoning import REASONING_ROOM, ReasonedOnly
from bot.inference.routing import Route
from bot.logs import log_event, working_on
from bot.upstream import (
    CallLimits,
    Observer,
    RetryPolicy,
    error_from_response,
    fetch,
    ignore_call,
)
from bot.upstream_json import json_body

SERVICE = "model"
MAX_STOP_SEQUENCES = 4  # the Inference API and OpenAI accept at most four
_UNUSED_KWARGS = re.compile(r"The following `model_kwargs` are not used by the model: \[(.*?)\]")
BILLING_URL = "https://huggingface.co/settings/billing"
MODEL_LIMITS = CallLimits(deadline=60.0)
BILL_TO_HEADER = "X-HF-Bill-To"  # huggingface_hub's constants.HUGGINGFACE_HEADER_X_BILL_TO
log = logging.getLogger("bot.inference")


@dataclass(frozen=True)
class GenerationParameters:
    max_new_tokens: int
    temperature: float
    top_p: float
    reasoning_effort: str | None = None  # REASONING_EFFORT: sent to chat models when set

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
        bill_to: str | None = None,
    ) -> None:
        """`http` carries the bearer token (INFERENCE_TOKEN); `bill_to` (BILL_TO) is sent as
        X-HF-Bill-To on calls through the router."""
        self._http = http
        self.route = route
        self.label = route.model
        self._parameters = parameters
        self._retry = retry
        self._observe = observe
        self._limits = limits
        self._bill_to = bill_to
        self._first = route.url  # the candidate asked first: the one that answered last
        self._unserved: set[str] = set()  # candidates that said they do not serve the model

    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        raise NotImplementedError

    async def generate(self, request: ModelRequest) -> str:
        try:
            return await self._retried(request)
        except ReasonedOnly as exc:
            log_event(log, logging.INFO, "model_reasoned_only", **working_on.get(), after=exc)
        # Once more with room to answer after thinking; a second empty answer is final.
        return await self._retried(self._roomier(request))

    async def _retried(self, request: ModelRequest) -> str:
        async def attempt() -> str:
            return await self._attempt(request)

        return await self._retry.call(attempt)

    async def _attempt(self, request: ModelRequest) -> str:
        """One try through the candidates, in order, until one answers."""
        failure: UpstreamError | None = None
        order = self._order()
        for number, route in enumerate(order):
            started = time.perf_counter()
            try:
                text = await self._call(request, route)
            except ReasonedOnly:
                self._observe(SERVICE, time.perf_counter() - started, None)
                self._first = route.url
                raise
            except UpstreamError as exc:
                self._observe(SERVICE, time.perf_counter() - started, exc.summary())
                if not _provider_failed(exc):
                    raise  # the account's or the request's fault: no provider would do better
                if isinstance(exc, ModelNotServed):
                    self._unserved.add(route.url)
                # A provider that cannot answer now must not hide one that can.
                if failure is None or isinstance(exc, TransientError):
                    failure = exc
                if number + 1 < len(order):
                    following = order[number + 1].provider
                    fields = working_on.get()
                    log_event(
                        log, logging.WARNING, "model_failover", **fields,
                        provider=route.provider, next=following, after=exc,
                    )  # fmt: skip
                continue
            self._observe(SERVICE, time.perf_counter() - started, None)
            self._first = route.url
            return text
        if failure is None:  # every candidate said before that it does not serve the model
            raise ModelNotServed(SERVICE, None, "no provider left to ask", self._not_served())
        raise failure

    def _order(self) -> list[Route]:
        """The candidates still worth asking, the one that answered last first."""
        kept = [r for r in self.route.candidates if r.url not in self._unserved]
        return sorted(kept, key=lambda r: r.url != self._first)

    def _roomier(self, request: ModelRequest) -> ModelRequest:
        body = dict(request.body)
        body["max_tokens"] = int(body.get("max_tokens", 0)) + REASONING_ROOM
        return replace(request, body=body)

    async def _call(self, request: ModelRequest, route: Route) -> str:
        response = await self._post(request.body, route)
        unused = _unused_kwargs(response)
        if unused:
            # Once, without what the server named; a second refusal is final.
            response = await self._post(self._without(request.body, unused), route)
        if not response.is_success:
            raise self._failure(response, route)
        return self._extract(json_body(response, SERVICE), request)

    async def _post(self, body: dict[str, Any], route: Route) -> httpx.Response:
        hint = f"is {route.url} reachable?"
        if "model" in body and route.request_model:
            body = {**body, "model": route.request_model}  # each provider's own id for it
        headers = {BILL_TO_HEADER: self._bill_to} if self._bill_to and route.via_router else {}
        try:
            return await fetch(
                self._http, "POST", route.url, self._limits, SERVICE, hint,
                json=body, headers=headers,
            )  # fmt: skip
        except (TransientError, TooLarge):
            raise
        except UpstreamError as exc:
            # The route's URL cannot be requested at all (malformed, say a provider id with a
            # TAB in it, or a redirect loop): the same every time, so ask for the route again.
            raise ModelNotServed(SERVICE, exc.status, exc.detail, self._unusable(route)) from None

    def _without(self, body: dict[str, Any], names: set[str]) -> dict[str, Any]:
        """The request without the named parameters (top-level keys, for OpenAI-style bodies)."""
        return {key: value for key, value in body.items() if key not in names}

    def _extract(self, body: object, request: ModelRequest) -> str:
        raise NotImplementedError

    def _failure(self, response: httpx.Response, route: Route) -> UpstreamError:
        """The error for a refusal, with the router's words, code and request id kept."""
        status = response.status_code
        error = error_from_response(response, SERVICE, self._hint(status, route))
        lowered = error.detail.lower()
        said_so = "not supported" in lowered or "not found" in lowered
        code = error.code or _error_code(response)
        if status in (404, 410) or (status == 400 and (said_so or code == "model_not_supported")):
            # The endpoint says the model is not served there: retrying cannot help.
            hint = self._not_served(route)
            return ModelNotServed(
                SERVICE, status, error.detail, hint, code=code, request_id=error.request_id
            )
        return error

    def _not_served(self, route: Route | None = None) -> str:
        return (
            f"{(route or self.route).url} does not serve {self.label}: choose a served"
            " INFERENCE_MODEL or INFERENCE_URL (python -m bot check says which route the bot"
            " would take)"
        )

    def _unusable(self, route: Route) -> str:
        return (
            f"the route {route.describe()} cannot be called: check INFERENCE_URL, or pick"
            " another INFERENCE_PROVIDER (the Hub's mapping for this one may be malformed)"
        )

    def _hint(self, status: int, route: Route) -> str:
        if status in (401, 403):
            return "INFERENCE_TOKEN (default HF_TOKEN) may not call this model"
        if status == 402:
            return (
                "the account of INFERENCE_TOKEN (default HF_TOKEN) has used up its Inference"
                f" Providers credits: see its billing at {BILLING_URL}"
            )
        if status in (404, 410):
            return self._not_served(route)
        if status in (400, 413, 422):
            return "the model refused the request: check MAX_NEW_TOKENS, TEMPERATURE and TOP_P"
        if status == 503:
            return "the model is loading or unavailable; it is retried within RETRY_BUDGET"
        return ""


def _provider_failed(error: UpstreamError) -> bool:
    """Whether another provider might answer: this one is down, slow or does not serve the
    model (a refusal of the token, the credits or the request would be the same anywhere)."""
    return isinstance(error, TransientError | ModelNotServed)  # TooLarge is neither


def _error_code(response: httpx.Response) -> str | None:
    """`error.code` of the router's OpenAI-style error (`model_not_supported`), if any."""
    try:
        body = json_body(response, SERVICE)
    except UpstreamError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


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
