"""Settings: read once, validated, every error naming the setting and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_settings

REQUIRED = {"HF_TOKEN": "hf_abc", "WEBHOOK_SECRET": "s3cret"}


def test_defaults_follow_the_contract() -> None:
    settings = load_settings(REQUIRED, env_file=None)

    assert settings.hf_endpoint == "https://huggingface.co"
    assert settings.host == "0.0.0.0"  # noqa: S104 - the contract: Spaces need every interface
    assert settings.port == 7860
    assert settings.max_body_bytes == 1024 * 1024  # a 65,536-character comment fits, in any script
    assert settings.model_id == "bigscience/bloom"
    assert settings.inference_api == "auto"
    assert settings.inference_router_url == "https://router.huggingface.co"
    assert settings.model_token == settings.hf_token
    assert settings.webhook_url == "http://localhost:7860/webhook"


@pytest.mark.parametrize("missing", ["HF_TOKEN", "WEBHOOK_SECRET"])
def test_a_missing_secret_names_the_setting(missing: str) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != missing}

    with pytest.raises(ConfigError, match=f"^{missing} is not set"):
        load_settings(env, env_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "http"),
        ("PORT", "70000"),
        ("HF_ENDPOINT", "huggingface.co"),
        ("TEMPERATURE", "hot"),
        ("CONCURRENCY", "0"),
        ("LOG_LEVEL", "LOUD"),
        ("PROMPT_SETS", "acme/*=../secrets"),
        ("INFERENCE_API", "completion"),
    ],
)
def test_a_malformed_value_names_the_setting_and_the_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be .*{re.escape(repr(value))}"):
        load_settings({**REQUIRED, name: value}, env_file=None)


def test_a_token_with_a_line_break_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**REQUIRED, "HF_TOKEN": "hf_abc\ndef"}, env_file=None)

    assert "hf_abc" not in str(caught.value)
    assert str(caught.value).startswith("HF_TOKEN")


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HF_TOKEN=hf_from_file\nWEBHOOK_SECRET=file\nPORT=9000\n")

    settings = load_settings({"PORT": "9001"}, env_file=str(env_file))

    assert settings.hf_token.get_secret_value() == "hf_from_file"
    assert settings.port == 9001


def test_on_a_space_the_webhook_url_uses_the_space_host() -> None:
    settings = load_settings({**REQUIRED, "SPACE_HOST": "me-bot.hf.space"}, env_file=None)

    assert settings.webhook_url == "https://me-bot.hf.space/webhook"


def test_secrets_never_print() -> None:
    settings = load_settings(REQUIRED, env_file=None)

    assert "hf_abc" not in repr(settings)
    assert "s3cret" not in str(settings)
    assert str(Secret("x")) == "**********"


def test_switching_to_a_chat_model_takes_two_settings() -> None:
    settings = load_settings(
        {
            **REQUIRED,
            "INFERENCE_API": "chat",
            "INFERENCE_MODEL": "meta-llama/Llama-3.1-8B-Instruct",
        },
        env_file=None,
    )

    assert settings.inference_api == "chat"
    assert settings.model_id == "meta-llama/Llama-3.1-8B-Instruct"


def test_a_separate_inference_token_keeps_the_hub_token_away_from_other_endpoints() -> None:
    settings = load_settings({**REQUIRED, "INFERENCE_TOKEN": "sk-local"}, env_file=None)

    assert settings.model_token.get_secret_value() == "sk-local"
    assert settings.hf_token.get_secret_value() == "hf_abc"


def test_prompt_sets_are_glob_folder_pairs() -> None:
    settings = load_settings(
        {**REQUIRED, "PROMPT_SETS": "acme/*=formal, bigscience/*=bloom"}, env_file=None
    )

    assert settings.prompt_sets == (("acme/*", "formal"), ("bigscience/*", "bloom"))


def test_every_problem_is_reported_at_once_one_line_each() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"PORT": "http", "TEMPERATURE": "hot", "STATUS_TOKEN": "two words"}, env_file=None
        )

    lines = str(caught.value).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        "HF_TOKEN", "WEBHOOK_SECRET", "PORT", "STATUS_TOKEN", "TEMPERATURE"
    ]  # in the code's order  # fmt: skip
    assert "two words" not in str(caught.value)
    assert "https://huggingface.co/settings/tokens" in lines[0]


def test_the_token_fix_names_the_configured_hub() -> None:
    with pytest.raises(ConfigError, match=r"https://hub\.example/settings/tokens"):
        load_settings({"HF_ENDPOINT": "https://hub.example/", "WEBHOOK_SECRET": "s"}, env_file=None)


def test_choices_are_accepted_in_any_case() -> None:
    settings = load_settings(
        {**REQUIRED, "LOG_LEVEL": "debug", "LOG_FORMAT": "JSON"}, env_file=None
    )

    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")


def test_a_malformed_env_line_names_the_file_and_line_and_never_its_value(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WEBHOOK_SECRET=s\nHF_TOKEN: hf_secret_value\n")

    with pytest.raises(ConfigError) as raised:
        load_settings({}, env_file=str(env_file))

    [line] = str(raised.value).splitlines()  # not also "HF_TOKEN is not set"
    assert line == f"{env_file} line 2 is not NAME=value: write HF_TOKEN=value"
    assert "hf_secret_value" not in str(raised.value)


def test_a_misspelt_setting_is_a_warning_with_the_nearest_name(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ALLOW_REPO=acme/*\nMY_OWN_THING=1\n")
    heard: list[str] = []

    load_settings(
        {**REQUIRED, "DENY_REPO": "x/*", "HOME": "/root"}, str(env_file), warn=heard.append
    )

    assert heard == [
        f"{env_file} line 1: ALLOW_REPO is not a setting of this bot: did you mean ALLOW_REPOS?",
        f"{env_file} line 2: MY_OWN_THING is not a setting of this bot",
        "DENY_REPO is not a setting of this bot: did you mean DENY_REPOS?",
    ]
