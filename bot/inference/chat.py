"""OpenAI-compatible chat completions (HF router, TGI, vLLM, llama.cpp, Ollama): the system
prompt, the thread as turns and the mention as `messages`, answered
`{"choices": [{"message": {"content"}}]}`.

With lookups offered (TOOLS=auto), the request carries them as `tools`; the calls the model
makes are run (at most MAX_TOOL_CALLS in all; one over gets an error result) and their results
sent back as `role: tool` messages, until the model answers in words. The last round offers the
tools with `tool_choice: none`, so the model must answer. A provider that refuses `tools` (a
400 or 422 naming them) is asked again without them, once, and never offered them again.

A reasoning model's `reasoning_content` (`reasoning` on TGI) is its thinking, not the answer;
REASONING_EFFORT, when set, is sent as `reasoning_effort`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.answer.prompt_context import PromptContext
from bot.answer.prompts import PromptSet
from bot.errors import UpstreamError
from bot.inference.endpoint import (
    SERVICE,
    Endpoint,
    ModelRequest,
    first_choice,
)
from bot.inference.reasoning import ReasonedOnly, without_reasoning
from bot.inference.routing import Route
from bot.sources.found import Toolbox
from bot.upstream_json import json_body


@dataclass(frozen=True)
class ChatRequest(ModelRequest):
    tools: Toolbox | None = None


class ChatModel(Endpoint):
    refuses_tools = False  # set once the provider refused them: remembered for the route

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
        if self._parameters.reasoning_effort:
            body["reasoning_effort"] = self._parameters.reasoning_effort
        return ChatRequest(shown, body, context.tools)

    async def _call(self, request: ModelRequest, route: Route) -> str:
        tools = request.tools if isinstance(request, ChatRequest) else None
        if tools is None or self.refuses_tools or tools.max_calls <= 0:
            return await super()._call(request, route)
        messages: list[dict[str, Any]] = list(request.body["messages"])
        made = 0
        while True:
            last = made >= tools.max_calls
            offer = {"tools": tools.specs(), "tool_choice": "none" if last else "auto"}
            response = await self._post({**request.body, "messages": messages, **offer}, route)
            if _refuses_tools(response):
                self.refuses_tools = True
                plain = ModelRequest(request.shown, {**request.body, "messages": messages})
                return await super()._call(plain, route)
            if not response.is_success:
                raise self._failure(response, route)
            body = json_body(response, SERVICE)
            calls = _tool_calls(body)
            if not calls or last:
                return self._extract(body, request)
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            for call in calls:
                named = call.get("function")
                function: dict[str, Any] = named if isinstance(named, dict) else {}
                if made < tools.max_calls:
                    made += 1
                    name, arguments = str(function.get("name")), function.get("arguments")
                    result = await tools.call(name, arguments if isinstance(arguments, str) else "")
                else:
                    result = f"error: at most {tools.max_calls} lookups per reply; answer now"
                messages.append(
                    {"role": "tool", "tool_call_id": str(call.get("id", "")), "content": result}
                )

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
        answer, thought = without_reasoning(content)
        said = message if isinstance(message, dict) else {}
        reasoning = said.get("reasoning_content") or said.get("reasoning")
        if not answer and (thought or reasoning):
            ended = choice.get("finish_reason") if choice else None
            raise ReasonedOnly(
                SERVICE,
                200,
                f"the model reasoned and gave no answer (finish_reason {ended})",
                "raise MAX_NEW_TOKENS, or set REASONING_EFFORT=low",
            )
        return answer


def _tool_calls(body: object) -> list[dict[str, Any]]:
    choice = first_choice(body)
    message = choice.get("message") if choice else None
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def _refuses_tools(response: httpx.Response) -> bool:
    """A 400 or 422 whose message names tools (vLLM: `"auto" tool choice requires
    --enable-auto-tool-choice`; others: "tools are not supported")."""
    return response.status_code in (400, 422) and "tool" in response.text.lower()
