"""The model, behind one interface: build a request from the prompts, then generate.

- `TextGenerationModel`: `POST {"inputs", "parameters"}`, answered `[{"generated_text"}]`, or a
  bare object by a TGI `/generate` route. The prompt may come back in front; it is stripped.
- `ChatModel`: OpenAI-compatible chat completions (HF router, TGI, vLLM, llama.cpp, Ollama):
  `{"model", "messages", ...}` answered `{"choices": [{"message": {"content"}}]}`.

Both go through the one retry policy, and both say which URL and model failed, and how to fix it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from bot.errors import UpstreamError
from bot.prompts import PromptContext, PromptSet, strip_echo
from bot.upstream import (
    Observer,
    RetryPolicy,
    error_from_response,
    error_from_transport,
    ignore_call,
    json_body,
)

SERVICE = "model"
MAX_STOP_SEQUENCES = 4  # the Inference API accepts at most four


@dataclass(frozen=True)
class GenerationParameters:
    max_new_tokens: int
    temperature: float
    top_p: float


@dataclass(frozen=True)
class ModelRequest:
    shown: str  # the prompt as a person reads it: printed by preview, stripped from echoes
    body: dict[str, Any]


class Model(Protocol):
    label: str

    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest: ...

    async def generate(self, request: ModelRequest) -> str: ...


def model_label(url: str, model: str | None) -> str:
    """What the reply footer names: the configured model, else the model path of the URL."""
    if model:
        return model
    path = urlsplit(url).path
    return path.split("/models/", 1)[1] if "/models/" in path else urlsplit(url).netloc


class _Endpoint:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        model: str | None,
        parameters: GenerationParameters,
        retry: RetryPolicy,
        observe: Observer = ignore_call,
    ) -> None:
        """`http` carries the bearer token (INFERENCE_TOKEN) and the per-call timeout."""
        self._observe = observe
        self._http = http
        self._url = url
        self._model = model
        self._parameters = parameters
        self._retry = retry
        self.label = model_label(url, model)

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
        try:
            response = await self._http.post(self._url, json=request.body)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, SERVICE, f"is {self._url} reachable?") from None
        if not response.is_success:
            raise self._failure(response)
        return self._extract(json_body(response, SERVICE), request)

    def _failure(self, response: httpx.Response) -> UpstreamError:
        status = response.status_code
        error = error_from_response(response, SERVICE, self._hint(status))
        lowered = error.detail.lower()
        if status in (400, 404, 410) and ("not supported" in lowered or "not found" in lowered):
            # The endpoint says the model is not served there: retrying cannot help.
            return UpstreamError(SERVICE, status, error.detail, self._not_served())
        return error

    def _not_served(self) -> str:
        return (
            f"{self._url} does not serve {self.label}: set INFERENCE_URL (and INFERENCE_MODEL)"
            " to a model that is served, for example INFERENCE_API=chat with"
            " INFERENCE_MODEL=<a chat model on the HF router>"
        )

    def _hint(self, status: int) -> str:
        if status in (401, 403):
            return "INFERENCE_TOKEN (default HF_TOKEN) may not call this model"
        if status in (404, 410):
            return self._not_served()
        if status in (400, 413, 422):
            return "the model refused the request: check MAX_NEW_TOKENS, TEMPERATURE and TOP_P"
        if status == 503:
            return "the model is loading or unavailable; it is retried within RETRY_BUDGET"
        return ""

    def _extract(self, body: object, request: ModelRequest) -> str:
        raise NotImplementedError


class TextGenerationModel(_Endpoint):
    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        prompt = prompts.completion(context)
        names = ["User", context.bot_name, *(c.author for c in context.thread)]
        stops = list(dict.fromkeys(f"\n{name}:" for name in names))[:MAX_STOP_SEQUENCES]
        p = self._parameters
        parameters = {
            "max_new_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "do_sample": p.temperature > 0,
            "return_full_text": False,
            "stop": stops,
        }
        return ModelRequest(prompt, {"inputs": prompt, "parameters": parameters})

    def _extract(self, body: object, request: ModelRequest) -> str:
        first = body[0] if isinstance(body, list) and body else body
        text = first.get("generated_text") if isinstance(first, dict) else None
        if not isinstance(text, str):
            raise UpstreamError(
                SERVICE, 200, "answer has no generated_text", "is INFERENCE_API right for this URL?"
            )
        return strip_echo(request.shown, text)


class ChatModel(_Endpoint):
    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        messages = prompts.chat_messages(context)
        shown = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
        p = self._parameters
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
        }
        if self._model:
            body["model"] = self._model
        return ModelRequest(shown, body)

    def _extract(self, body: object, request: ModelRequest) -> str:
        choices = body.get("choices") if isinstance(body, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if content is None and isinstance(message, dict):
            content = ""  # some servers answer null content for an empty reply
        if not isinstance(content, str):
            raise UpstreamError(
                SERVICE, 200, "answer has no choices[0].message.content", "is INFERENCE_API right?"
            )
        return content.strip()
