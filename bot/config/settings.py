"""`Settings`: every setting the bot reads, as one pydantic field each (its name in capitals),
with its type, range and default, and as its description what a valid value looks like (the
error lines say it). Secrets are `SecretStr`: they print as stars and are never echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from bot.errors import BotError

Secret = SecretStr


class ConfigError(BotError):
    """Settings are missing or malformed; one line per problem, naming the setting and the fix."""


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return raw.rstrip("/")


def _printable(secret: SecretStr) -> SecretStr:
    raw = secret.get_secret_value()
    if not raw.isascii() or not raw.isprintable() or any(c.isspace() for c in raw):
        raise ValueError("not printable ASCII")
    return secret


def _postgres_url(url: SecretStr) -> SecretStr:
    parts = urlsplit(url.get_secret_value())
    if parts.scheme not in ("postgres", "postgresql") or not parts.path.strip("/"):
        raise ValueError("not a PostgreSQL URL")
    return url


def _split(raw: str) -> tuple[str, ...]:
    return tuple(word for word in raw.replace(",", " ").split() if word)


def _words(raw: object) -> object:
    return _split(raw) if isinstance(raw, str) else raw


def _prompt_routes(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    routes = []
    for pair in _split(raw):
        glob, _, name = pair.partition("=")
        if not glob or not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError("not glob=folder")
        routes.append((glob, name))
    return tuple(routes)


def _folded(kind: str) -> BeforeValidator:
    """Accept a choice in any case, as people type it."""
    return BeforeValidator(lambda raw: getattr(raw, kind)() if isinstance(raw, str) else raw)


Url = Annotated[str, AfterValidator(_http_url)]
Token = Annotated[SecretStr, AfterValidator(_printable)]
PostgresUrl = Annotated[SecretStr, AfterValidator(_postgres_url)]
Words = Annotated[tuple[str, ...], BeforeValidator(_words)]
PromptRoutes = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_prompt_routes)]
_PRINTABLE_ASCII = "printable ASCII without spaces (copy it again without quotes or line breaks)"
_URL = "an http(s) URL"
_FLAG = "true or false"
_HUB_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"  # also keeps a header value plain ASCII


def setting(default: Any, expected: str, **constraints: Any) -> Any:
    """A setting's default, and in words what a valid value looks like (shown in errors)."""
    return Field(default, description=expected, **constraints)


