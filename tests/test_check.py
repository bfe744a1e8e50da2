"""`python -m bot check` against the fakes: everything passes, then each failure is named with
its fix and exits 1. It posts nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.botprocess import WEBHOOK_SECRET, Fakes, routed_environment, run_bot

PUBLIC_URL = "https://my-bot.hf.space"


@pytest.fixture
def deployed(fakes: Fakes) -> dict[str, Any]:
    """A deployment that is right: BLOOM served, the webhook in place."""
    fakes.hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    hook = {
        "id": "654bbbc16f2ec14d77f109cc",
        "url": f"{PUBLIC_URL}/webhook",
        "watched": [{"type": "model", "name": "some-user/some-repo"}],
        "domains": ["discussion"],
        "secret": WEBHOOK_SECRET,
        "disabled": False,
    }
    fakes.hub.webhooks[hook["id"]] = hook
    return hook


def check(tmp_path: Path, fakes: Fakes, **settings: str) -> tuple[int, dict[str, str]]:
    env = routed_environment(tmp_path, fakes, PUBLIC_URL=PUBLIC_URL, **settings)
    result = run_bot(tmp_path, env, "check")
    lines = result.stdout.strip().splitlines()
    return result.returncode, {line.split(":", 1)[0].split()[-1]: line for line in lines}


def test_a_sound_deployment_passes_every_check_and_posts_nothing(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    code, lines = check(tmp_path, fakes)

    assert code == 0, lines
    assert list(lines) == ["token", "model", "webhook", "prompts", "state"]
    assert all(line.startswith("ok") for line in lines.values()), lines
    assert "hub-bot" in lines["token"] and "write token" in lines["token"]
    assert (
        "featherless-ai" in lines["model"] and "answered a one-token generation" in lines["model"]
    )
    assert deployed["id"] in lines["webhook"]
    assert "SQLite" in lines["state"]
    [generation] = fakes.model.requests
    assert generation.body["max_tokens"] == 1
    assert [r for r in fakes.hub.requests if r.method != "GET"] == []


def test_a_rejected_token_is_named_with_its_fix(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    code, lines = check(tmp_path, fakes, HF_TOKEN="hf_revoked_token_value")

    assert code == 1
    assert lines["token"] == (
        "FAIL  token: the Hub rejected HF_TOKEN -> fix: create a write token for the bot"
        f" account at {fakes.hub_url}/settings/tokens"
    )


def test_a_read_only_token_cannot_post(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    fakes.hub.token_role = "read"

    code, lines = check(tmp_path, fakes)

    assert code == 1
    assert lines["token"].startswith("FAIL  token: hub-bot (id ")
    assert "read-only token cannot post replies" in lines["token"]


def scoped(kind: str, name: str, *permissions: str) -> dict[str, Any]:
    return {
        "entity": {"type": kind, "name": name, "_id": "0" * 24},
        "permissions": list(permissions),
    }


@pytest.mark.parametrize(
    ("fine_grained", "allow_repos", "verdict"),
    [
        # Scoped to the bot's own namespace: it cannot post in anybody else's repos.
        ({"global": [], "scoped": [scoped("user", "hub-bot", "discussion.write")]}, "*", "FAIL"),
        ({"global": [], "scoped": [scoped("org", "acme", "discussion.write")]}, "acme/*", "ok"),
        (
            {"global": [], "scoped": [scoped("org", "acme", "discussion.write")]},
            "acme/*,x/*",
            "x/*",
        ),
        (
            {"global": [], "scoped": [scoped("model", "acme/one", "discussion.write")]},
            "acme/one",
            "ok",
        ),
        ({"global": ["discussion.write"], "scoped": []}, "*", "ok"),
    ],
)
def test_a_fine_grained_token_is_asked_about_each_watched_namespace(
    tmp_path: Path,
    fakes: Fakes,
    deployed: dict[str, Any],
    fine_grained: dict[str, Any],
    allow_repos: str,
    verdict: str,
) -> None:
    rights = ("inference.serverless.write", "user.webhooks.read", "user.webhooks.write")
    account = scoped("user", "hub-bot", *rights)
    fakes.hub.fine_grained = {**fine_grained, "scoped": [*fine_grained["scoped"], account]}

    code, lines = check(tmp_path, fakes, ALLOW_REPOS=allow_repos)

    if verdict == "ok":
        assert lines["token"].startswith("ok    token:")
        assert "fine-grained token that may write discussions" in lines["token"]
    else:
        assert code == 1
        assert lines["token"].startswith("FAIL  token:")
        shut_out = "*" if verdict == "FAIL" else verdict
        assert f"may not write discussions in {shut_out} -> fix:" in lines["token"]


def test_a_fine_grained_token_must_be_allowed_to_call_inference_providers(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    fakes.hub.fine_grained = {"global": ["discussion.write"], "scoped": []}

    code, lines = check(tmp_path, fakes)

    assert code == 1
    assert lines["token"].endswith(
        "may not call Inference Providers -> fix: give it 'Make calls to Inference Providers'"
        " (inference.serverless.write)"
    )


def test_a_suspended_webhook_says_so_and_how_to_bring_it_back(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    deployed["disabled"] = "suspended-after-failure"

    code, lines = check(tmp_path, fakes)

    assert code == 1
    assert lines["webhook"] == (
        "FAIL  webhook: 654bbbc16f2ec14d77f109cc was suspended by the Hub after failed"
        " deliveries -> fix: fix the cause (its Activity tab on the Hub shows the failed"
        " deliveries), then python -m bot webhooks enable 654bbbc16f2ec14d77f109cc"
    )


def test_a_webhook_without_a_secret_or_the_discussion_domain_fails(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    del deployed["secret"]
    first_code, first = check(tmp_path, fakes)
    deployed["secret"], deployed["domains"] = WEBHOOK_SECRET, ["repo"]
    second_code, second = check(tmp_path, fakes)

    assert (first_code, second_code) == (1, 1)
    assert "has no secret" in first["webhook"] and "webhooks update" in first["webhook"]
    assert "does not watch the discussion domain" in second["webhook"]


def test_no_webhook_for_the_bots_url_is_named(tmp_path: Path, fakes: Fakes) -> None:
    fakes.hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")

    code, lines = check(tmp_path, fakes)

    assert code == 1
    assert f"no webhook of the bot's account sends to {PUBLIC_URL}/webhook" in lines["webhook"]
    assert "python -m bot webhooks create" in lines["webhook"]


def test_an_unserved_model_fails_the_model_check(
    tmp_path: Path, fakes: Fakes, deployed: dict[str, Any]
) -> None:
    fakes.hub.models["bigscience/bloom"]["inferenceProviderMapping"].clear()

    code, lines = check(tmp_path, fakes)

    assert code == 1
    assert lines["model"].startswith(
        "FAIL  model: bigscience/bloom is not served by any Inference Provider today"
    )
    assert lines["token"].startswith("ok")
