"""Each guard stops a reply, says why, and has a safe default."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.config import Settings
from tests.botprocess import eventually
from tests.conftest import deliver, load_payload
from tests.fakes import FakeHub

Start = Callable[..., httpx.Client]
AUTHOR = "61d2000c3c2083e1c08af22d"


def mention(num: int = 4, comment: int = 1, author: str = AUTHOR) -> dict[str, Any]:
    payload = load_payload("comment_create_mention")
    payload["discussion"]["num"] = num
    payload["comment"]["id"] = f"{comment:024x}"
    payload["comment"]["author"]["id"] = author
    return payload


@pytest.mark.parametrize(
    ("settings_changes", "payload_changes", "reason"),
    [
        ({"allow_repos": ("acme/*",)}, {}, "not in ALLOW_REPOS"),
        ({"deny_repos": ("Some-User/*",)}, {}, "matches DENY_REPOS"),
        ({"allow_authors": ("someone-else",)}, {}, "not in ALLOW_AUTHORS"),
        ({"deny_authors": (AUTHOR,)}, {}, "is in DENY_AUTHORS"),
        ({}, {("repo", "private"): True}, "ANSWER_PRIVATE_REPOS"),
        ({}, {("discussion", "status"): "closed"}, "closed and ANSWER_CLOSED"),
        ({}, {("discussion", "status"): "merged"}, "merged and ANSWER_CLOSED"),
        ({"answer_pull_requests": False}, {("discussion", "isPullRequest"): True}, "pull requests"),
    ],
    ids=["allow-repos", "deny-repos", "allow-authors", "deny-authors", "private", "closed",
         "merged", "pull-requests"],
)  # fmt: skip
def test_static_guards_ignore_the_mention_and_say_why(
    make_client: Start,
    hub: FakeHub,
    settings_changes: dict[str, Any],
    payload_changes: dict[tuple[str, str], Any],
    reason: str,
) -> None:
    client = make_client(**settings_changes)

    changed = mention()
    for (part, key), value in payload_changes.items():
        changed[part][key] = value
    response = deliver(client, changed)

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert reason in response.json()["reason"]


@pytest.mark.parametrize(
    ("settings_changes", "payload_changes"),
    [
        ({"allow_repos": ("some-user/*",)}, {}),
        ({"answer_private_repos": True}, {("repo", "private"): True}),
        ({"answer_closed": True}, {("discussion", "status"): "closed"}),
        ({}, {("discussion", "isPullRequest"): True}),
    ],
)
def test_switching_a_guard_on_lets_the_mention_through(
    make_client: Start,
    settings_changes: dict[str, Any],
    payload_changes: dict[tuple[str, str], Any],
) -> None:
    client = make_client(**settings_changes)
    changed = mention()
    for (part, key), value in payload_changes.items():
        changed[part][key] = value

    assert deliver(client, changed).status_code == 202


def job_reasons(settings: Settings) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(settings.database_path) as db:
        rows = db.execute("SELECT comment_id, status, reason FROM jobs").fetchall()
    return {comment: (status, reason) for comment, status, reason in rows}


def finished(settings: Settings, count: int) -> Callable[[], bool]:
    def check() -> bool:
        jobs = job_reasons(settings).values()
        return sum(status in ("done", "dead") for status, _ in jobs) == count

    return check


@pytest.mark.parametrize(
    ("limit", "payloads", "setting"),
    [
        (
            {"replies_per_discussion_hour": 2},
            [mention(4, 1), mention(4, 2), mention(4, 3)],
            "REPLIES_PER_DISCUSSION_HOUR=2",
        ),
        (
            {"replies_per_author_hour": 2},
            [mention(1, 1), mention(2, 2), mention(3, 3)],
            "REPLIES_PER_AUTHOR_HOUR=2",
        ),
        (
            {"replies_per_day": 2},
            [mention(1, 1, "a" * 24), mention(2, 2, "b" * 24), mention(3, 3, "c" * 24)],
            "REPLIES_PER_DAY=2",
        ),
    ],
    ids=["per-discussion", "per-author", "per-day"],
)
def test_rate_limits_stop_the_reply_past_the_limit_and_record_why(
    make_client: Start,
    hub: FakeHub,
    settings: Settings,
    limit: dict[str, int],
    payloads: list[dict[str, Any]],
    setting: str,
) -> None:
    client = make_client(concurrency=1, **limit)

    for payload in payloads:
        assert deliver(client, payload).status_code == 202

    eventually(finished(settings, 3), what="all three jobs to finish")
    assert len(hub.comments) == 2
    stopped = [reason for status, reason in job_reasons(settings).values() if status == "dead"]
    assert len(stopped) == 1
    assert "rate limit" in stopped[0] and setting in stopped[0]


def test_defaults_are_the_safe_ones(settings: Settings) -> None:
    assert settings.answer_private_repos is False
    assert settings.answer_closed is False
    assert settings.replies_per_discussion_hour > 0
    assert settings.replies_per_author_hour > 0
    assert settings.replies_per_day > 0
