"""A fake of the model servers the bot talks to: the Inference Providers router, TGI and
OpenAI-style servers, in one ASGI app that answers by the path it is asked on.

    POST .../chat/completions   OpenAI chat            {"choices": [{"message": {"content"}}]}
    POST .../completions        OpenAI completions     {"choices": [{"text"}]}
    POST anything else          text generation (TGI)  [{"generated_text"}]
    GET  .../v1/models, /info   what it serves, when `served` names it (else 404)

Text generation validates as TGI does (a temperature of 0 and a top_p of 1 are refused with
422), and with `refuses_stop` it answers as hf-inference does for a non-TGI model given `stop`.

`as_router(mapping)` makes it check requests as the Inference Providers router does, against
the fake Hub's provider mapping: no or a wrong token is 401, a chat `model` (`id`, `id:fastest`,
`id:cheapest`, `id:<provider>`) no live provider serves is 400 `model_not_supported`, a
provider path that is not that provider's route is 404, and a `model` that is not the
provider's live id for the task is 400 "Model not supported by provider". Scripts with
`on=<provider>` answer only that provider's paths (a provider that is down). Every answer
carries an `X-Request-Id`.

Reasoning: `reasoning` is sent as `reasoning_content` beside the answer; `think` puts it in
`<think>...</think>` inside `content` instead; `thinks_for` is how many tokens the thinking
takes: a `max_tokens` no larger leaves no room, and the answer is empty (finish_reason length).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.hub_common import TOKEN
from tests.fakes.recorder import Recorder

# The router's answers (../shared/hub-shapes/inference_router_*.json, huggingface.js #2225).
INVALID_TOKEN = {"error": "Invalid username or password."}
POLICIES = ("fastest", "cheapest", "preferred")
# Routes that differ from the OpenAI defaults (huggingface_hub inference/_providers/*.py).
PROVIDER_PATHS = {
    ("cohere", "conversational"): "/compatibility/v1/chat/completions",
    ("deepinfra", "text-generation"): "/v1/openai/completions",
    ("deepinfra", "conversational"): "/v1/openai/chat/completions",
    ("fireworks-ai", "conversational"): "/inference/v1/chat/completions",
    ("groq", "conversational"): "/openai/v1/chat/completions",
    ("novita", "text-generation"): "/v3/openai/completions",
    ("novita", "conversational"): "/v3/openai/chat/completions",
    ("zai-org", "conversational"): "/api/paas/v4/chat/completions",
}
DEFAULT_PATHS = {"text-generation": "/v1/completions", "conversational": "/v1/chat/completions"}
Mapping = Callable[[], dict[str, dict[str, Any]]]  # model id -> its facts, with the mapping


def not_supported(model: str) -> dict[str, Any]:
    message = f"The requested model '{model}' is not supported by any provider you have enabled."
    error = {"message": message, "type": "invalid_request_error", "param": "model"}
    return {"error": {**error, "code": "model_not_supported"}}


UNUSED_STOP = (
    "The following `model_kwargs` are not used by the model: ['stop'] (note: typos in the"
    " generate arguments will also show up in this list)"
)


REFUSED_TOOLS = {
    "object": "error",
    "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser'
    " to be set",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}


def tool_calls(*calls: tuple[str, str]) -> dict[str, Any]:
    """A chat answer that calls tools: (name, JSON arguments) each, as OpenAI servers send it."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}
            for n, (name, args) in enumerate(calls)
        ],
    }
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls"}
    return FakeModel._openai("chat.completion", {}, choice)


