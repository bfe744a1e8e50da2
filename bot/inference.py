"""The model: text generation the BLOOM way, through the one retry policy.

`POST INFERENCE_URL {"inputs", "parameters"}` answers `[{"generated_text": ...}]`, or a bare
object from a TGI `/generate` route. The prompt may come back in front of the continuation;
`prompts.strip_echo` removes it either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import UpstreamError
from bot.upstream import RetryPolicy, error_from_response, error_from_transport, json_body

SERVICE = "model"


@dataclass(frozen=True)
class GenerationParameters:
    max_new_tokens: int
    temperature: float
    top_p: float

    def as_json(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "do_sample": self.temperature > 0,
            "return_full_text": False,
        }


class TextGenerationModel:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        parameters: GenerationParameters,
        retry: RetryPolicy,
    ) -> None:
        """`http` carries the bearer token and the per-call timeout."""
        self._http = http
        self._url = url
        self._parameters = parameters
        self._retry = retry

    async def generate(self, prompt: str) -> str:
        body = {"inputs": prompt, "parameters": self._parameters.as_json()}

        async def attempt() -> str:
            try:
                response = await self._http.post(self._url, json=body)
            except httpx.TransportError as exc:
                raise error_from_transport(exc, SERVICE, f"is {self._url} reachable?") from None
            if not response.is_success:
                raise error_from_response(response, SERVICE, self._hint(response.status_code))
            return _generated_text(json_body(response, SERVICE))

        return await self._retry.call(attempt)

    def _hint(self, status: int) -> str:
        if status in (401, 403):
            return "HF_TOKEN may not call this model: give the token inference permission"
        if status in (404, 410):
            return f"no model is served at {self._url}: set INFERENCE_URL to one that is"
        if status in (400, 413, 422):
            return "the model refused the request: check MAX_NEW_TOKENS, TEMPERATURE and TOP_P"
        if status == 503:
            return "the model is loading or unavailable; it is retried within RETRY_BUDGET"
        return ""


def _generated_text(body: object) -> str:
    first = body[0] if isinstance(body, list) and body else body
    text = first.get("generated_text") if isinstance(first, dict) else None
    if not isinstance(text, str):
        raise UpstreamError(
            SERVICE,
            200,
            "answer has no generated_text",
            "is INFERENCE_URL a text-generation endpoint?",
        )
    return text
