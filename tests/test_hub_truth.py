"""The Hub has the last word, inside the process: a reply the Hub took late is found there and
not posted again; what the discussion says now (locked, closed, the comment hidden, deleted)
decides before anything is generated; comments by deleted accounts stay in the thread."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.handlers.mention import Attempts, ReplyOptions, reply_marker
from bot.store import Enqueue
from tests.botprocess import BotProcess, Fakes, bot_environment, eventually, start_bot, wait_healthy
from tests.conftest import RecordedSleep, mention_in
from tests.fakes import FakeHub, FakeModel, Scripted
from tests.reply_harness import COMMENT_ID, THREAD, Harness, harness, mention

__all__ = ["harness"]  # the fixture, used by name
pytestmark = pytest.mark.anyio


class UntilLanded(RecordedSleep):
    """The wait for a late reply: notes it, then returns once the fake Hub holds a comment in
    the discussion (or its deadline passed), so the test never depends on how long it takes."""

    def __init__(self, hub: FakeHub) -> None:
        super().__init__()
        self.hub = hub

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.to_thread(self.hub.wait_until, lambda: bool(self.hub.threads[THREAD]))


class LandsWhileWaiting(RecordedSleep):
    """The wait for a late reply, during which the reply an earlier attempt posted lands."""

    def __init__(self, hub: FakeHub) -> None:
        super().__init__()
        self.hub = hub

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.hub.add_comment(THREAD, "hub-bot", f"Earlier.\n\n{reply_marker(COMMENT_ID)}")


async def test_a_post_the_hub_takes_after_the_timeout_is_found_there_not_posted_twice(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.landing = UntilLanded(hub)
    harness.hub_deadline(0.2)
    hub.commit_late(after=0.5)

    record = await harness.answer()

    assert record.status == "done"
    assert record.reason is not None and "the POST's answer was lost" in record.reason
    assert len(hub.comments) == 1  # one POST
    [reply] = hub.threads[THREAD]
    assert record.reply_id == reply["id"]
    assert len(harness.landing.waits) == 1
    assert 0 < harness.landing.waits[0] <= harness.options.landing_window


async def test_a_post_that_did_not_land_is_retried_after_looking_again(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=2, backoff=0)))
    hub.enqueue(Scripted(504, text="Gateway Time-out", on="comment"))

    first = await harness.answer()

    assert first.status == "failed"
    assert first.reason is not None and "the reply was not on the Hub" in first.reason
    assert hub.threads[THREAD] == []
    # The next attempt knows a POST was under way: it looks once more, then posts.
    second = await harness.run_next()
    assert second.status == "done"
    assert len(hub.comments) == 2 and len(hub.threads[THREAD]) == 1
    assert len(harness.landing.waits) == 2


async def test_an_attempt_after_an_interrupted_post_waits_and_finds_it_before_generating(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.landing = LandsWhileWaiting(hub)
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=3)))
    await harness.store.enqueue(Enqueue(mention()))
    died = await harness.store.claim(lease_seconds=-1)  # its process dies mid-POST
    assert died is not None and died.posting_age is None
    await harness.store.mark_posting(died.id)

    job = await harness.store.claim(lease_seconds=60)
    assert job is not None and job.posting_age is not None
    await harness.flow.run(job)

    record = await harness.store.get(COMMENT_ID)
    assert record is not None and record.status == "done"
    assert record.reason is not None and "found on the Hub" in record.reason
    assert hub.comments == [] and model.requests == []
    assert len(harness.landing.waits) == 1


async def test_a_post_long_ago_is_not_waited_for_again(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=3), landing_window=0))
    await harness.store.enqueue(Enqueue(mention()))
    died = await harness.store.claim(lease_seconds=-1)
    assert died is not None
    await harness.store.mark_posting(died.id)

    record = await harness.run_next()

    assert record.status == "done" and len(hub.comments) == 1
    assert harness.landing.waits == []  # the window is over: the first read was enough


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"locked": True}, "skipped: the discussion is locked"),
        ({"status": "closed"}, "skipped: the discussion is closed and ANSWER_CLOSED is off"),
        ({"status": "merged"}, "skipped: the discussion is merged and ANSWER_CLOSED is off"),
    ],
    ids=["locked", "closed", "merged"],
)
async def test_what_the_discussion_says_now_decides_before_generating(
    harness: Harness, hub: FakeHub, model: FakeModel, state: dict[str, Any], reason: str
) -> None:
    hub.set_state(THREAD, **state)

    record = await harness.answer()

    assert (record.status, record.reason) == ("done", reason)
    assert hub.comments == [] and model.requests == []


async def test_a_closed_discussion_is_answered_with_answer_closed_on(
    harness: Harness, hub: FakeHub
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=1), answer_closed=True))
    hub.set_state(THREAD, status="closed")

    record = await harness.answer()

    assert record.status == "done" and len(hub.comments) == 1


async def test_a_comment_hidden_since_the_delivery_is_not_answered(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    hub.add_comment(THREAD, "someone", "@hub-bot what license?", comment_id=COMMENT_ID)
    hub.hide(THREAD, COMMENT_ID)

    record = await harness.answer()

    assert (record.status, record.reason) == ("done", "skipped: the comment is hidden")
    assert hub.comments == [] and model.requests == []


async def test_a_deleted_discussion_is_skipped_and_not_retried(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=5, backoff=0)))
    hub.deleted.add(THREAD)

    record = await harness.answer()

    assert record.status == "done"
    assert record.reason is not None
    assert record.reason.startswith("skipped: the discussion or its repo is gone (Hub: HTTP 404")
    assert "[request " in record.reason  # the Hub's request id, for its support
    assert hub.comments == [] and model.requests == []


async def test_a_post_refused_because_the_discussion_was_locked_is_not_retried(
    harness: Harness, hub: FakeHub
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=5, backoff=0)))
    hub.enqueue(Scripted(403, {"error": "This discussion is locked"}, on="comment"))

    record = await harness.answer()

    assert record.status == "dead" and len(hub.comments) == 1
    assert record.reason is not None and "HTTP 403: This discussion is locked" in record.reason
    assert "must not be locked" in record.reason
    assert harness.landing.waits == []  # a refusal: nothing was posted, nothing to look for


async def test_a_comment_by_a_deleted_account_stays_in_the_prompt(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    hub.add_comment(THREAD, None, "I had the same question.", created="2022-12-13T10:00:00.000Z")

    record = await harness.answer()

    assert record.status == "done"
    assert "a deleted user: I had the same question." in model.requests[0].body["inputs"]


def job_reason(bot: BotProcess, comment_id: str) -> str | None:
    with contextlib.closing(sqlite3.connect(bot.database, timeout=5)) as db:
        found = db.execute("SELECT reason FROM jobs WHERE comment_id = ?", (comment_id,))
        row = found.fetchone()
    return str(row[0]) if row and row[0] is not None else None


def test_the_real_process_skips_what_changed_on_the_hub_since_the_delivery(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    hub, where = fakes.hub, "/api/models/some-user/some-repo/discussions"
    hub.set_state(f"{where}/1", locked=True)
    hub.set_state(f"{where}/2", status="closed")
    hub.add_comment(f"{where}/3", "someone", "@hub-bot question 3", comment_id=f"{3:024x}")
    hub.hide(f"{where}/3", f"{3:024x}")
    hub.deleted.add(f"{where}/4")
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, ATTEMPT_BACKOFF="0"))
    bots.append(bot)
    wait_healthy(bot)

    for num in (1, 2, 3, 4, 5):
        assert bot.deliver(mention_in(num)).status_code == 202

    reasons = {}
    for num in (1, 2, 3, 4, 5):
        comment = f"{num:024x}"
        eventually(lambda c=comment: bot.job_status(c) == "done", what=f"job {num}")
        reasons[num] = job_reason(bot, comment)
    assert reasons[1] == "skipped: the discussion is locked"
    assert reasons[2] == "skipped: the discussion is closed and ANSWER_CLOSED is off"
    assert reasons[3] == "skipped: the comment is hidden"
    assert (reasons[4] or "").startswith("skipped: the discussion or its repo is gone")
    assert reasons[5] == "replied"
    assert [c.path for c in hub.comments] == [f"{where}/5/comment"]
    assert len(fakes.model.requests) == 1
    reads = [r for r in hub.requests if r.method == "GET" and r.path == f"{where}/4"]
    assert len(reads) == 1  # deleted: not tried again
