"""The operator's commands for automations, on the real process against the fake Hub:
`check` names what the rules file lacks, `preview --automation` shows what would be done
without doing it, `webhooks create` asks for the repo domain the rules need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.botprocess import WEBHOOK_SECRET, Fakes, routed_environment, run_bot
from tests.test_automations_e2e import CARD_WITHOUT_LICENSE, RETRAIN, REVIEW

PUBLIC_URL = "https://my-bot.hf.space"


@pytest.fixture
def deployed(fakes: Fakes) -> dict[str, Any]:
    fakes.hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    hook = {
        "id": "654bbbc16f2ec14d77f10aaa",
        "url": f"{PUBLIC_URL}/webhook",
        "watched": [{"type": "org", "name": "acme-data"}],
        "domains": ["discussion", "repo"],
        "secret": WEBHOOK_SECRET,
        "disabled": False,
    }
    fakes.hub.webhooks[hook["id"]] = hook
    return hook


def check(tmp_path: Path, fakes: Fakes, rules: str, **settings: str) -> tuple[int, str]:
    path = tmp_path / "automations.yaml"
    path.write_text(rules)
    env = routed_environment(
        tmp_path, fakes, PUBLIC_URL=PUBLIC_URL, AUTOMATIONS_FILE=str(path), **settings
    )
    result = run_bot(tmp_path, env, "check")
    found = [line for line in result.stdout.splitlines() if "automations:" in line]
    return result.returncode, found[0] if found else result.stdout + result.stderr


def test_sound_rules_pass_the_check_and_nothing_is_started(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    code, line = check(tmp_path, fakes, RETRAIN, TRAIN_PUSH_TOKEN="hf_secret_value")

    assert code == 0, line
    assert line.startswith("ok") and "1 rule(s)" in line
    assert fakes.hub.started_jobs == []
    assert any(r.path == "/api/jobs/acme/auth-check/write" for r in fakes.hub.requests)


def test_an_unknown_key_is_named(tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]) -> None:
    code, line = check(tmp_path, fakes, RETRAIN.replace("flavor:", "flavour:"))

    assert code == 1
    assert "FAIL" in line and "unknown key 'flavour'" in line


def test_a_secret_named_but_not_set_is_named(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    code, line = check(tmp_path, fakes, RETRAIN)

    assert code == 1
    assert "TRAIN_PUSH_TOKEN" in line and "not set" in line


def test_a_webhook_without_the_repo_domain_is_named_with_its_fix(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    deployed["domains"] = ["discussion"]

    code, line = check(tmp_path, fakes, RETRAIN, TRAIN_PUSH_TOKEN="x")

    assert code == 1
    assert "does not watch the repo domain" in line and "--domain repo" in line


def test_a_namespace_the_token_may_not_run_jobs_in_is_named(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    fakes.hub.jobs_allowed = {"hub-bot"}

    code, line = check(tmp_path, fakes, RETRAIN, TRAIN_PUSH_TOKEN="x")

    assert code == 1
    assert "may not run Jobs in acme" in line


def preview(tmp_path: Path, fakes: Fakes, rules: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "automations.yaml"
    path.write_text(rules)
    env = routed_environment(tmp_path, fakes, AUTOMATIONS_FILE=str(path), TRAIN_PUSH_TOKEN="hf_s3")
    result = run_bot(tmp_path, env, "preview", *args)
    return result.returncode, result.stdout + result.stderr


def test_preview_shows_the_job_spec_with_secrets_masked_and_starts_nothing(
    tmp_path: Path, fakes: Fakes
) -> None:
    fakes.hub.repo("dataset", "acme-data/weather", sha="c" * 40)

    code, out = preview(
        tmp_path, fakes, RETRAIN, "--automation", "retrain-on-data", "--repo", "acme-data/weather"
    )

    assert code == 0, out
    assert '"REPO_SHA": "' + "c" * 40 in out
    assert '"TRAIN_PUSH_TOKEN": "********"' in out and "hf_s3" not in out
    assert fakes.hub.started_jobs == []


def test_preview_shows_the_review_text_and_posts_nothing(tmp_path: Path, fakes: Fakes) -> None:
    fakes.hub.repo("model", "acme/weather")
    fakes.hub.cards[("model", "acme/weather")] = CARD_WITHOUT_LICENSE

    code, out = preview(
        tmp_path, fakes, REVIEW, "--automation", "review-cards", "--repo", "acme/weather"
    )

    assert code == 0, out
    assert "No `license`" in out
    assert not [r for r in fakes.hub.requests if r.method == "POST"]


def test_preview_of_an_unknown_rule_names_the_known_ones(tmp_path: Path, fakes: Fakes) -> None:
    code, out = preview(tmp_path, fakes, RETRAIN, "--automation", "nope", "--repo", "a/b")

    assert code != 0
    assert "retrain-on-data" in out and "Traceback" not in out


def test_webhooks_create_adds_the_repo_domain_when_rules_exist(
    tmp_path: Path, fakes: Fakes
) -> None:
    path = tmp_path / "automations.yaml"
    path.write_text(RETRAIN)
    env = routed_environment(tmp_path, fakes, PUBLIC_URL=PUBLIC_URL, AUTOMATIONS_FILE=str(path))

    result = run_bot(tmp_path, env, "webhooks", "create", "--watch", "org:acme-data")

    assert result.returncode == 0, result.stderr
    (hook,) = fakes.hub.webhooks.values()
    assert hook["domains"] == ["discussion", "repo"]
