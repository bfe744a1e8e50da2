"""Reading the settings: the environment over `.env`, validated at once, every problem one
line naming the setting and the fix; names that look like a misspelt setting are warnings."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream
from pydantic import ValidationError

from bot.config.settings import SETTING_NAMES, ConfigError, Settings

_REQUIRED_FIX = {
    "hf_token": "create a write token for the bot account at {hf_endpoint}/settings/tokens",
    "webhook_secret": "choose a long random string and set the same one on the Hub webhook",
}
_SECRETS = frozenset(name for name, spec in Settings.model_fields.items() if "Secret" in str(spec))


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: str | None = ".env",
    required: tuple[str, ...] = ("hf_token", "webhook_secret"),
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """The environment over `.env`, validated; raise one ConfigError listing every problem.

    `required` names the secrets this command needs; one it does not need may be absent.
    `warn` hears about names that look like a misspelt setting (ALLOW_REPO for ALLOW_REPOS).
    """
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}  # setting -> the line about it
    if env_file and Path(env_file).is_file():
        values.update(_read_env_file(Path(env_file), problems, warn))
    environ = os.environ if environ is None else environ
    for name in Settings.model_fields:
        if raw := environ.get(name.upper(), "").strip():
            values[name] = raw
    if warn is not None:
        for name in environ:
            if name not in SETTING_NAMES and (near := _nearest_setting(name)):
                warn(f"{name} is not a setting of this bot: did you mean {near}?")
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            problems.setdefault(field, _describe(field, error))
    endpoint = str(values.get("hf_endpoint", "https://huggingface.co")).rstrip("/")
    for name in required:
        if not values.get(name) and name not in problems:
            fix = _REQUIRED_FIX[name].format(hf_endpoint=endpoint)
            problems[name] = f"{name.upper()} is not set: {fix}"
    if problems:
        order = list(Settings.model_fields)
        place = {name: n for n, name in enumerate(order)}
        lines = [problems[name] for name in sorted(problems, key=lambda k: place.get(k, -1))]
        raise ConfigError("\n".join(lines))
    if "data_dir" not in values:
        settings = settings.model_copy(update={"data_dir": _default_data_dir()})
    return settings


def _read_env_file(
    path: Path, problems: dict[str, str], warn: Callable[[str], None] | None
) -> dict[str, str]:
    """The settings a `.env` file sets. A line that is not NAME=value is a problem naming the
    file and line (never the value: it may be a token); a name that is no setting is a
    warning, with the nearest setting when one is close."""
    found: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="replace") as stream:
        for binding in parse_stream(stream):
            line = binding.original.line
            if binding.error:
                written = binding.original.string.strip()
                name = written.split(":")[0].split()[0] if written else ""
                field = name.lower() if name.upper() in SETTING_NAMES else f"{path}:{line}"
                fix = f"write {name}=value" if field != f"{path}:{line}" else "write NAME=value"
                problems[field] = f"{path} line {line} is not NAME=value: {fix}"
                continue
            if binding.key is None:  # a comment or a blank line
                continue
            name = binding.key.strip().upper()
            if name not in SETTING_NAMES:
                if warn is not None:
                    near = _nearest_setting(name)
                    hint = f": did you mean {near}?" if near else ""
                    warn(f"{path} line {line}: {name} is not a setting of this bot{hint}")
                continue
            if binding.value is not None and binding.value.strip():
                found[name.lower()] = binding.value.strip()
    return found


def _nearest_setting(name: str) -> str | None:
    near = difflib.get_close_matches(name.upper(), SETTING_NAMES, n=1, cutoff=0.85)
    return near[0] if near else None


def _describe(field: str, error: Any) -> str:
    spec = Settings.model_fields.get(field)
    expected = spec.description if spec is not None else error["msg"]
    shown = "the value given" if field in _SECRETS else repr(error.get("input"))
    return f"{field.upper()} must be {expected}, got {shown}: fix it in .env or the environment"


def _default_data_dir() -> Path:
    # A mounted volume at /data is used when there is one; anything else stays next to the code.
    persistent = Path("/data")
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent
    return Path("data")
