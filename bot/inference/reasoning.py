"""What a reasoning model thinks is not what it answers.

Reasoning models think before they answer: OpenAI-style servers send the thinking as
`reasoning_content` (vLLM, DeepSeek, most providers) or `reasoning` (TGI) beside `content`,
which the backends never read as the answer; others leave it in the content as
`<think>...</think>`, cut here. Thinking can use up every token allowed, leaving no answer:
that is `ReasonedOnly`, asked once more with REASONING_ROOM more tokens.
"""

from __future__ import annotations

import re

from bot.errors import UpstreamError

REASONING_ROOM = 4096  # tokens added for the one retry of a model that only reasoned
_THOUGHT = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL)


class ReasonedOnly(UpstreamError):
    """The model reasoned and gave no answer (its tokens ran out while it thought)."""


def without_reasoning(text: str) -> tuple[str, bool]:
    """The answer without the model's thinking, and whether there was any. A chat template
    may open `<think>` itself, so a `</think>` with no opening before it closes a thought
    that started the text; an unclosed `<think>` runs to the end."""
    head, closed, tail = text.partition("</think>")
    if closed and "<think>" not in head:
        text = tail
    answer = _THOUGHT.sub("", text)
    return answer.strip(), bool(closed) or answer != text
