"""The model's configuration, summarised: config.json (architecture, context length, sizes,
dtype, RoPE scaling, quantization), generation_config.json, and whether tokenizer_config.json
carries a chat template. Read at the revision, each file whole up to a byte cap; a config of
several megabytes is refused, never put in a prompt."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.sources.files import RepoFiles
from bot.sources.found import Found, Unread, Where

CONFIG_CHARS = 1500
CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "max_sequence_length",
    "n_ctx",
    "sliding_window",
)
_SIZES = (
    ("hidden_size", "hidden size"),
    ("num_hidden_layers", "layers"),
    ("num_attention_heads", "attention heads"),
    ("num_key_value_heads", "key/value heads"),
    ("intermediate_size", "intermediate size"),
    ("vocab_size", "vocabulary"),
    ("n_embd", "hidden size"),
    ("n_layer", "layers"),
    ("n_head", "attention heads"),
)
_GENERATION = (
    "max_new_tokens",
    "max_length",
    "temperature",
    "top_p",
    "top_k",
    "do_sample",
    "repetition_penalty",
    "eos_token_id",
)


def parsed(text: str, path: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        raise Unread(path, "not valid JSON") from None
    if not isinstance(body, dict):
        raise Unread(path, "not a JSON object")
    return body


def _short(value: object) -> str:
    shown = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return shown if len(shown) <= 200 else shown[:197] + "..."


def context_length(config: dict[str, Any]) -> tuple[str, int] | None:
    """Which key holds the context length, and its value (a text_config's for multimodal)."""
    for part in (config, config.get("text_config")):
        if isinstance(part, dict):
            for key in CONTEXT_KEYS:
                value = part.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return key, value
    return None


def summary(config: dict[str, Any]) -> list[str]:
    """One line per fact of config.json that people ask about."""
    lines = []
    if isinstance(arch := config.get("architectures"), list) and arch:
        lines.append(f"architecture: {', '.join(map(str, arch[:3]))}")
    if isinstance(config.get("model_type"), str):
        lines.append(f"model type: {config['model_type']}")
    if found := context_length(config):
        lines.append(f"context length: {found[1]:,} tokens ({found[0]})")
    nested = config.get("text_config")
    text: dict[str, Any] = nested if isinstance(nested, dict) else {}
    seen = set()
    for key, name in _SIZES:
        value = config.get(key, text.get(key))
        if isinstance(value, int) and name not in seen:
            seen.add(name)
            lines.append(f"{name}: {value:,}")
    dtype = config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype")
    if isinstance(dtype, str):
        lines.append(f"torch_dtype: {dtype}")
    for key in ("rope_scaling", "rope_theta", "quantization_config"):
        if config.get(key) is not None:
            lines.append(f"{key}: {_short(config[key])}")
    return lines


class ConfigSource:
    def __init__(self, files: RepoFiles) -> None:
        self._files = files

    async def config(self, where: Where) -> dict[str, Any]:
        return parsed(await self._files.json_text(where, "config.json"), "config.json")

    async def read(self, where: Where, files: tuple[str, ...]) -> Found:
        """The summary; Unread when config.json itself cannot be read."""
        if files and "config.json" not in files:
            raise Unread("config.json", "the repo has none")
        names = ("generation_config.json", "tokenizer_config.json")
        wanted = [n for n in names if n in files]
        config, *others = await asyncio.gather(
            self.config(where),
            *(self._files.json_text(where, n) for n in wanted),
            return_exceptions=True,
        )
        if isinstance(config, BaseException):
            raise config
        lines = [f"config.json: {line}" for line in summary(config)]
        for name, text in zip(wanted, others, strict=True):
            if isinstance(text, BaseException):
                continue  # the config says the most; its companions are extras
            try:
                body = parsed(text, name)
            except Unread:
                continue
            if name == "tokenizer_config.json":
                has = "has" if body.get("chat_template") else "has no"
                lines.append(f"tokenizer_config.json {has} chat_template")
            else:
                shown = [f"{k}={_short(body[k])}" for k in _GENERATION if k in body]
                if shown:
                    lines.append(f"generation_config.json: {', '.join(shown)}")
        return Found("config", "config.json", where.blob("config.json"), "\n".join(lines))
