"""Settings, read once from the environment and `.env`, validated at the edge.

Every problem is reported as one `ConfigError` line that names the setting and the fix, so
`python -m bot` can print it and exit instead of failing later at the first mention.
The real environment wins over `.env`, which is how Spaces secrets reach the bot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.errors import BotError

T = TypeVar("T")

DEFAULT_INFERENCE_URL = "https://router.huggingface.co/hf-inference/models/bigscience/bloom"


class ConfigError(BotError):
    """A setting is missing or malformed; the message names it and says how to fix it."""


class Secret:
    """A value that must never be printed: repr and str show stars."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment, in the order of `.env.example`."""

    hf_token: Secret
    webhook_secret: Secret
    bot_username: str | None = None
    hf_endpoint: str = "https://huggingface.co"
    inference_url: str = DEFAULT_INFERENCE_URL
    data_dir: Path = Path("data")
    host: str = "0.0.0.0"  # noqa: S104 - a Space must listen on every interface
    port: int = 7860
    public_url: str = "http://localhost:7860"
    prompts_dir: Path = Path("prompts")
    prompt_template: str = "completion.j2"
    max_new_tokens: int = 250
    temperature: float = 0.7
    top_p: float = 0.9
    max_body_bytes: int = 256 * 1024
    concurrency: int = 4
    shutdown_grace: float = 20.0
    inference_timeout: float = 60.0
    hub_timeout: float = 15.0
    retry_budget: float = 120.0
    log_level: str = "INFO"

    @property
    def webhook_url(self) -> str:
        return self.public_url.rstrip("/") + "/webhook"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "bot.sqlite3"


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | None = ".env"
) -> Settings:
    """Merge `.env` under the environment and validate every value."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return _parse(_Reader(values))


class _Reader:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def raw(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def get(self, name: str, parse: Callable[[str], T], default: T, expected: str) -> T:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            raise ConfigError(
                f"{name} must be {expected}, got {raw!r}: fix it in .env or the environment"
            ) from None

    def secret(self, name: str, where: str) -> Secret:
        raw = self.raw(name)
        if raw is None:
            raise ConfigError(f"{name} is not set: {where}")
        if not raw.isascii() or not raw.isprintable() or any(c.isspace() for c in raw):
            raise ConfigError(
                f"{name} must be printable ASCII without spaces: copy it again without quotes"
                " or line breaks"
            )
        return Secret(raw)


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(raw)
    return raw.rstrip("/")


def _ranged(kind: Callable[[str], T], low: float, high: float) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if not low <= value <= high:  # type: ignore[operator]
            raise ValueError(raw)
        return value

    return parse


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(raw)
    return level


def _template_name(raw: str) -> str:
    if "/" in raw or "\\" in raw or raw.startswith("."):
        raise ValueError(raw)
    return raw


def _default_data_dir() -> Path:
    # A Space with persistent storage mounts it at /data; anything else stays next to the code.
    persistent = Path("/data")
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent
    return Path("data")


def _parse(env: _Reader) -> Settings:
    port = env.get("PORT", _ranged(int, 1, 65535), 7860, "a whole number from 1 to 65535")
    space_host = env.raw("SPACE_HOST")
    default_public = f"https://{space_host}" if space_host else f"http://localhost:{port}"
    return Settings(
        hf_token=env.secret(
            "HF_TOKEN", "create a write token for the bot account at <HF_ENDPOINT>/settings/tokens"
        ),
        webhook_secret=env.secret(
            "WEBHOOK_SECRET", "choose a long random string and set the same one on the Hub webhook"
        ),
        bot_username=env.raw("BOT_USERNAME"),
        hf_endpoint=env.get("HF_ENDPOINT", _http_url, Settings.hf_endpoint, "an http(s) URL"),
        inference_url=env.get("INFERENCE_URL", _http_url, Settings.inference_url, "an http(s) URL"),
        data_dir=env.get("DATA_DIR", Path, _default_data_dir(), "a directory path"),
        host=env.get("HOST", str, Settings.host, "an address to listen on"),
        port=port,
        public_url=env.get("PUBLIC_URL", _http_url, default_public, "an http(s) URL"),
        prompts_dir=env.get("PROMPTS_DIR", Path, Settings.prompts_dir, "a directory path"),
        prompt_template=env.get(
            "PROMPT_TEMPLATE",
            _template_name,
            Settings.prompt_template,
            "a file name in PROMPTS_DIR",
        ),
        max_new_tokens=env.get(
            "MAX_NEW_TOKENS", _ranged(int, 1, 4096), Settings.max_new_tokens, "from 1 to 4096"
        ),
        temperature=env.get(
            "TEMPERATURE", _ranged(float, 0.0, 2.0), Settings.temperature, "from 0 to 2"
        ),
        top_p=env.get("TOP_P", _ranged(float, 0.01, 1.0), Settings.top_p, "from 0.01 to 1"),
        max_body_bytes=env.get(
            "MAX_BODY_BYTES",
            _ranged(int, 1024, 16 * 1024 * 1024),
            Settings.max_body_bytes,
            "a byte count from 1024 to 16777216",
        ),
        concurrency=env.get(
            "CONCURRENCY", _ranged(int, 1, 64), Settings.concurrency, "from 1 to 64"
        ),
        shutdown_grace=env.get(
            "SHUTDOWN_GRACE",
            _ranged(float, 0, 600),
            Settings.shutdown_grace,
            "seconds from 0 to 600",
        ),
        inference_timeout=env.get(
            "INFERENCE_TIMEOUT",
            _ranged(float, 1, 600),
            Settings.inference_timeout,
            "seconds from 1 to 600",
        ),
        hub_timeout=env.get(
            "HUB_TIMEOUT", _ranged(float, 1, 120), Settings.hub_timeout, "seconds from 1 to 120"
        ),
        retry_budget=env.get(
            "RETRY_BUDGET", _ranged(float, 0, 3600), Settings.retry_budget, "seconds from 0 to 3600"
        ),
        log_level=env.get(
            "LOG_LEVEL", _log_level, Settings.log_level, "DEBUG, INFO, WARNING or ERROR"
        ),
    )
