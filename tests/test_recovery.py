"""Nothing lost, nothing twice: the real process is killed at named steps and started again on
the same database; the fake Hub must end with exactly one reply per mention."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import (
    WEBHOOK_SECRET,
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    start_bot,
    wait_healthy,
)
from tests.conftest import load_payload, mention_in

MENTION = load_payload("comment_create_mention")
COMMENT_ID = MENTION["comment"]["id"]
# Short leases so a restarted bot reclaims the dead process's job within a second.
FAST_RECOVERY = {"LEASE_SECONDS": "1", "ATTEMPT_BACKOFF": "0"}


class Restarts:
    """Starts the bot again and again on one DATA_DIR, and kills whatever is left at the end."""

    def __init__(self, tmp_path: Path, fakes: Fakes) -> None:
        self.tmp_path = tmp_path
        self.fakes = fakes
        self.started: list[BotProcess] = []

    def start(self, **settings: str) -> BotProcess:
        env = bot_environment(self.tmp_path, self.fakes, **{**FAST_RECOVERY, **settings})
        bot = start_bot(self.tmp_path, env, name=f"bot{len(self.started)}")
        self.started.append(bot)
        wait_healthy(bot)
        return bot


@pytest.fixture
def restarts(tmp_path: Path, fakes: Fakes) -> Iterator[Restarts]:
    runs = Restarts(tmp_path, fakes)
    try:
        yield runs
    finally:
        fakes.model.release()
        for bot in runs.started:
            bot.stop()


def assert_died_by_sigkill(bot: BotProcess) -> None:
    assert bot.process.wait(timeout=20) == -signal.SIGKILL


def test_killed_right_after_the_202_the_mention_is_answered_after_restart(
    restarts: Restarts, fakes: Fakes
) -> None:
    first = restarts.start(BOT_FAULT="die:claimed")
    assert first.deliver(MENTION).status_code == 202
    assert_died_by_sigkill(first)
    assert fakes.model.requests == []

    second = restarts.start()

    eventually(lambda: second.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(fakes.hub.comments) == 1


def test_killed_during_generation_the_mention_is_answered_once_after_restart(
    restarts: Restarts, fakes: Fakes
) -> None:
    fakes.model.hold()
    first = restarts.start()
    assert first.deliver(MENTION).status_code == 202
    assert fakes.model.wait_until(lambda: len(fakes.model.requests) == 1)

    first.process.send_signal(signal.SIGKILL)
    assert_died_by_sigkill(first)
    fakes.model.release()
    second = restarts.start()

    eventually(lambda: second.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(fakes.hub.comments) == 1
    assert len(fakes.model.requests) == 2


def test_killed_after_posting_but_before_recording_it_does_not_post_again(
    restarts: Restarts, fakes: Fakes
) -> None:
    first = restarts.start(BOT_FAULT="die:after-post")
    assert first.deliver(MENTION).status_code == 202
    assert_died_by_sigkill(first)
    assert len(fakes.hub.comments) == 1
    assert first.job_status(COMMENT_ID) == "running"

    second = restarts.start()

    eventually(lambda: second.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(fakes.hub.comments) == 1
    reads = [r for r in fakes.hub.requests if r.method == "GET" and "/discussions/" in r.path]
    assert len(reads) == 2  # the first start read it for context, the second found its marker
    # The outcome is logged just after it is recorded.
    eventually(lambda: "found on the Hub" in second.output(), what="the outcome's log line")


def test_sigterm_lets_the_running_reply_finish_and_leaves_the_queue_for_the_next_start(
    restarts: Restarts, fakes: Fakes
) -> None:
    fakes.model.hold()
    first = restarts.start(CONCURRENCY="1", SHUTDOWN_GRACE="20")
    for num in (1, 2, 3):
        assert first.deliver(mention_in(num)).status_code == 202
    assert fakes.model.wait_until(lambda: len(fakes.model.requests) == 1)

    first.process.send_signal(signal.SIGTERM)
    eventually(lambda: "Waiting for application shutdown" in first.output(), what="shutdown")
    fakes.model.release()

    first.process.wait(timeout=30)
    assert len(fakes.hub.comments) == 1  # the running one finished within the grace period
    assert len(fakes.model.requests) == 1  # the queued ones were not started
    assert [first.job_status(f"{n:024x}") for n in (1, 2, 3)] == ["done", "queued", "queued"]

    second = restarts.start()

    eventually(lambda: len(fakes.hub.comments) == 3, what="three replies")
    eventually(lambda: second.job_status(f"{3:024x}") == "done", what="the last job")
    paths = sorted(c.path for c in fakes.hub.comments)
    assert paths == [f"/api/models/some-user/some-repo/discussions/{n}/comment" for n in (1, 2, 3)]


def test_sigterm_past_the_grace_period_hands_the_running_job_back(
    restarts: Restarts, fakes: Fakes
) -> None:
    fakes.model.hold()
    first = restarts.start(SHUTDOWN_GRACE="0.5")
    assert first.deliver(MENTION).status_code == 202
    assert fakes.model.wait_until(lambda: len(fakes.model.requests) == 1)

    first.process.send_signal(signal.SIGTERM)
    first.process.wait(timeout=30)
    assert first.job_status(COMMENT_ID) == "queued"
    assert fakes.hub.comments == []

    fakes.model.release()
    second = restarts.start()

    eventually(lambda: second.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(fakes.hub.comments) == 1


def test_sigterm_writes_the_delivery_log_it_buffered_before_exiting(
    restarts: Restarts, fakes: Fakes
) -> None:
    bot = restarts.start()
    ignored = load_payload("comment_create_no_mention")
    for n in range(30):
        assert bot.deliver(ignored, **{"Webhook-Id": f"w{n}"}).status_code == 200

    bot.process.send_signal(signal.SIGTERM)
    bot.process.wait(timeout=30)

    with contextlib.closing(sqlite3.connect(bot.database)) as db:
        logged = [row[0] for row in db.execute("SELECT delivery FROM delivery_log")]
    assert sorted(logged) == sorted(f"w{n}" for n in range(30))


def test_another_process_on_the_same_database_reclaims_a_dead_process_job(
    restarts: Restarts, fakes: Fakes
) -> None:
    fakes.model.hold()
    doomed = restarts.start()
    survivor = restarts.start()
    assert doomed.deliver(MENTION).status_code == 202
    assert fakes.model.wait_until(lambda: len(fakes.model.requests) == 1)

    doomed.process.send_signal(signal.SIGKILL)
    assert_died_by_sigkill(doomed)
    fakes.model.release()

    eventually(lambda: survivor.job_status(COMMENT_ID) == "done", what="the survivor to answer")
    assert len(fakes.hub.comments) == 1
    eventually(lambda: "outcome=replied" in survivor.output(), what="the outcome's log line")


def test_an_operator_can_force_a_fresh_answer_while_the_bot_runs(
    restarts: Restarts, fakes: Fakes, tmp_path: Path
) -> None:
    bot = restarts.start()
    assert bot.deliver(MENTION).status_code == 202
    eventually(lambda: bot.job_status(COMMENT_ID) == "done", what="the first answer")

    env = bot_environment(tmp_path, fakes)
    forced = subprocess.run(
        [sys.executable, "-m", "bot", "jobs", "retry", COMMENT_ID, "--force"],
        cwd=tmp_path, env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    unknown = subprocess.run(
        [sys.executable, "-m", "bot", "jobs", "retry", "0" * 24],
        cwd=tmp_path, env=env, capture_output=True, timeout=60,
    )  # fmt: skip

    assert forced.returncode == 0, forced.stderr
    assert unknown.returncode == 1
    assert unknown.stderr.decode().startswith("error: no job '000000000000000000000000'")
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 2)
    assert fakes.hub.comments[1].body["comment"].endswith(f"reply-to:{COMMENT_ID} round:1 -->")


THREAD = "/api/models/some-user/some-repo/discussions/4"


def test_a_reply_the_hub_takes_after_hub_timeout_is_found_there_not_posted_twice(
    restarts: Restarts, fakes: Fakes
) -> None:
    # The Hub commits the comment after the bot gave up waiting for its answer.
    fakes.hub.commit_late(after=2.6)
    bot = restarts.start(HUB_TIMEOUT="2")
    assert bot.deliver(MENTION).status_code == 202

    eventually(lambda: bot.job_status(COMMENT_ID) == "done", timeout=30, what="the job")
    assert len(fakes.hub.comments) == 1  # one POST
    assert len(fakes.hub.threads[THREAD]) == 1  # one reply
    eventually(lambda: "found on the Hub" in bot.output(), what="the outcome's log line")


def test_sigterm_during_a_slow_post_lets_it_finish_and_records_it(
    restarts: Restarts, fakes: Fakes
) -> None:
    fakes.hub.commit_late(after=2.0)  # slow, but within HUB_TIMEOUT
    first = restarts.start(SHUTDOWN_GRACE="0.5")
    assert first.deliver(MENTION).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)  # the POST is under way

    first.process.send_signal(signal.SIGTERM)
    first.process.wait(timeout=30)

    # Past the grace period, but the POST was not cut off: its outcome is recorded.
    assert first.job_status(COMMENT_ID) == "done"
    second = restarts.start()
    assert second.deliver(MENTION).json()["status"] == "duplicate"
    assert len(fakes.hub.comments) == 1 and len(fakes.hub.threads[THREAD]) == 1


def test_killed_during_a_slow_post_the_next_start_waits_for_it_and_posts_nothing(
    restarts: Restarts, fakes: Fakes
) -> None:
    fakes.hub.commit_late(after=4.0)  # after the restart's first read of the discussion
    first = restarts.start(HUB_TIMEOUT="3")
    assert first.deliver(MENTION).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)  # the POST is under way

    first.process.send_signal(signal.SIGKILL)
    assert_died_by_sigkill(first)
    second = restarts.start(HUB_TIMEOUT="3")

    eventually(lambda: second.job_status(COMMENT_ID) == "done", timeout=30, what="the job")
    assert len(fakes.hub.comments) == 1 and len(fakes.hub.threads[THREAD]) == 1
    assert len(fakes.model.requests) == 1  # it looked before generating again
    eventually(lambda: "found on the Hub" in second.output(), what="the outcome's log line")


def test_a_mention_delivered_while_the_bot_starts_waits_and_is_answered(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    # A restart is when deliveries come in: the port listens before the bot asks the Hub who it
    # is, so one sent meanwhile waits in the backlog; it is neither refused nor lost.
    fakes.hub.hold_whoami()
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes))
    bots.append(bot)
    asked = fakes.hub.wait_until(
        lambda: any(r.path == "/api/whoami-v2" for r in fakes.hub.requests)
    )
    assert asked, bot.output()
    body = json.dumps(MENTION).encode()
    request = (
        b"POST /webhook HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nX-Webhook-Secret: " + WEBHOOK_SECRET.encode() +
        b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip
    port = int(bot.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:  # not refused
        sock.sendall(request)
        fakes.hub.release_whoami()
        answer = sock.makefile("rb").readline()

    assert answer.startswith(b"HTTP/1.1 202"), answer
    eventually(lambda: bot.job_status(COMMENT_ID) == "done", what="the job to finish")
    assert len(fakes.hub.comments) == 1
