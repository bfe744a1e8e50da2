"""BLOOM's API: `{"inputs", "parameters"}` answered `[{"generated_text"}]`, or a bare object
by a TGI `/generate` route. The prompt may come back in front of the answer; it is stripped."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.answer.prompt_context import PromptContext
from bot.answer.prompts import PromptSet, strip_echo
from bot.errors import UpstreamError
from bot.inference.endpoint import (
    SERVICE,
    Endpoint,
    ModelRequest,
    stop_sequences,
)
from bot.inference.reasoning import REASONING_ROOM, ReasonedOnly, without_reasoning


class TextGenerationModel(Endpoint):
    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        prompt = prompts.completion(context)
        p = self._parameters
        parameters: dict[str, Any] = {"max_new_tokens": p.max_new_tokens}
        if p.temperature > 0:
            parameters |= {"temperature": p.temperature, "do_sample": True}
        else:
            parameters["do_sample"] = False  # greedy: TGI refuses a temperature of 0
        if p.top_p < 1:
            parameters["top_p"] = p.top_p  # TGI refuses a top_p of 1
        parameters |= {"return_full_text": False, "stop": stop_sequences(context)}
        return ModelRequest(prompt, {"inputs": prompt, "parameters": parameters})

    def _roomier(self, request: ModelRequest) -> ModelRequest:
        parameters = dict(request.body["parameters"])
        parameters["max_new_tokens"] += REASONING_ROOM
        return replace(request, body={**request.body, "parameters": parameters})

    def _without(self, body: dict[str, Any], names: set[str]) -> dict[str, Any]:
        kept = {k: v for k, v in body["parameters"].items() if k not in names}
        return {**body, "parameters": kept}

    def _extract(self, body: object, request: ModelRequest) -> str:
        first = body[0] if isinstance(body, list) and body else body
        text = first.get("generated_text") if isinstance(first, dict) else None
        if not isinstance(text, str):
            raise UpstreamError(
                SERVICE, 200, "answer has no generated_text", "is INFERENCE_API right for this URL?"
            )
        answer, thought = without_reasoning(strip_echo(request.shown, text))
        if thought and not answer:
            raise ReasonedOnly(
                SERVICE, 200, "the model reasoned and gave no answer", "raise MAX_NEW_TOKENS"
            )
        return answer
