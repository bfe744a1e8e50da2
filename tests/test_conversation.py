"""Follow-ups: after the bot answered someone, their next comment is answered without a mention,
and only theirs, only soon, only a few times, only while nobody else has joined in."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.handlers.follow_up import FOLLOW_UP_MARK
from tests.conftest import deliver
from tests.conversation_helpers import THREAD, job_of, payload_for, say
from tests.fakes import BOT_NAME, FakeHub, FakeModel


@pytest.fixture
def talk(make_client: Callable[..., httpx.Client]) -> httpx.Client:
    return make_client(follow_ups=True)


@pytest.fixture
def database(settings: Settings) -> Path:
    return settings.data_dir / "bot.sqlite3"


def answered(hub: FakeHub, database: Path, client: httpx.Client, author: str = "alice") -> str:
    """`author` mentions the bot and gets its answer; the mention's id."""
    mention, response = say(hub, client, author, "@hub-bot which license is this under?")
    assert response.status_code == 202
    assert job_of(database, mention)[0] == "done"
    return mention


def test_the_next_comment_of_the_person_answered_is_answered_as_a_follow_up(
    talk: httpx.Client, hub: FakeHub, model: FakeModel, database: Path
) -> None:
    answered(hub, database, talk)
    model.reply = "The 8-bit version is under the same license."

    follow_up, response = say(hub, talk, "alice", "and what about the 8-bit version?")

    assert response.status_code == 202
    assert job_of(database, follow_up)[:2] == ("done", "follow_up")
    first, second = (c.body["comment"] for c in hub.comments)
    assert second.startswith(model.reply)
    assert FOLLOW_UP_MARK in second and f"reply-to:{follow_up}" in second
    # The model saw the bot's earlier answer in the thread.
    prompt = model.requests[-1].body["inputs"]
    assert "A model card describes what a model does." in prompt
    assert "and what about the 8-bit version?" in prompt
    assert first.count(FOLLOW_UP_MARK) == 0


@pytest.mark.parametrize(
    ("between", "author", "why"),
    [
        (None, "bob", "answered someone else"),
        ("bob", "alice", "someone else wrote"),
        (None, "helper-bot", "looks like a bot"),
    ],
    ids=["a third person", "after a third person wrote", "a bot"],
)
def test_a_comment_that_does_not_follow_the_reply_to_its_author_is_not_answered(
    talk: httpx.Client,
    hub: FakeHub,
    database: Path,
    between: str | None,
    author: str,
    why: str,
) -> None:
    answered(hub, database, talk, "helper-bot" if author == "helper-bot" else "alice")
    if between:
        say(hub, talk, between, "I have the same question")

    comment, _ = say(hub, talk, author, "and the 8-bit version?")

    status, kind, reason = job_of(database, comment)
    assert (status, kind) == ("done", "follow_up")
    assert why in reason
    assert len(hub.comments) == 1


def test_a_comment_mentioning_someone_else_is_not_even_queued(
    talk: httpx.Client, hub: FakeHub, database: Path
) -> None:
    answered(hub, database, talk)

    _, response = say(hub, talk, "alice", "@bob what do you think?")

    assert response.json()["status"] == "ignored"
    assert "someone else" in response.json()["reason"]


def test_a_comment_more_than_follow_up_hours_after_the_reply_is_not_answered(
    talk: httpx.Client, hub: FakeHub, database: Path
) -> None:
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 25 * 3600))
    mention = hub.add_comment(THREAD, "alice", "@hub-bot hi", created=long_ago)
    marker = f"<!-- hub-discussion-bot reply-to:{mention['id']} -->"
    hub.add_comment(THREAD, BOT_NAME, f"Hello\n\n{marker}", created=long_ago)

    comment, _ = say(hub, talk, "alice", "thanks, and one more thing")

    status, _, reason = job_of(database, comment)
    assert status == "done"
    assert "more than 24 hours" in reason
    assert hub.comments == []


def test_no_more_than_follow_up_turns_follow_ups_per_discussion(
    make_client: Callable[..., httpx.Client], hub: FakeHub, database: Path
) -> None:
    client = make_client(follow_ups=True, follow_up_turns=1)
    answered(hub, database, client)
    first, _ = say(hub, client, "alice", "and the 8-bit one?")
    assert job_of(database, first)[2].startswith("follow-up: replied")

    second, _ = say(hub, client, "alice", "and the 4-bit one?")

    assert "its 1 follow-ups" in job_of(database, second)[2]
    assert len(hub.comments) == 2


def test_a_follow_up_delivered_twice_gets_one_reply(
    talk: httpx.Client, hub: FakeHub, database: Path
) -> None:
    answered(hub, database, talk)
    follow_up, _ = say(hub, talk, "alice", "and the 8-bit version?")
    job_of(database, follow_up)
    event = next(e for e in hub.threads[THREAD] if e["id"] == follow_up)

    again = deliver(talk, payload_for(event))

    assert again.json()["status"] == "duplicate"
    assert len(hub.comments) == 2


def test_without_follow_ups_a_comment_without_a_mention_is_ignored(
    client: httpx.Client, hub: FakeHub, database: Path
) -> None:
    answered(hub, database, client)

    _, response = say(hub, client, "alice", "and the 8-bit version?")

    assert response.json()["status"] == "ignored"
