"""A fake of the model servers the bot talks to: the Inference Providers router, TGI and
OpenAI-style servers, in one ASGI app that answers by the path it is asked on.

    POST .../chat/completions   OpenAI chat            {"choices": [{"message": {"content"}}]}
    POST .../completions        OpenAI completions     {"choices": [{"text"}]}
    POST anything else          text generation (TGI)  [{"generated_text"}]
    GET  .../v1/models, /info   what it serves, when `served` names it (else 404)

Text generation validates as TGI does (a temperature of 0 and a top_p of 1 are refused with
422), and with `refuses_stop` it answers as hf-inference does for a non-TGI model given `stop`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.recorder import Recorder

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
        self.app = Starlette(
            routes=[
                Route("/{path:path}", self._generate, methods=["POST"]),
                Route("/{path:path}", self._describe, methods=["GET"]),
            ]
        )

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
        entry = await self.record(request)
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
        if scripted := self.next_scripted():
            return scripted.response()
        body: dict[str, Any] = entry.body if isinstance(entry.body, dict) else {}
        path = request.url.path
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
        message = {"role": "assistant", "content": self.reply}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return JSONResponse(self._openai("chat.completion", body, choice))

    def _completion(self, body: dict[str, Any]) -> Response:
        choice = {"index": 0, "text": self.reply, "logprobs": None, "finish_reason": "stop"}
        return JSONResponse(self._openai("text_completion", body, choice))

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
