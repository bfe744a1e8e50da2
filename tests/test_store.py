"""The job store: dedupe, claims, per-discussion order, leases, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import keep_up
from bot.events import DiscussionRef, Mention
from bot.schema import MIGRATIONS
from bot.store import Store

WHERE = DiscussionRef("model", "org/name", 1)
ELSEWHERE = DiscussionRef("dataset", "org/data", 2)


def mention(comment_id: str, where: DiscussionRef = WHERE) -> Mention:
    return Mention(comment_id, "u1", "@hub-bot hi", where, "t", False, False)


def test_same_comment_twice_is_one_job(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")

    first = store.enqueue(mention("c1"))
    second = store.enqueue(replace(mention("c1"), text="redelivered"))

    assert first[0] == "queued"
    assert second == ("duplicate", first[1])
    assert store.count("queued") == 1


def test_a_dead_job_is_queued_again_when_redelivered(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    _, job_id = store.enqueue(mention("c1"))
    job = store.claim(60)
    assert job is not None
    store.finish(job.id, "dead", "model down")

    assert store.enqueue(mention("c1")) == ("queued", job_id)
    record = store.get("c1")
    assert record is not None and record.status == "queued" and record.reason is None


def test_one_discussion_is_served_in_order_while_others_run_in_parallel(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("a1"))
    store.enqueue(mention("a2"))
    store.enqueue(mention("b1", ELSEWHERE))

    first, second, third = store.claim(60), store.claim(60), store.claim(60)

    assert first is not None and first.mention.comment_id == "a1"
    assert second is not None and second.mention.comment_id == "b1"
    assert third is None  # a2 waits for a1
    store.finish(first.id, "done", "replied")
    after = store.claim(60)
    assert after is not None and after.mention.comment_id == "a2"


def test_an_expired_lease_is_claimed_again(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("c1"))
    crashed = store.claim(lease_seconds=-1)  # its process died; the lease is already over

    again = store.claim(60)

    assert crashed is not None and again is not None
    assert again.id == crashed.id
    assert again.attempts == 2


def test_a_released_job_is_claimable_at_once_with_its_attempt_given_back(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("c1"))
    job = store.claim(60)
    assert job is not None

    store.release(job.id)

    again = store.claim(60)
    assert again is not None and again.attempts == 1


def test_two_processes_sharing_the_file_never_claim_the_same_job(tmp_path: Path) -> None:
    one, two = Store.open(tmp_path / "db.sqlite3"), Store.open(tmp_path / "db.sqlite3")
    for n in range(20):
        one.enqueue(mention(f"c{n}", DiscussionRef("model", "org/name", n + 1)))

    claimed = [job.id for store in (one, two) * 15 if (job := store.claim(60))]

    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 20


def test_migrations_run_once_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store.open(path).enqueue(mention("c1"))

    reopened = Store.open(path)

    assert reopened.count("queued") == 1
    (version,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert version == len(MIGRATIONS)


def test_finished_jobs_past_retention_are_pruned_and_unfinished_ones_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("old"), webhook_id="w-old")
    store.enqueue(mention("waiting", ELSEWHERE))
    job = store.claim(60)
    assert job is not None and job.mention.comment_id == "old"
    store.finish(job.id, "done", "replied")

    assert store.prune(finished_before=time.time() - 60) == 0
    assert store.prune(finished_before=time.time() + 1) == 1

    assert store.get("old") is None
    assert store.redeliver("w-old") is None
    assert store.get("waiting") is not None


def test_force_starts_a_new_round_even_for_an_answered_comment(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("c1"))
    job = store.claim(60)
    assert job is not None and job.round == 0
    store.mark_posting(job.id)
    store.finish(job.id, "done", "replied", reply_id="r1")

    assert store.force("c1") is True
    assert store.force("unknown") is False

    again = store.claim(60)
    assert again is not None
    assert (again.round, again.attempts, again.posting_at) == (1, 1, None)


def test_a_failed_job_waits_for_its_time(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("c1"))
    job = store.claim(60)
    assert job is not None

    store.retry_later(job.id, "model: HTTP 503", delay=3600)

    assert store.claim(60) is None
    record = store.get("c1")
    assert record is not None and (record.status, record.reason) == ("failed", "model: HTTP 503")


def test_queue_cap_refuses_only_new_comments(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("c1"))

    assert store.enqueue(mention("c2"), max_depth=1) == ("full", 0)
    assert store.enqueue(mention("c1"), max_depth=1)[0] == "duplicate"


@pytest.mark.anyio
async def test_upkeep_prunes_old_jobs_and_writes_buffered_history(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    store.enqueue(mention("old"))
    job = store.claim(60)
    assert job is not None
    store.finish(job.id, "done", "replied")
    store.history.record("w1", "discussion/create", None, 200, "ignored", "no mention", None)
    other = sqlite3.connect(tmp_path / "db.sqlite3")  # sees only what was committed

    upkeep = asyncio.create_task(keep_up(store, retention=-1))  # everything finished is old
    try:
        for _ in range(200):
            logged = other.execute("SELECT COUNT(*) FROM delivery_log").fetchone()[0]
            if store.get("old") is None and logged == 1:
                break
            await asyncio.sleep(0.01)
    finally:
        upkeep.cancel()

    assert store.get("old") is None
    assert other.execute("SELECT outcome FROM delivery_log").fetchall() == [("ignored",)]
