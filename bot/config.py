"""Settings, read once from the environment and `.env`, validated at the edge.

Each field of `Settings` declares its environment name (the field name in capitals), how to
parse it and what a valid value looks like, so every problem is reported as one `ConfigError`
line naming the setting and the fix. The real environment wins over `.env`, which is how a
Space's secrets reach the bot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.errors import BotError

T = TypeVar("T")


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


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(raw)
    return raw.rstrip("/")


def _ranged(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        value = kind(raw)
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        for option in options:
            if raw.lower() == option.lower():
                return option
        raise ValueError(raw)

    return parse


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _words(raw: str) -> tuple[str, ...]:
    return tuple(word for word in raw.replace(",", " ").split() if word)


def _prompt_routes(raw: str) -> tuple[tuple[str, str], ...]:
    routes = []
    for pair in _words(raw):
        glob, _, name = pair.partition("=")
        if not glob or not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(raw)
        routes.append((glob, name))
    return tuple(routes)


def _secret(raw: str) -> Secret:
    if not raw.isascii() or not raw.isprintable() or any(c.isspace() for c in raw):
        raise ValueError("secret")
    return Secret(raw)


def setting(default: Any, parse: Callable[[str], Any], expected: str) -> Any:
    return field(default=default, metadata={"parse": parse, "expected": expected})


BLOOM_URL = "https://router.huggingface.co/hf-inference/models/bigscience/bloom"
CHAT_URL = "https://router.huggingface.co/v1/chat/completions"
_PRINTABLE_ASCII = "printable ASCII without spaces (copy it again without quotes or line breaks)"
_REQUIRED: dict[str, str] = {
    "hf_token": "create a write token for the bot account at <HF_ENDPOINT>/settings/tokens",
    "webhook_secret": "choose a long random string and set the same one on the Hub webhook",
}


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment, in the order of `.env.example`."""

    hf_token: Secret = setting(None, _secret, _PRINTABLE_ASCII)
    webhook_secret: Secret = setting(None, _secret, _PRINTABLE_ASCII)
    bot_username: str | None = setting(None, str, "a Hub user name")
    hf_endpoint: str = setting("https://huggingface.co", _http_url, "an http(s) URL")
    inference_api: str = setting(
        "text-generation", _choice("text-generation", "chat"), "text-generation or chat"
    )
    inference_url: str | None = setting(None, _http_url, "an http(s) URL")
    inference_model: str | None = setting(None, str, "a model id")
    inference_token: Secret | None = setting(None, _secret, _PRINTABLE_ASCII)
    data_dir: Path = setting(Path("data"), Path, "a directory path")
    host: str = setting("0.0.0.0", str, "an address to listen on")  # noqa: S104 - Spaces need it
    port: int = setting(7860, _ranged(int, 1, 65535), "a whole number from 1 to 65535")
    public_url: str | None = setting(None, _http_url, "an http(s) URL")
    space_host: str | None = setting(None, str, "a host name")
    status_token: Secret | None = setting(None, _secret, _PRINTABLE_ASCII)
    prompts_dir: Path = setting(Path("prompts"), Path, "a directory path")
    prompt_sets: tuple[tuple[str, str], ...] = setting(
        (), _prompt_routes, "pairs of repo glob=folder in PROMPTS_DIR, such as acme/*=acme"
    )
    max_new_tokens: int = setting(250, _ranged(int, 1, 4096), "from 1 to 4096")
    temperature: float = setting(0.7, _ranged(float, 0.0, 2.0), "from 0 to 2")
    top_p: float = setting(0.9, _ranged(float, 0.01, 1.0), "from 0.01 to 1")
    max_reply_chars: int = setting(2000, _ranged(int, 100, 60_000), "from 100 to 60000")
    thread_budget_chars: int = setting(6000, _ranged(int, 0, 200_000), "from 0 to 200000")
    allow_mentions: bool = setting(False, _flag, "true or false")
    failure_notice: bool = setting(True, _flag, "true or false")
    max_body_bytes: int = setting(
        256 * 1024, _ranged(int, 1024, 16 * 1024 * 1024), "a byte count from 1024 to 16777216"
    )
    header_timeout: float = setting(10.0, _ranged(float, 0.1, 600), "seconds from 0.1 to 600")
    concurrency: int = setting(4, _ranged(int, 1, 64), "from 1 to 64")
    max_queue: int = setting(1000, _ranged(int, 1, 1_000_000), "from 1 to 1000000")
    lease_seconds: float = setting(30.0, _ranged(float, 1, 3600), "seconds from 1 to 3600")
    max_attempts: int = setting(5, _ranged(int, 1, 100), "from 1 to 100")
    attempt_backoff: float = setting(30.0, _ranged(float, 0, 3600), "seconds from 0 to 3600")
    shutdown_grace: float = setting(20.0, _ranged(float, 0, 600), "seconds from 0 to 600")
    retention_days: float = setting(30.0, _ranged(float, 1, 3650), "days from 1 to 3650")
    inference_timeout: float = setting(60.0, _ranged(float, 1, 600), "seconds from 1 to 600")
    hub_timeout: float = setting(15.0, _ranged(float, 1, 120), "seconds from 1 to 120")
    retry_budget: float = setting(120.0, _ranged(float, 0, 3600), "seconds from 0 to 3600")
    replies_per_discussion_hour: int = setting(5, _ranged(int, 0, 10_000), "from 0 to 10000")
    replies_per_author_hour: int = setting(10, _ranged(int, 0, 10_000), "from 0 to 10000")
    replies_per_day: int = setting(300, _ranged(int, 0, 1_000_000), "from 0 to 1000000")
    allow_repos: tuple[str, ...] = setting(("*",), _words, "repo globs such as org/*")
    deny_repos: tuple[str, ...] = setting((), _words, "repo globs such as org/*")
    allow_authors: tuple[str, ...] = setting((), _words, "Hub user ids")
    deny_authors: tuple[str, ...] = setting((), _words, "Hub user ids")
    answer_private_repos: bool = setting(False, _flag, "true or false")
    answer_closed: bool = setting(False, _flag, "true or false")
    answer_pull_requests: bool = setting(True, _flag, "true or false")
    log_level: str = setting("INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "a level")
    log_format: str = setting("text", _choice("text", "json"), "text or json")
    bot_fault: str | None = setting(None, str, "empty outside the test suite")

    @property
    def model_url(self) -> str:
        if self.inference_url:
            return self.inference_url
        return CHAT_URL if self.inference_api == "chat" else BLOOM_URL

    @property
    def model_token(self) -> Secret:
        return self.inference_token or self.hf_token

    @property
    def secrets(self) -> list[Secret]:
        """Every value that must never reach a log line or a post."""
        found = [self.hf_token, self.webhook_secret, self.inference_token, self.status_token]
        return [secret for secret in found if secret is not None]

    @property
    def webhook_url(self) -> str:
        if self.public_url:
            base = self.public_url
        elif self.space_host:
            base = f"https://{self.space_host}"
        else:
            base = f"http://localhost:{self.port}"
        return base.rstrip("/") + "/webhook"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "bot.sqlite3"


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: str | None = ".env",
    required: tuple[str, ...] = ("hf_token", "webhook_secret"),
) -> Settings:
    """Merge `.env` under the environment and validate every value.

    `required` names the secrets this command needs; one it does not need may be absent, and
    is then an empty Secret.
    """
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    parsed: dict[str, Any] = {}
    for spec in fields(Settings):
        name = spec.name.upper()
        raw = values.get(name, "").strip()
        if not raw:
            if spec.name in required:
                raise ConfigError(f"{name} is not set: {_REQUIRED[spec.name]}")
            if spec.name in _REQUIRED:
                parsed[spec.name] = Secret("")
            continue
        try:
            parsed[spec.name] = spec.metadata["parse"](raw)
        except ValueError:
            shown = "the value given" if spec.metadata["parse"] is _secret else repr(raw)
            raise ConfigError(
                f"{name} must be {spec.metadata['expected']}, got {shown}:"
                " fix it in .env or the environment"
            ) from None
    settings = Settings(**parsed)
    if settings.inference_api == "chat" and not settings.inference_model:
        raise ConfigError(
            "INFERENCE_MODEL is not set: INFERENCE_API=chat needs the model to ask for,"
            " such as meta-llama/Llama-3.1-8B-Instruct"
        )
    if "data_dir" not in parsed:
        settings = replace(settings, data_dir=_default_data_dir())
    return settings


def _default_data_dir() -> Path:
    # A Space with persistent storage mounts it at /data; anything else stays next to the code.
    persistent = Path("/data")
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent
    return Path("data")
