"""Who gets an answer: the mention rule, scope handling and what is validated, on real
payload shapes."""

from __future__ import annotations

import json
import re

import pytest

from bot.decide import Decider
from bot.events import (
    Ignore,
    Mention,
    NotJSON,
    PayloadError,
    decode_payload,
    normalize_scope,
    parse_payload,
)
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
        "Nice work <!-- @hub-bot hidden from readers --> indeed.",
        "unfinished <!-- @hub-bot",
        "see https://huggingface.co/@hub-bot for the bot",
        "[its page](https://huggingface.co/@hub-bot)",
        "<https://hf.co/@hub-bot>",
        "path/@hub-bot/x",
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


def test_a_repo_name_the_hub_allows_is_not_refused() -> None:
    raw = load_payload("comment_create_mention")
    raw["repo"]["name"] = "someone/model_"
    payload = parse_payload(raw)
    assert not isinstance(payload, Ignore)

    decision = DECIDER.decide(payload)

    assert isinstance(decision, Mention) and decision.where.repo_name == "someone/model_"


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b/c", "org/x..y", "org/name.git", "-x/y"])
def test_a_mention_in_a_repo_the_hub_would_not_name_is_refused(name: str) -> None:
    raw = load_payload("comment_create_mention")
    raw["repo"]["name"] = name
    payload = parse_payload(raw)
    assert not isinstance(payload, Ignore)

    with pytest.raises(PayloadError, match=r"^repo\.name: not a Hub repo name"):
        DECIDER.decide(payload)


def test_only_a_new_comment_is_read_past_its_event() -> None:
    # A repo event with parts the bot never uses in odd shapes is ignored, not refused.
    raw = {
        "event": {"action": "update", "scope": "repo.content"},
        "repo": {"type": "model", "name": 12},
        "discussion": "not an object",
    }

    assert isinstance(parse_payload(raw), Ignore)
    with pytest.raises(PayloadError, match=r"event\.scope"):
        parse_payload({"event": {"action": "create"}})


def test_without_its_identity_the_bot_records_the_comment_and_decides_later() -> None:
    payload = parse_payload(load_payload("comment_create_no_mention"))
    assert not isinstance(payload, Ignore)
    unknown = Decider(None)  # no whoami answer yet, and no BOT_USERNAME

    deferred = unknown.decide(payload)

    assert isinstance(deferred, Mention) and deferred.undecided
    verdict = DECIDER.recheck(deferred)
    assert verdict is not None and verdict.code == "no_mention"


def test_with_a_handle_but_no_identity_its_own_comment_is_caught_when_the_job_runs() -> None:
    payload = parse_payload(load_payload("comment_create_by_bot"))
    assert not isinstance(payload, Ignore)
    named = Decider(None, handle="hub-bot")

    recorded = named.decide(payload)

    assert isinstance(recorded, Mention) and not recorded.undecided
    verdict = DECIDER.recheck(recorded)
    assert verdict is not None and verdict.code == "own_comment"


def test_the_parts_left_unread_are_still_checked_as_utf8_json() -> None:
    # Only the event of a repo update is read; a broken byte or token elsewhere is still a 400.
    good = load_payload("repo_content_update")
    body = json.dumps(good).encode()
    assert isinstance(decode_payload(body), Ignore)

    with pytest.raises(NotJSON):
        decode_payload(body[:-1] + b', "extra": "\xff"}')
    with pytest.raises(NotJSON):
        decode_payload(body[:-1] + b', "extra": [1, 2,]}')
    with pytest.raises(NotJSON):
        decode_payload(b"[" + b"1, " * 10 + b"oops]")  # not an object, and not JSON either


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("discussion", "isPullRequest"), 1, "discussion.isPullRequest"),
        (("discussion", "num"), 4.0, "discussion.num"),
        (("discussion", "num"), 0, "discussion.num"),
        (("comment", "author"), {}, "comment.author.id"),
        (("event", "scope"), None, "event.scope"),
    ],
)
def test_types_are_strict_and_the_error_names_the_field(
    path: tuple[str, str], value: object, field: str
) -> None:
    raw = load_payload("comment_create_mention")
    raw[path[0]][path[1]] = value

    with pytest.raises(PayloadError, match=rf"^{re.escape(field)}: "):
        decode_payload(json.dumps(raw).encode())