class Settings(BaseModel):
    """Everything the bot reads from its environment, in the order of `.env.example`.

    A plain model: `load_settings` gathers the environment over `.env` itself (so tests can
    hand in an environment of their own) and passes the values in."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    hf_token: Token | None = setting(None, _PRINTABLE_ASCII)
    webhook_secret: Token | None = setting(None, _PRINTABLE_ASCII)
    bot_username: str | None = setting(None, "a Hub user name")
    hf_endpoint: Url = setting("https://huggingface.co", _URL)
    inference_model: str | None = setting(None, "a model id on the Hub, such as bigscience/bloom")
    inference_api: Annotated[
        Literal["auto", "text-generation", "completions", "chat"], _folded("lower")
    ] = setting("auto", "auto, text-generation, completions or chat")
    inference_url: Url | None = setting(None, _URL)
    inference_provider: str | None = setting(None, "an Inference Provider's name, such as together")
    inference_policy: Annotated[Literal["fastest", "cheapest"], _folded("lower")] = setting(
        "fastest", "fastest or cheapest"
    )
    reasoning_effort: Annotated[Literal["low", "medium", "high"] | None, _folded("lower")] = (
        setting(None, "low, medium or high")
    )
    bill_to: str | None = setting(
        None, "an organisation's name on the Hub, such as acme", pattern=_HUB_NAME
    )
    inference_router_url: Url = setting("https://router.huggingface.co", _URL)
    inference_token: Token | None = setting(None, _PRINTABLE_ASCII)
    database_url: PostgresUrl | None = setting(
        None, "a PostgreSQL URL, postgresql://user:password@host:port/database"
    )
    data_dir: Path = setting(Path("data"), "a directory path")
    host: str = setting("0.0.0.0", "an address to listen on")  # noqa: S104 - Spaces need it
    port: int = setting(7860, "a whole number from 1 to 65535", ge=1, le=65535)
    public_url: Url | None = setting(None, _URL)
    space_host: str | None = setting(None, "a host name")
    status_token: Token | None = setting(None, _PRINTABLE_ASCII)
    prompts_dir: Path | None = setting(None, "a directory path")
    prompt_sets: PromptRoutes = setting(
        (), "pairs of repo glob=folder in PROMPTS_DIR, such as acme/*=acme"
    )
    max_new_tokens: int = setting(250, "from 1 to 4096", ge=1, le=4096)
    temperature: float = setting(0.7, "from 0 to 2", ge=0, le=2)
    top_p: float = setting(0.9, "from 0.01 to 1", ge=0.01, le=1)
    max_reply_chars: int = setting(2000, "from 100 to 60000", ge=100, le=60_000)
    thread_budget_chars: int = setting(4000, "from 0 to 200000", ge=0, le=200_000)
    card_budget_chars: int = setting(2000, "from 0 to 200000", ge=0, le=200_000)
    diff_budget_chars: int = setting(2500, "from 0 to 200000", ge=0, le=200_000)
    files_listed: int = setting(30, "from 0 to 10000", ge=0, le=10_000)
    dataset_viewer_url: Url = setting("https://datasets-server.huggingface.co", _URL)
    tools: Annotated[Literal["auto", "off"], _folded("lower")] = setting("auto", "auto or off")
    max_tool_calls: int = setting(4, "from 0 to 20", ge=0, le=20)
    lookup_budget_chars: int = setting(6000, "from 0 to 100000", ge=0, le=100_000)
    allow_mentions: bool = setting(False, _FLAG)
    failure_notice: bool = setting(True, _FLAG)
    follow_ups: bool = setting(False, _FLAG)
    follow_up_hours: float = setting(24.0, "hours from 0.1 to 720", ge=0.1, le=720)
    follow_up_turns: int = setting(3, "from 1 to 50", ge=1, le=50)
    progress_comment: bool = setting(False, _FLAG)
    max_body_bytes: int = setting(
        1024 * 1024, "a byte count from 1024 to 16777216", ge=1024, le=16 * 1024 * 1024
    )
    header_timeout: float = setting(10.0, "seconds from 0.1 to 600", ge=0.1, le=600)
    body_timeout: float = setting(10.0, "seconds from 0.1 to 600", ge=0.1, le=600)
    max_connections: int = setting(1000, "from 1 to 1000000", ge=1, le=1_000_000)
    concurrency: int = setting(4, "from 1 to 64", ge=1, le=64)
    max_queue: int = setting(1000, "from 1 to 1000000", ge=1, le=1_000_000)
    lease_seconds: float = setting(30.0, "seconds from 1 to 3600", ge=1, le=3600)
    max_attempts: int = setting(5, "from 1 to 100", ge=1, le=100)
    attempt_backoff: float = setting(30.0, "seconds from 0 to 3600", ge=0, le=3600)
    shutdown_grace: float = setting(20.0, "seconds from 0 to 600", ge=0, le=600)
    retention_days: float = setting(30.0, "days from 1 to 3650", ge=1, le=3650)
    inference_timeout: float = setting(60.0, "seconds from 1 to 600", ge=1, le=600)
    hub_timeout: float = setting(15.0, "seconds from 1 to 120", ge=1, le=120)
    max_upstream_bytes: int = setting(
        10 * 1024 * 1024, "a byte count from 65536 to 1073741824", ge=65536, le=1 << 30
    )
    retry_budget: float = setting(120.0, "seconds from 0 to 3600", ge=0, le=3600)
    replies_per_discussion_hour: int = setting(5, "from 0 to 10000", ge=0, le=10_000)
    replies_per_author_hour: int = setting(10, "from 0 to 10000", ge=0, le=10_000)
    replies_per_day: int = setting(300, "from 0 to 1000000", ge=0, le=1_000_000)
    allow_repos: Words = setting(("*",), "repo globs such as org/*")
    deny_repos: Words = setting((), "repo globs such as org/*")
    allow_authors: Words = setting((), "Hub user ids")
    deny_authors: Words = setting((), "Hub user ids")
    answer_private_repos: bool = setting(False, _FLAG)
    answer_closed: bool = setting(False, _FLAG)
    answer_pull_requests: bool = setting(True, _FLAG)
    automations_file: Path | None = setting(None, "a YAML file path (see docs/automations.md)")
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], _folded("upper")] = setting(
        "INFO", "DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Annotated[Literal["text", "json"], _folded("lower")] = setting(
        "text", "text or json"
    )
    access_log: bool = setting(False, _FLAG)
    bot_fault: str | None = setting(None, "empty outside the test suite")

    @property
    def hub_token(self) -> SecretStr:
        """HF_TOKEN, or an empty secret for a command that does not need it."""
        return self.hf_token or SecretStr("")

    @property
    def shared_secret(self) -> SecretStr:
        """WEBHOOK_SECRET, or an empty secret for a command that does not need it."""
        return self.webhook_secret or SecretStr("")

    @property
    def model_id(self) -> str:
        return self.inference_model or DEFAULT_MODEL

    @property
    def model_token(self) -> SecretStr:
        return self.inference_token or self.hub_token

    @property
    def secrets(self) -> list[SecretStr]:
        """Every value that must never reach a log line, a stored reason or a post."""
        found = [self.hf_token, self.webhook_secret, self.inference_token, self.status_token]
        if self.database_url:
            password = urlsplit(self.database_url.get_secret_value()).password
            found += [self.database_url, SecretStr(password) if password else None]
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
    def prompt_folder(self) -> Path:
        """PROMPTS_DIR, else ./prompts, else the prompts/ beside the code (so `python -m bot`
        from another folder of a checkout still finds its words)."""
        if self.prompts_dir is not None:
            return self.prompts_dir.resolve()
        here = Path("prompts")
        beside_code = Path(__file__).resolve().parents[2] / "prompts"  # beside bot/
        return (here if here.is_dir() or not beside_code.is_dir() else beside_code).resolve()

    @property
    def automations_path(self) -> Path | None:
        """AUTOMATIONS_FILE, else ./automations.yaml when there is one, else none."""
        if self.automations_file is not None:
            return self.automations_file
        here = Path("automations.yaml")
        return here if here.is_file() else None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "bot.sqlite3"


DEFAULT_MODEL = "bigscience/bloom"  # the product's owner asked for BLOOM
SETTING_NAMES = tuple(name.upper() for name in Settings.model_fields)
