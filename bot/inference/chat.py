"""OpenAI-compatible chat completions (HF router, TGI, vLLM, llama.cpp, Ollama): the system
prompt, the thread as turns and the mention as `messages`, answered
`{"choices": [{"message": {"content"}}]}`."""

from __future__ import annotations

from typing import Any

from bot.answer.prompts import PromptContext, PromptSet
from bot.errors import UpstreamError
from bot.inference.endpoint import SERVICE, Endpoint, ModelRequest, first_choice


class ChatModel(Endpoint):
    def build(self, prompts: PromptSet, context: PromptContext) -> ModelRequest:
        messages = prompts.chat_messages(context)
        shown = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
        body: dict[str, Any] = {}
        if self.route.request_model:
            body["model"] = self.route.request_model  # first, so a router can read it early
        body |= {
            "messages": messages,
            "max_tokens": self._parameters.max_new_tokens,
            **self._parameters.sampling(),
        }
        return ModelRequest(shown, body)

    def _extract(self, body: object, request: ModelRequest) -> str:
        choice = first_choice(body)
        message = choice.get("message") if choice else None
        content = message.get("content") if isinstance(message, dict) else None
        if content is None and isinstance(message, dict):
            content = ""  # some servers answer null content for an empty reply
        if not isinstance(content, str):
            raise UpstreamError(
                SERVICE, 200, "answer has no choices[0].message.content", "is INFERENCE_API right?"
            )
        return content.strip()
