"""Which weights the repo holds: parameters by dtype (the Hub's `safetensors` facts), GGUF
facts (`gguf`), and the weight formats its files show (safetensors, GGUF and which
quantizations, ONNX, MLX, PyTorch, ...). From the repo's facts alone: no extra Hub call."""

from __future__ import annotations

import posixpath
import re

from bot.answer.context import RepoFacts, as_dict
from bot.sources.found import Found, Unread, Where

WEIGHTS_CHARS = 1200
_QUANT = re.compile(r"(?i)\b((?:IQ|Q)\d(?:_[A-Z0-9]+)*|BF16|F16|F32)\b")
_FORMATS = (  # (what a file name ends with, the format's name)
    (".safetensors", "safetensors"),
    (".gguf", "GGUF"),
    (".onnx", "ONNX"),
    (".bin", "PyTorch (.bin)"),
    (".pt", "PyTorch (.pt)"),
    (".pth", "PyTorch (.pth)"),
    (".h5", "TensorFlow (.h5)"),
    (".msgpack", "Flax (.msgpack)"),
    (".mlmodel", "Core ML"),
    (".mlpackage", "Core ML"),
    (".tflite", "TFLite"),
    (".nemo", "NeMo"),
    (".ckpt", "checkpoint"),
)


def formats(facts: RepoFacts) -> list[str]:
    """The weight formats the repo's files show, GGUF with its quantizations."""
    found: dict[str, set[str]] = {}
    for name in facts.files:
        base = posixpath.basename(name).lower()
        if base.startswith("training_args") or base.endswith("optimizer.pt"):
            continue  # training state, not weights
        for suffix, kind in _FORMATS:
            if base.endswith(suffix) or f"{suffix}/" in name.lower():
                quant = found.setdefault(kind, set())
                if kind == "GGUF" and (q := _QUANT.search(posixpath.basename(name))):
                    quant.add(q.group(1).upper())
                break
    if "mlx" in facts.tags or any(f.endswith(".npz") for f in facts.files):
        found.setdefault("MLX", set())
    return [f"{k} ({', '.join(sorted(v))})" if v else k for k, v in found.items()]


def parameters(facts: RepoFacts) -> str | None:
    """`7,241,732,096 (BF16)`, or by dtype when there are several."""
    safetensors = as_dict(facts.details.get("safetensors"))
    by_dtype = {
        k: v for k, v in as_dict(safetensors.get("parameters")).items() if isinstance(v, int)
    }
    total = safetensors.get("total")
    if not isinstance(total, int):
        total = as_dict(facts.details.get("gguf")).get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        return None
    if not by_dtype:
        return f"{total:,}"
    if len(by_dtype) == 1:
        return f"{total:,} ({next(iter(by_dtype))})"
    return f"{total:,} (" + ", ".join(f"{k} {v:,}" for k, v in by_dtype.items()) + ")"


def gguf_lines(facts: RepoFacts) -> list[str]:
    gguf = as_dict(facts.details.get("gguf"))
    lines = []
    for key, name in (
        ("architecture", "architecture"),
        ("context_length", "context length"),
        ("total", "parameters"),
    ):
        value = gguf.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            lines.append(
                f"GGUF {name}: {value:,}" if isinstance(value, int) else f"GGUF {name}: {value}"
            )
    if gguf.get("chat_template"):
        lines.append("GGUF has a chat template")
    return lines


def read(facts: RepoFacts, where: Where) -> Found:
    if not facts.known:
        raise Unread("the weights", "the repo's facts could not be read")
    lines = []
    if shown := parameters(facts):
        lines.append(f"Parameters: {shown}")
    lines += gguf_lines(facts)
    if kinds := formats(facts):
        lines.append(f"Weight formats: {'; '.join(kinds)}")
    weights = [f for f in facts.files if any(f.lower().endswith(s) for s, _ in _FORMATS)]
    if weights:
        more = f" and {len(weights) - 12} more" if len(weights) > 12 else ""
        lines.append(f"Weight files: {', '.join(weights[:12])}{more}")
    if not lines:  # a fact worth telling (a card-only or code-only repo), not a failure,
        # and nothing to cite
        text = "No weight files in this repo at this revision, and no parameter count."
        return Found("weights", "files", "", text)
    return Found("weights", "files", f"{where.page}/tree/{_rev(where)}", "\n".join(lines))


def _rev(where: Where) -> str:
    return where.revision.replace("/", "%2F")
