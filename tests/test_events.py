"""Who gets an answer: the mention rule and scope handling, on real payload shapes."""

from __future__ import annotations

import pytest

from bot.events import Decider, Ignore, Mention, normalize_scope, parse_payload
from tests.conftest import BOT, load_payload

DECIDER = Decider(BOT)


@pytest.mark.parametrize(
    "text",
    [
        "@hub-bot what is this?",
        "Hey @Hub-Bot, what is this?",
        "what is this (@hub-bot)?",
        "thanks @hub-bot.",
        "@HUB-BOT\nplease help",
    ],
)
def test_a_whole_handle_is_a_mention(text: str) -> None:
    assert DECIDER.mentions_bot(text)


@pytest.mark.parametrize(
    "text",
    [
        "@hub-bot2 what is this?",
        "@hub-bot-x what is this?",
        "@hub_bot what is this?",
        "mail me@hub-bot.org",
        "see @hub-bot.org",
        "hub-bot without the at sign",
        "> @hub-bot said something earlier\n\nI disagree.",
        "Use `@hub-bot` to call it.",
        "```\n@hub-bot example\n```\nThat is how.",
    ],
)
def test_lookalikes_quotes_and_code_are_not_mentions(text: str) -> None:
    assert not DECIDER.mentions_bot(text)


def test_a_mention_carries_where_to_reply() -> None:
    payload = parse_payload(load_payload("comment_create_mention_space_pr"))
    assert not isinstance(payload, Ignore)

    decision = DECIDER.decide(payload)

    assert isinstance(decision, Mention)
    assert decision.where.key == "spaces/some-user/demo-space#2"
    assert decision.is_pull_request is True
    assert decision.comment_id == "6400a1b2c3d4e5f600000002"


def test_opening_post_of_a_new_discussion_is_answered() -> None:
    payload = parse_payload(load_payload("discussion_create_mention"))
    assert not isinstance(payload, Ignore)

    assert isinstance(DECIDER.decide(payload), Mention)


@pytest.mark.parametrize(
    ("scope", "action", "expected"),
    [
        ("discussion.comment", "create", ("discussion.comment", "create")),
        ("discussion.comment.reaction", "create", ("discussion.comment", "update")),
        ("repo.config.dois", "create", ("repo.config", "update")),
        ("discussions", "create", ("discussions", "create")),
        ("space.hardware", "update", ("space.hardware", "update")),
    ],
)
def test_unknown_sub_scopes_are_updates_of_their_parent(
    scope: str, action: str, expected: tuple[str, str]
) -> None:
    assert normalize_scope(scope, action) == expected


def test_unsupported_repo_type_is_ignored() -> None:
    raw = load_payload("comment_create_mention")
    raw["repo"]["type"] = "kernel"
    payload = parse_payload(raw)
    assert not isinstance(payload, Ignore)

    decision = DECIDER.decide(payload)

    assert isinstance(decision, Ignore)
    assert "kernel" in decision.reason
