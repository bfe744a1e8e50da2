"""OpenAI-style completions (`/v1/completions`): the completion prompt as `prompt`, answered
`{"choices": [{"text"}]}`. How Inference Providers serve text-generation models today, and
what vLLM, TGI and llama.cpp serve too."""

from __future__ import annotations

from typing import Any

from bot.answer.prompt_context import PromptContext
from bot.answer.prompts import PromptSet, strip_echo
from bot.errors import UpstreamError
from bot.inference.endpoint import (
    SERVICE,
    Endpoint,
    ModelRequest,
    first_choice,
    stop_sequences,
)
from bot.inference.reasoning import ReasonedOnly, without_reasoning


class CompletionsModel(Endpoint):
    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        prompt = prompts.completion(context)
        body: dict[str, Any] = {}
        if self.route.request_model:
            body["model"] = self.route.request_model
        body |= {
            "prompt": prompt,
            "max_tokens": self._parameters.max_new_tokens,
            **self._parameters.sampling(),
            "stop": stop_sequences(context),
        }
        return ModelRequest(prompt, body)

    def _extract(self, body: object, request: ModelRequest) -> str:
        choice = first_choice(body)
        text = choice.get("text") if choice else None
        if not isinstance(text, str):
            raise UpstreamError(
                SERVICE, 200, "answer has no choices[0].text", "is INFERENCE_API right?"
            )
        answer, thought = without_reasoning(strip_echo(request.shown, text))
        if thought and not answer:
            ended = choice.get("finish_reason") if choice else None
            detail = f"the model reasoned and gave no answer (finish_reason {ended})"
            raise ReasonedOnly(SERVICE, 200, detail, "raise MAX_NEW_TOKENS")
        return answer
