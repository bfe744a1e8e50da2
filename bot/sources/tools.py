"""The lookups offered to a chat model as OpenAI-style tools, for one reply.

A tool call's arguments are the model's text: a path is taken only inside this repo at this
revision (bot.sources.files.safe_path), and a call the bot cannot honour (an unknown tool,
bad arguments, a file that is not there, one call too many, the budget spent) gets a short
error result, never an exception. Results are someone else's text, fenced like the card.
"""

from __future__ import annotations

import json
from typing import Any

from bot.answer.prompts import material
from bot.sources.found import Found, Unread
from bot.sources.lookups import CAPS, Looked, Lookups

_NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
_READ_FILE = {
    "name": "read_file",
    "description": "Read a text file of this repo at the revision the discussion is about."
    " LFS and binary files cannot be read.",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string", "description": "A path such as config.json"}},
        "required": ["path"],
        "additionalProperties": False,
    },
}
_BY_TYPE = {
    "model": (
        (
            "config",
            "config",
            "A summary of config.json: architecture, context length, sizes,"
            " dtype, RoPE scaling, quantization; generation config; chat template.",
        ),
        ("weights", "weights", "Parameters by dtype, GGUF facts and the weight formats."),
        ("evaluation", "evaluation", "The evaluation results the model card declares."),
    ),
    "dataset": (
        ("dataset_rows", "viewer", "The dataset viewer: splits, first rows, or its error."),
    ),
    "space": (("space_status", "space", "The Space's stage, hardware and runtime error."),),
}


def _function(spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": spec}


class ToolRun:
    """The tools for one reply, with what is left of its calls and of its budget."""

    def __init__(self, lookups: Lookups, looked: Looked) -> None:
        self._lookups = lookups
        self._looked = looked
        self.max_calls = lookups.options.max_tool_calls
        self._left = looked.budget_left
        self._calls = 0  # counted here too: a retried model call must not reset the limit
        self._given: list[Found] = []
        repo_type = looked.where.repo_type if looked.where else "model"
        self._kinds = {name: kind for name, kind, _ in _BY_TYPE.get(repo_type, ())}
        self._specs = [_function(_READ_FILE)] + [
            _function({"name": name, "description": text, "parameters": _NO_ARGS})
            for name, _, text in _BY_TYPE.get(repo_type, ())
        ]

    def specs(self) -> list[dict[str, Any]]:
        return self._specs

    @property
    def given(self) -> tuple[Found, ...]:
        return tuple(self._given)

    async def call(self, name: str, arguments: str) -> str:
        """The result of one call, fenced; errors are short results too."""
        try:
            return await self._call(name, arguments)
        except Unread as exc:
            return f"error: {exc}"

    async def _call(self, name: str, arguments: str) -> str:
        looked = self._looked
        if looked.where is None or looked.facts is None:
            raise Unread(name, "the repo could not be read")
        self._calls += 1
        if self._calls > self.max_calls:
            raise Unread(name, f"at most {self.max_calls} lookups per reply")
        if self._left <= 0:
            raise Unread(name, "the lookup budget of this reply is spent")
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            raise Unread(name, "the arguments are not JSON") from None
        if not isinstance(args, dict):
            raise Unread(name, "the arguments are not a JSON object")
        if name == "read_file":
            path = args.get("path")
            if not isinstance(path, str):
                raise Unread(name, "give a `path` inside this repo, such as config.json")
            kind, arg = "file", path
        elif name in self._kinds:
            kind = arg = self._kinds[name]
        else:
            raise Unread(name, "no such tool")
        result = await self._lookups.read(kind, arg, looked.where, looked.facts)
        if isinstance(result, Unread):
            raise result
        found = result.cut(min(CAPS[result.kind], self._left))
        self._left -= len(found.text)
        if found.url not in {g.url for g in self._given}:
            self._given.append(found)
        return material(f"{found.label} ({found.url}):\n{found.text}", "lookup")
