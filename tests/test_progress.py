"""A sign of life (PROGRESS_COMMENT): one short comment posted as soon as the bot decides to
answer, edited into the answer or the failure notice; one per mention across crashes, retries
and lost answers, found on the Hub by its marker."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.answer.progress import ProgressTemplate, progress_marker
from bot.answer.thread import ThreadComment
from bot.config import Settings
from bot.errors import PromptError
from bot.handlers.follow_up import FollowUpRules, why_not_a_follow_up
from bot.handlers.mention import Attempts, ReplyOptions, reply_marker
from bot.handlers.outcomes import notice_marker
from bot.services.parts import load_prompts
from tests.botprocess import (
    ROOT,
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import load_payload
from tests.conversation_helpers import job_of, say
from tests.fakes import FakeHub, FakeModel, Scripted
from tests.reply_harness import COMMENT_ID, THREAD, Harness, harness

__all__ = ["harness"]  # the fixture, used by name
pytestmark = pytest.mark.anyio

PLACEHOLDER = progress_marker(reply_marker(COMMENT_ID))
LOOKING = "Looking into this now."
MENTION = load_payload("comment_create_mention")
# Short leases, so a restarted bot reclaims the dead process's job within a second.
FAST_RECOVERY = {"LEASE_SECONDS": "1", "ATTEMPT_BACKOFF": "0"}


def texts(hub: FakeHub, thread: str = THREAD) -> list[str]:
    """The discussion's comments as the Hub shows them now."""
    return [event["data"]["latest"]["raw"] for event in hub.threads[thread]]


def with_progress(harness: Harness, **options: Any) -> None:
    progress = ProgressTemplate(ROOT / "prompts")
    attempts = options.pop("attempts", Attempts(max_attempts=1))
    harness.use_options(ReplyOptions(attempts=attempts, progress=progress, **options))


# -- the marker and the template -----------------------------------------------------------


def test_the_placeholder_marker_is_never_taken_for_a_reply() -> None:
    marker = reply_marker(COMMENT_ID)
    assert (
        progress_marker(marker) == f"<!-- hub-discussion-bot in-progress reply-to:{COMMENT_ID} -->"
    )
    assert marker not in PLACEHOLDER  # a placeholder is not the answer
    assert progress_marker(reply_marker(COMMENT_ID, 2)) != PLACEHOLDER  # a forced round's own
    # Nor does the follow-up rule count it as the bot's reply to someone.
    when = datetime(2026, 1, 1, tzinfo=UTC)
    asked = ThreadComment(COMMENT_ID, "alice", "@hub-bot which license?", False, when, when, False)
    waiting = ThreadComment(
        "p" * 24, "hub-bot", f"{LOOKING}\n\n{PLACEHOLDER}", True, when, when, False
    )
    again = ThreadComment("a" * 24, "alice", "and in 8-bit?", False, when, when, False)
    why = why_not_a_follow_up([asked, waiting, again], again.id, FollowUpRules())
    assert why == "the bot has not answered anyone before it in this discussion"


def test_the_template_holds_the_bots_own_words_only(tmp_path: Path) -> None:
    (tmp_path / "progress.j2").write_text("Looking into {{ comment }} for {{ author }}")

    with pytest.raises(PromptError, match=r"progress\.j2 uses author, comment: the progress"):
        ProgressTemplate(tmp_path)


def test_a_template_that_renders_nothing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "progress.j2").write_text("{# nothing to say #}\n")

    with pytest.raises(PromptError, match="renders nothing"):
        ProgressTemplate(tmp_path)


