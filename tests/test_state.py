"""State that survives, proven on real processes: the Hub has the last word when the store
forgets, replicas share one PostgreSQL server, and a store that stops answering never stalls
the server or loses an acknowledged mention."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.botprocess import (
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import mention_in
from tests.postgres import PASSWORD, PostgresServer, running_server

MARKER = re.compile(r"reply-to:([0-9a-f]{24})")


def replies(fakes: Fakes) -> Counter[str]:
    """How many replies the fake Hub received for each comment id."""
    found = (MARKER.search(r.body["comment"]) for r in fakes.hub.comments)
    return Counter(m.group(1) for m in found if m)


def comment_id(serial: int) -> str:
    return f"{serial:024x}"


def test_a_bot_restarted_on_an_empty_disk_does_not_answer_a_replayed_mention_again(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    first = start_bot(tmp_path, bot_environment(tmp_path, fakes, DATA_DIR=str(tmp_path / "a")))
    bots.append(first)
    wait_healthy(first)
    assert first.deliver(mention_in(1)).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)
    first.stop()

    wiped = bot_environment(tmp_path, fakes, DATA_DIR=str(tmp_path / "b"))  # a new, empty disk
    second = start_bot(tmp_path, wiped, name="second")
    bots.append(second)
    wait_healthy(second)
    replay = second.deliver(mention_in(1))  # the Activity tab's replay: the same payload

    assert replay.json()["status"] == "queued"  # this store has never seen it
    eventually(lambda: second.job_status(comment_id(1)) == "done", what="the replayed job")
    assert len(fakes.hub.comments) == 1
    eventually(lambda: "found on the Hub" in second.output(), what="the outcome's log line")


def test_job_mode_twice_on_fresh_folders_posts_one_reply(tmp_path: Path, fakes: Fakes) -> None:
    payload = json.dumps(mention_in(2))
    outcomes = []
    for folder in ("job-1", "job-2"):  # each Hub Job starts on an empty disk
        env = bot_environment(
            tmp_path, fakes, DATA_DIR=str(tmp_path / folder), WEBHOOK_PAYLOAD=payload
        )
        outcomes.append(run_bot(tmp_path, env, "job"))

    assert [o.returncode for o in outcomes] == [0, 0], [o.stderr for o in outcomes]
    assert all(o.stdout.startswith("replied: comment") for o in outcomes)
    assert len(fakes.hub.comments) == 1


class Replicas:
    """N bots on one DATABASE_URL, each on its own port, as behind a load balancer."""

    def __init__(self, tmp_path: Path, fakes: Fakes, url: str, count: int) -> None:
        self.envs = [
            bot_environment(
                tmp_path, fakes, DATABASE_URL=url, DATA_DIR=str(tmp_path / f"r{n}"),
                LEASE_SECONDS="2", ATTEMPT_BACKOFF="0", CONCURRENCY="2",
                REPLIES_PER_DISCUSSION_HOUR="0", REPLIES_PER_AUTHOR_HOUR="0",
            )
            for n in range(count)
        ]  # fmt: skip
        self.tmp_path = tmp_path
        self.bots = [self.start(n) for n in range(count)]
        for bot in self.bots:
            wait_healthy(bot)

    def start(self, n: int) -> BotProcess:
        return start_bot(self.tmp_path, self.envs[n], name=f"replica{n}-{len(self.envs)}")

    def stop(self) -> None:
        for bot in self.bots:
            bot.stop()


def test_three_replicas_on_postgres_answer_each_mention_once_in_order_through_a_sigkill(
    tmp_path: Path, fakes: Fakes, postgres: PostgresServer
) -> None:
    fakes.model.latency = 0.02
    replicas = Replicas(tmp_path, fakes, postgres.new_database(), 3)
    try:
        for serial in range(60):  # 20 discussions, three mentions each, round-robin
            if serial == 18:
                fakes.model.hold()
            if serial == 24:
                # All six runners (two per replica) are mid-generation: kill one replica.
                assert fakes.model.wait_until(lambda: fakes.model.held == 6)
                victim = replicas.bots[1]
                victim.process.send_signal(signal.SIGKILL)
                assert victim.process.wait(timeout=20) == -signal.SIGKILL
                fakes.model.release()
            if serial == 42:
                replicas.bots[1] = replicas.start(1)  # back, on the same port
                wait_healthy(replicas.bots[1])
            alive = [b for b in replicas.bots if b.process.poll() is None]
            target = alive[serial % len(alive)]
            assert target.deliver(mention_in(serial % 20 + 1, serial)).status_code == 202

        assert fakes.hub.wait_until(lambda: len(replies(fakes)) == 60, timeout=60)
    finally:
        replicas.stop()

    answered = replies(fakes)
    assert sorted(answered) == sorted(comment_id(n) for n in range(60))
    assert set(answered.values()) == {1}  # nothing doubled
    for thread, events in fakes.hub.threads.items():  # each discussion in arrival order
        order = [
            int(m.group(1), 16) for e in events if (m := MARKER.search(e["data"]["latest"]["raw"]))
        ]
        assert order == sorted(order), thread
    for bot in replicas.bots:
        assert PASSWORD not in bot.output()


@pytest.fixture
def locked_sqlite(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    holders: list[subprocess.Popen[str]] = []

    def lock(database: Path) -> subprocess.Popen[str]:
        """Another process takes the write lock on the file and keeps it until told to stop."""
        holder = subprocess.Popen(
            [sys.executable, "-c", (
                "import sqlite3, sys\n"
                f"db = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
                "db.execute('BEGIN IMMEDIATE')\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n"
                "db.execute('COMMIT')\n"
            )],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        holders.append(holder)
        return holder

    yield lock
    for holder in holders:
        holder.kill()


def outage(bot: BotProcess, fakes: Fakes, start: callable, end: callable) -> None:  # type: ignore[valid-type]
    """A mention acknowledged just before the store goes away, two mentions delivered while it
    is away, then the store back: the server answers throughout, nothing is lost or doubled."""
    fakes.model.hold()
    assert bot.deliver(mention_in(3, 30)).status_code == 202  # acknowledged, now being written
    assert fakes.model.wait_until(lambda: len(fakes.model.requests) == 1)

    start()
    fakes.model.release()  # its reply is posted, but cannot be recorded
    refused = [bot.deliver(mention_in(4, 40)), bot.deliver(mention_in(5, 50))]
    health = httpx.get(bot.url + "/health", timeout=1)

    assert [r.status_code for r in refused] == [503, 503]
    assert all(r.headers["retry-after"] for r in refused)
    assert refused[0].json() == {"error": "the bot cannot record deliveries right now"}
    assert health.status_code == 503
    assert health.json()["store"] == "unavailable"

    end()
    eventually(lambda: httpx.get(bot.url + "/health", timeout=1).status_code == 200,
               what="the store to be back", timeout=30)  # fmt: skip
    for serial in (40, 50):  # the Hub retries what got a 503
        assert bot.deliver(mention_in(serial // 10, serial)).status_code == 202

    eventually(lambda: set(replies(fakes)) >= {comment_id(n) for n in (30, 40, 50)},
               what="every mention to be answered", timeout=40)  # fmt: skip
    assert set(replies(fakes).values()) == {1}
    output = bot.output()
    assert output.count("store unavailable:") == 1  # once per incident, not once per call
    assert output.count("store available again") == 1


def test_a_write_locked_sqlite_file_gets_503s_and_loses_nothing(
    tmp_path: Path,
    fakes: Fakes,
    bots: list[BotProcess],
    locked_sqlite: callable,  # type: ignore[valid-type]
) -> None:
    env = bot_environment(tmp_path, fakes, LEASE_SECONDS="2", ATTEMPT_BACKOFF="0")
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)
    holder: list[subprocess.Popen[str]] = []

    def release() -> None:
        holder[0].communicate("", timeout=10)

    outage(bot, fakes, lambda: holder.append(locked_sqlite(bot.database)), release)


def test_postgres_stopped_and_started_under_the_bot_loses_nothing(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    with running_server() as server:  # a server of its own, since it is stopped
        env = bot_environment(
            tmp_path, fakes, DATABASE_URL=server.new_database(), LEASE_SECONDS="2",
            ATTEMPT_BACKOFF="0",
        )  # fmt: skip
        bot = start_bot(tmp_path, env)
        bots.append(bot)
        wait_healthy(bot)

        outage(bot, fakes, server.stop, server.start)

        assert PASSWORD not in bot.output()
        page = httpx.get(bot.url + "/", timeout=5).text
        assert f"PostgreSQL at 127.0.0.1:{server.port}/" in page and PASSWORD not in page


def test_where_state_lives_is_said_at_startup_and_by_check(
    tmp_path: Path, fakes: Fakes, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    on_a_space = bot_environment(
        tmp_path, fakes, SPACE_ID="me/bot", PUBLIC_URL="https://x.hf.space"
    )
    wrong_password = bot_environment(
        tmp_path, fakes, DATABASE_URL=url.replace(PASSWORD, "nope-wrong")
    )

    space = run_bot(tmp_path, on_a_space, "check")
    refused = run_bot(tmp_path, wrong_password)
    checked = run_bot(tmp_path, bot_environment(tmp_path, fakes, DATABASE_URL=url), "check")

    [state] = [line for line in space.stdout.splitlines() if " state: " in line]
    assert state.startswith("warn  state: SQLite at ")
    assert "a Space's disk is wiped at every restart" in state and "DATABASE_URL" in state
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(
        f"error: DATABASE_URL: cannot use PostgreSQL at 127.0.0.1:{postgres.port}/"
    )
    assert "password authentication failed" in line and "nope-wrong" not in line
    [state] = [line for line in checked.stdout.splitlines() if " state: " in line]
    assert state.startswith(f"ok    state: PostgreSQL at 127.0.0.1:{postgres.port}/")
    assert PASSWORD not in checked.stdout + checked.stderr
