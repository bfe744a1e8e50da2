"""The operator's stumbles with the store, on the real process: a store that cannot be written
stops the start and fails `check`; on PostgreSQL, /health says what a delivery would get while
a claim is stuck behind another connection's claim lock, and status-page views waiting on a
locked delivery log never take the connections deliveries need."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bot.store.jobs import CLAIM_LOCK
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
from tests.postgres import PostgresServer


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` cannot be written, even by root (who ignores file modes): immutable then."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"cannot make a file read-only for root here: {made.stderr.strip()!r}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


def test_a_store_that_cannot_be_written_stops_the_start_and_fails_check(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = bot_environment(tmp_path, fakes)
    assert run_bot(tmp_path, env, "jobs", "list").returncode == 0  # makes the database
    database = Path(env["DATA_DIR"]) / "bot.sqlite3"

    with read_only(database):
        started = run_bot(tmp_path, env)
        checked = run_bot(tmp_path, env, "check")

    assert started.returncode == 1
    [line] = started.stderr.strip().splitlines()
    assert line.startswith(f"error: SQLite at {database} cannot be written (")
    assert "readonly database" in line and "make DATA_DIR and the database file" in line
    assert "Webhook URL" not in started.stdout  # no banner for a bot that cannot serve
    assert checked.returncode == 1
    [state] = [row for row in checked.stdout.splitlines() if " state: " in row]
    assert state.startswith(f"FAIL  state: SQLite at {database} cannot be written (")
    assert "-> fix: make DATA_DIR and the database file in it writable" in state


def test_a_store_that_cannot_be_written_is_said_at_once_while_the_hub_is_unreachable(
    tmp_path: Path, fakes: Fakes
) -> None:
    # The store is tried while the Hub is asked; its verdict does not wait out the Hub's retries.
    env = bot_environment(tmp_path, fakes)
    assert run_bot(tmp_path, env, "jobs", "list").returncode == 0
    database = Path(env["DATA_DIR"]) / "bot.sqlite3"
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there

    with read_only(database):
        started = run_bot(tmp_path, env)

    assert started.returncode == 1
    *before, line = started.stderr.strip().splitlines()
    assert not any("cannot identify the bot" in said for said in before), started.stderr
    assert line.startswith(f"error: SQLite at {database} cannot be written (")


def hold(url: str, *statements: str) -> subprocess.Popen[str]:
    """Another connection that runs `statements` and holds what they took until stdin closes."""
    script = (
        "import asyncio, sys, asyncpg\n"
        "async def main():\n"
        f"    db = await asyncpg.connect({url!r})\n"
        f"    for statement in {list(statements)!r}:\n"
        "        await db.execute(statement)\n"
        "    print('held', flush=True)\n"
        "    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.close()
    holder.wait(timeout=30)
    holder.stdout.close()


@pytest.fixture
def pg_bot(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess], postgres: PostgresServer
) -> BotProcess:
    env = bot_environment(tmp_path, fakes, DATABASE_URL=postgres.new_database())
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)
    bot.database_url = env["DATABASE_URL"]  # type: ignore[attr-defined]
    return bot


def test_health_stays_up_while_a_claim_waits_on_another_connections_claim_lock(
    pg_bot: BotProcess, fakes: Fakes
) -> None:
    url: str = pg_bot.database_url  # type: ignore[attr-defined]
    holder = hold(url, f"SELECT pg_advisory_lock({CLAIM_LOCK})")
    answers, healths = [], []
    try:
        answers.append(pg_bot.deliver(mention_in(1)).status_code)

        def claims_failed() -> bool:
            healths.append(httpx.get(pg_bot.url + "/health", timeout=5).status_code)
            return "claims fail:" in pg_bot.output()

        eventually(claims_failed, timeout=60, what="a claim to give up on the lock")
        answers.append(pg_bot.deliver(mention_in(2)).status_code)
        healths.append(httpx.get(pg_bot.url + "/health", timeout=5).status_code)
    finally:
        release(holder)

    assert answers == [202, 202]
    assert set(healths) == {200}, healths  # what a delivery gets, at every probe
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 2, timeout=60)
    eventually(lambda: "claims work again" in pg_bot.output(), what="the claims to recover")
    assert pg_bot.output().count("claims fail:") == 1  # once per incident
    assert "store unavailable" not in pg_bot.output()


def test_status_views_on_a_locked_delivery_log_never_take_the_deliveries_connections(
    pg_bot: BotProcess, fakes: Fakes
) -> None:
    url: str = pg_bot.database_url  # type: ignore[attr-defined]
    holder = hold(url, "BEGIN", "LOCK TABLE delivery_log IN ACCESS EXCLUSIVE MODE")
    try:
        with ThreadPoolExecutor(12) as views:
            pages = [views.submit(httpx.get, pg_bot.url + "/", timeout=60) for _ in range(12)]
            answers = [pg_bot.deliver(mention_in(n)).status_code for n in (1, 2, 3)]
            health = httpx.get(pg_bot.url + "/health", timeout=5).status_code
            shown = [page.result() for page in pages]
    finally:
        release(holder)

    assert answers == [202, 202, 202]
    assert health == 200
    assert {page.status_code for page in shown} == {200}
    assert any("This page cannot read the store" in page.text for page in shown)
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 3, timeout=60)
    eventually(
        lambda: "The store cannot be read" not in httpx.get(pg_bot.url + "/", timeout=30).text,
        what="the page to read the store again",
    )