class FakeModel(Recorder):
    """Answers `reply` unless scripted otherwise. `echo` makes text generation put the prompt
    in front of the answer despite return_full_text=false, as some deployments do."""

    def __init__(self, reply: str = "A model card describes what a model does.") -> None:
        super().__init__()
        self.reply = reply
        self.echo = False
        self.latency = 0.0  # seconds every answer takes, as a real model would
        self.refuses_stop = False
        self.refuses_tools = False  # answer a request offering `tools` as vLLM does unconfigured
        self.served: tuple[str, ...] = ()  # what GET /v1/models and /info name; empty: 404
        self.gone = False  # answer 410 to everything, as the retired api-inference host does
        self.drip: float | None = None  # seconds between the bytes of a slowly written answer
        self.oversize = 0  # bytes of an answer too large to read, streamed in 1 MiB pieces
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0  # requests waiting at the gate right now
        self.mapping: Mapping | None = None  # set by `as_router`
        self.tokens = (TOKEN,)  # the tokens the router accepts
        self.headers: list[dict[str, str]] = []  # each POST's headers, in order
        self.reasoning: str | None = None
        self.think = False
        self.thinks_for = 0
        self._ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/{path:path}", self._generate, methods=["POST"]),
                Route("/{path:path}", self._describe, methods=["GET"]),
            ]
        )

    def as_router(self, mapping: Mapping) -> None:
        """Check requests as the router does, against `mapping()` (the fake Hub's models)."""
        self.mapping = mapping

    def hold(self) -> None:
        """Make requests wait (after being recorded) until `release()`."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def _describe(self, request: Request) -> Response:
        path = request.url.path
        if self.gone:
            return JSONResponse({"error": "Gone"}, 410)
        if self.served and path.endswith("/v1/models"):
            models = [{"id": m, "object": "model", "owned_by": "me"} for m in self.served]
            return JSONResponse({"object": "list", "data": models})
        if self.served and path.endswith("/info"):
            return JSONResponse({"model_id": self.served[0], "max_input_tokens": 4095})
        return Response("Not Found", 404, media_type="text/plain")

    async def _generate(self, request: Request) -> Response:
        response = await self._answer(request)
        response.headers.setdefault("x-request-id", f"Root=1-fake-{next(self._ids)}")
        return response

    async def _answer(self, request: Request) -> Response:
        entry = await self.record(request)
        self.headers.append(dict(request.headers))
        if not self.gate.is_set():
            self.held += 1
            self.changed()
            # Bounded, so a test that forgets to release cannot hang the fake's shutdown.
            await asyncio.to_thread(self.gate.wait, 30)
            self.held -= 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.gone:
            return JSONResponse({"error": "Gone"}, 410)
        if self.drip is not None:
            return StreamingResponse(self._dripping(self.drip), media_type="application/json")
        if self.oversize:
            return StreamingResponse(self._endless(self.oversize), media_type="application/json")
        path = request.url.path
        if scripted := self.next_scripted(path.strip("/").split("/", 1)[0]):
            return scripted.response()
        body: dict[str, Any] = entry.body if isinstance(entry.body, dict) else {}
        if self.mapping is not None and (refused := self._refusal(request, body)):
            return refused
        if path.endswith("/chat/completions"):
            return self._chat(body)
        if path.endswith("/completions"):
            return self._completion(body)
        return self._text_generation(body)

    @staticmethod
    async def _dripping(seconds: float) -> AsyncIterator[bytes]:
        for byte in b'[{"generated_text": "' + b"x" * 10_000:
            yield bytes([byte])
            await asyncio.sleep(seconds)

    @staticmethod
    async def _endless(size: int) -> AsyncIterator[bytes]:
        yield b'[{"generated_text": "'
        piece = b"x" * (1 << 20)
        for _ in range(size >> 20):
            yield piece
        yield b'"}]'

    def _chat(self, body: dict[str, Any]) -> Response:
        if self.refuses_tools and "tools" in body:
            return JSONResponse(REFUSED_TOOLS, 400)
        content, ended = self._reasoned(body.get("max_tokens"))
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.reasoning and not self.think:
            message["reasoning_content"] = self.reasoning
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": ended}
        return JSONResponse(self._openai("chat.completion", body, choice))

    def _completion(self, body: dict[str, Any]) -> Response:
        text, ended = self._reasoned(body.get("max_tokens"))
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": ended}
        return JSONResponse(self._openai("text_completion", body, choice))

    def _reasoned(self, max_tokens: object) -> tuple[str, str]:
        """The answer within `max_tokens`, after the thinking, and why it ended."""
        thought = f"<think>{self.reasoning or ''}</think>\n\n" if self.think else ""
        if isinstance(max_tokens, int) and max_tokens <= self.thinks_for:
            return (thought.removesuffix("</think>\n\n") if self.think else ""), "length"
        return thought + self.reply, "stop"

    def _refusal(self, request: Request, body: dict[str, Any]) -> Response | None:
        """What the router says to a request it will not pass on, if anything."""
        assert self.mapping is not None
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return JSONResponse(INVALID_TOKEN, 401)
        path, model = request.url.path, str(body.get("model", ""))
        task = "conversational" if path.endswith("/chat/completions") else "text-generation"
        if path == "/v1/chat/completions":  # the router's own: Hub id, maybe a suffix
            hub_id, _, chosen = model.partition(":")
            entries = self.mapping().get(hub_id, {}).get("inferenceProviderMapping", {})
            if not any(
                e["status"] == "live" and e["task"] == task and chosen in ("", *POLICIES, p)
                for p, e in entries.items()
            ):
                return JSONResponse(not_supported(model), 400)
            return None
        provider, _, rest = path.strip("/").partition("/")
        if provider == "hf-inference":
            return None  # its own paths, with the model in them
        if f"/{rest}" != PROVIDER_PATHS.get((provider, task), DEFAULT_PATHS[task]):
            return Response("Not Found", 404, media_type="text/plain")
        served = [
            e
            for facts in self.mapping().values()
            if (e := facts.get("inferenceProviderMapping", {}).get(provider))
            and e["providerId"] == model
            and e["task"] == task
            and e["status"] == "live"
        ]
        if not served:
            return JSONResponse({"error": f"Model not supported by provider {provider}"}, 400)
        return None

    @staticmethod
    def _openai(kind: str, body: dict[str, Any], choice: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "cmpl-1",
            "object": kind,
            "created": 1763900000,
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }

    def _text_generation(self, body: dict[str, Any]) -> Response:
        parameters = body.get("parameters") or {}
        if problem := _tgi_validation(parameters):
            return JSONResponse({"error": problem, "error_type": "validation"}, 422)
        if self.refuses_stop and "stop" in parameters:
            return JSONResponse({"error": UNUSED_STOP, "warnings": [UNUSED_STOP]}, 400)
        prompt = body.get("inputs", "")
        text = prompt + self.reply if self.echo else self.reply
        return JSONResponse([{"generated_text": text}])


def _tgi_validation(parameters: dict[str, Any]) -> str | None:
    """TGI's router/src/validation.rs, for the parameters the bot sends."""
    temperature = parameters.get("temperature")
    if temperature is not None and temperature <= 0:
        return "Input validation error: `temperature` must be strictly positive"
    top_p = parameters.get("top_p")
    if top_p is not None and not 0 < top_p < 1:
        return "Input validation error: `top_p` must be > 0.0 and < 1.0"
    if len(parameters.get("stop") or []) > 4:
        return "Input validation error: `stop` supports up to 4 stop sequences. Given: 5"
    return None