def test_the_template_is_needed_only_when_progress_comments_are_on(
    settings: Settings, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for template in (ROOT / "prompts").glob("*.j2"):
        if template.name != "progress.j2":
            (prompts / template.name).write_text(template.read_text())
    off = settings.model_copy(update={"prompts_dir": prompts})

    load_prompts(off)
    with pytest.raises(PromptError, match=r"PROGRESS_COMMENT is on, but .*progress\.j2 does not"):
        load_prompts(off.model_copy(update={"progress_comment": True}))


# -- the flow, inside the process ----------------------------------------------------------


async def test_the_placeholder_is_posted_once_and_edited_into_the_answer(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    with_progress(harness)

    record = await harness.answer()

    assert record.status == "done"
    [placeholder] = hub.comments
    assert placeholder.body["comment"].startswith(LOOKING)
    assert placeholder.body["comment"].endswith(PLACEHOLDER)
    [edit] = hub.edits
    assert edit.path == f"{THREAD}/comment/{record.reply_id}/edit"
    [text] = texts(hub)
    assert text.startswith(model.reply) and text.endswith(reply_marker(COMMENT_ID))
    assert PLACEHOLDER not in text


async def test_an_earlier_attempts_placeholder_is_edited_not_posted_again(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    with_progress(harness)
    earlier = hub.add_comment(THREAD, "hub-bot", f"{LOOKING}\n\n{PLACEHOLDER}")

    record = await harness.answer()

    assert record.status == "done" and record.reply_id == earlier["id"]
    assert hub.comments == []
    assert len(hub.edits) == 1
    assert texts(hub)[0].startswith(model.reply)


async def test_a_placeholder_left_behind_is_used_even_with_progress_comments_off(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    earlier = hub.add_comment(THREAD, "hub-bot", f"{LOOKING}\n\n{PLACEHOLDER}")

    record = await harness.answer()

    assert record.reply_id == earlier["id"]
    assert hub.comments == []
    assert [t[: len(model.reply)] for t in texts(hub)] == [model.reply]


async def test_progress_comments_off_post_the_answer_alone(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    record = await harness.answer()

    assert record.status == "done"
    [posted] = hub.comments
    assert posted.body["comment"].startswith(model.reply)
    assert hub.edits == []


async def test_a_placeholder_whose_answer_was_garbled_is_found_on_the_hub_not_posted_again(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    with_progress(harness)
    hub.enqueue(Scripted(200, text="<html>upstream reset</html>", on="comment"))

    record = await harness.answer()

    assert record.status == "done"
    assert len(hub.comments) == 1  # the placeholder's POST, taken; its answer lost
    [text] = texts(hub)
    assert text.startswith(model.reply)
    assert record.reply_id == hub.threads[THREAD][0]["id"]


async def test_a_placeholder_post_refused_is_tried_again_and_still_posted_once(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    with_progress(harness, attempts=Attempts(max_attempts=2, backoff=0))
    hub.enqueue(Scripted(504, text="Gateway Time-out", on="comment"))

    first = await harness.answer()

    assert first.status == "failed"
    assert model.requests == []  # nothing generated before the sign of life is up
    second = await harness.run_next()
    assert second.status == "done"
    assert len(harness.landing.waits) == 2  # after the 504, and before the second attempt
    [text] = texts(hub)
    assert text.startswith(model.reply)


async def test_a_placeholder_gone_before_the_answer_gets_the_answer_posted_anew(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    with_progress(harness)
    hub.enqueue(Scripted(404, {"error": "Comment not found"}, on="edit"))

    record = await harness.answer()

    assert record.status == "done"
    assert len(hub.comments) == 2  # the placeholder, then the answer on its own
    assert texts(hub)[1].startswith(model.reply)
    assert record.reply_id == hub.threads[THREAD][1]["id"]


@pytest.mark.parametrize(
    "failure",
    [Scripted(json=[{"generated_text": ""}]), Scripted(400, {"error": "Model not supported"})],
    ids=["nothing-usable", "model-refused"],
)
async def test_a_final_failure_edits_the_placeholder_into_the_notice(
    harness: Harness, hub: FakeHub, model: FakeModel, failure: Scripted
) -> None:
    with_progress(harness, failure_notice=False)  # the placeholder is edited all the same
    model.enqueue(failure)

    record = await harness.answer()

    assert record.status == "dead"
    assert len(hub.comments) == 1 and len(hub.edits) == 1
    [text] = texts(hub)
    assert text.startswith("Sorry, I could not answer this one")
    # The notice keeps the placeholder's marker: a later answer goes into this same comment.
    assert notice_marker(COMMENT_ID) in text and text.endswith(PLACEHOLDER)


# -- the conversation: commands and follow-ups ----------------------------------------------


def test_a_command_the_bot_answers_itself_gets_no_placeholder_a_question_does(
    make_client: Callable[..., httpx.Client], hub: FakeHub, model: FakeModel, settings: Settings
) -> None:
    client = make_client(progress_comment=True, follow_ups=True, replies_per_discussion_hour=0)
    database = settings.data_dir / "bot.sqlite3"

    helped, _ = say(hub, client, "alice", "@hub-bot help")
    assert job_of(database, helped)[2].startswith("command help: replied")
    assert len(hub.comments) == 1 and hub.edits == []

    asked, _ = say(hub, client, "alice", "@hub-bot which license?")
    assert job_of(database, asked)[0] == "done"
    followed, _ = say(hub, client, "alice", "and the 8-bit version?")
    assert job_of(database, followed)[2].startswith("follow-up: replied")

    posted = [c.body["comment"] for c in hub.comments]
    assert [text.startswith(LOOKING) for text in posted] == [False, True, True]
    assert len(hub.edits) == 2
    assert not any("in-progress" in text for text in texts(hub))


# -- the real process ----------------------------------------------------------------------


def started(tmp_path: Path, fakes: Fakes, bots: list[BotProcess], **settings: str) -> BotProcess:
    env = bot_environment(tmp_path, fakes, **{**FAST_RECOVERY, **settings})
    bot = start_bot(tmp_path, env, name=f"bot{len(bots)}")
    bots.append(bot)
    wait_healthy(bot)
    return bot


def test_the_process_shows_the_placeholder_while_the_model_works_then_edits_it(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    hub, model = fakes.hub, fakes.model
    model.hold()
    try:
        bot = started(tmp_path, fakes, bots, PROGRESS_COMMENT="true")
        assert bot.deliver(MENTION).status_code == 202
        assert model.wait_until(lambda: model.held == 1)
        [waiting] = texts(hub)
        assert waiting.startswith(LOOKING) and waiting.endswith(PLACEHOLDER)
    finally:
        model.release()

    eventually(lambda: bot.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(hub.comments) == 1 and len(hub.edits) == 1
    [text] = texts(hub)
    assert text.startswith(model.reply) and text.endswith(reply_marker(COMMENT_ID))


def test_killed_after_the_placeholder_the_restart_edits_the_same_comment(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    hub = fakes.hub
    first = started(tmp_path, fakes, bots, PROGRESS_COMMENT="true", BOT_FAULT="die:placeholder")
    assert first.deliver(MENTION).status_code == 202
    assert first.process.wait(timeout=20) == -signal.SIGKILL
    [placeholder] = hub.threads[THREAD]
    assert fakes.model.requests == []

    second = started(tmp_path, fakes, bots, PROGRESS_COMMENT="true")

    eventually(lambda: second.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(hub.comments) == 1  # no second placeholder, no separate answer
    [edit] = hub.edits
    assert edit.path.endswith(f"/comment/{placeholder['id']}/edit")
    [text] = texts(hub)
    assert text.startswith(fakes.model.reply)


def test_a_final_failure_in_the_process_edits_the_placeholder_into_the_notice(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.enqueue(Scripted(json=[{"generated_text": ""}]))
    bot = started(tmp_path, fakes, bots, PROGRESS_COMMENT="true")

    assert bot.deliver(MENTION).status_code == 202

    eventually(lambda: bot.job_status(COMMENT_ID) == "dead", what="the job to fail")
    eventually(lambda: len(fakes.hub.edits) == 1, what="the notice's edit")
    assert len(fakes.hub.comments) == 1
    [text] = texts(fakes.hub)
    assert text.startswith("Sorry, I could not answer this one")


def test_with_progress_comments_off_the_process_posts_no_placeholder(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = started(tmp_path, fakes, bots)

    assert bot.deliver(MENTION).status_code == 202

    eventually(lambda: bot.job_status(COMMENT_ID) == "done", what="the job to finish")
    [posted] = fakes.hub.comments
    assert posted.body["comment"].startswith(fakes.model.reply)
    assert fakes.hub.edits == []


def test_check_names_a_bad_progress_template(tmp_path: Path, fakes: Fakes) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for template in (ROOT / "prompts").glob("*.j2"):
        (prompts / template.name).write_text(template.read_text())
    (prompts / "progress.j2").write_text("Looking into: {{ comment }}\n")
    env = bot_environment(tmp_path, fakes, PROMPTS_DIR=str(prompts), PROGRESS_COMMENT="true")

    result = run_bot(tmp_path, env, "check")

    assert result.returncode != 0
    assert "progress.j2 uses comment: the progress comment holds" in result.stdout + result.stderr
