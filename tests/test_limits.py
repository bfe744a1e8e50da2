"""What an attacker or a careless upstream can do to the real process, and what holds: slow
bodies are cut off, a dripping or huge model answer is cut at its deadline or cap, a quoted
token never reaches the store, the page or the command line, and reply limits hold when
twenty mentions arrive at once."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
from pathlib import Path

import httpx

from tests.botprocess import (
    WEBHOOK_SECRET,
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import mention_in
from tests.fakes import TOKEN, Scripted

FLOOD = 1000


def open_files(bot: BotProcess) -> int:
    return len(os.listdir(f"/proc/{bot.process.pid}/fd"))


def resident_mib(bot: BotProcess) -> float:
    status = Path(f"/proc/{bot.process.pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


def started(tmp_path: Path, fakes: Fakes, bots: list[BotProcess], **settings: str) -> BotProcess:
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, **settings))
    bots.append(bot)
    wait_healthy(bot)
    return bot


def test_a_flood_of_slow_bodies_is_cut_off_and_real_deliveries_still_get_through(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this test's own sockets
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * FLOOD)), hard))
    bot = started(tmp_path, fakes, bots, BODY_TIMEOUT="2", MAX_CONNECTIONS="4000",
                  REPLIES_PER_AUTHOR_HOUR="0")  # fmt: skip
    port = int(bot.url.rsplit(":", 1)[1])
    before = open_files(bot)
    slow: list[socket.socket] = []
    try:
        for n in range(FLOOD):  # complete headers, then a body that never comes
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            secret = f"X-Webhook-Secret: {WEBHOOK_SECRET}\r\n" if n % 100 == 0 else ""
            sock.sendall(
                f"POST /webhook HTTP/1.1\r\nHost: bot\r\n{secret}Content-Type: application/json"
                '\r\nContent-Length: 100000\r\n\r\n{"event": '.encode()
            )
            slow.append(sock)
        eventually(lambda: open_files(bot) >= before + FLOOD * 0.9, what="the flood to land")

        answers = [bot.deliver(mention_in(n)).status_code for n in range(1, 6)]

        assert answers == [202] * 5
        assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 5)
        eventually(lambda: open_files(bot) <= before + 5, what="slow bodies closed", timeout=30)
    finally:
        for sock in slow:
            sock.close()
    assert httpx.get(bot.url + "/health", timeout=5).status_code == 200
    assert bot.output().count("outcome=unauthorised") <= 2  # a flood is one line per interval


def test_past_the_connection_cap_a_request_gets_a_fast_503(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = started(tmp_path, fakes, bots, MAX_CONNECTIONS="20")
    port = int(bot.url.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
    try:
        eventually(lambda: open_files(bot) >= 30, what="the connections to land")

        refused = bot.deliver(mention_in(1))

        assert refused.status_code == 503
    finally:
        for sock in held:
            sock.close()
    assert bot.deliver(mention_in(1)).status_code == 202
    assert bot.output().count("Exceeded concurrency limit") == 1  # once a minute, not per event


def job_reason(bot: BotProcess, serial: int) -> str:
    return bot.job_status(f"{serial:024x}") or ""


def test_a_model_that_drips_its_answer_is_cut_at_the_total_deadline(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.drip = 1.0  # one byte a second: every single read is fast enough
    bot = started(tmp_path, fakes, bots, INFERENCE_TIMEOUT="2", RETRY_BUDGET="0", MAX_ATTEMPTS="1",
                  FAILURE_NOTICE="false")  # fmt: skip

    assert bot.deliver(mention_in(1)).status_code == 202

    eventually(lambda: "no complete answer within 2 s" in bot.output(), what="the outcome")
    assert job_reason(bot, 1) == "dead"
    assert "model: no answer: timed out: no complete answer within 2 s" in bot.output()
    assert fakes.hub.comments == []


def test_a_huge_model_answer_is_not_read_past_the_cap_and_memory_stays_flat(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.oversize = 200 << 20
    bot = started(tmp_path, fakes, bots, RETRY_BUDGET="0", MAX_ATTEMPTS="1", FAILURE_NOTICE="false")
    baseline = resident_mib(bot)

    assert bot.deliver(mention_in(1)).status_code == 202

    eventually(lambda: "not read further" in bot.output(), what="the outcome")
    assert job_reason(bot, 1) == "dead"
    assert "answer larger than 10485760 bytes; not read further" in bot.output()
    assert resident_mib(bot) - baseline < 48  # the cap is 10 MiB; the answer was 200 MiB


def test_an_upstream_quoting_the_token_leaves_it_nowhere(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    quoted = f"Invalid credentials in Authorization header: Bearer {TOKEN}"
    fakes.model.enqueue(Scripted(401, {"error": quoted}))
    bot = started(tmp_path, fakes, bots, MAX_ATTEMPTS="1")

    assert bot.deliver(mention_in(1)).status_code == 202
    eventually(lambda: job_reason(bot, 1) == "dead", what="the job to be given up")

    env = bot_environment(tmp_path, fakes)
    listed = run_bot(tmp_path, env, "jobs", "list")
    shown = run_bot(tmp_path, env, "jobs", "show", "1")
    page = httpx.get(bot.url + "/", timeout=5).text
    with contextlib.closing(__import__("sqlite3").connect(bot.database)) as db:
        stored = " ".join(str(row) for row in db.execute("SELECT * FROM jobs"))
        stored += " ".join(str(row) for row in db.execute("SELECT * FROM delivery_log"))
    assert "Invalid credentials in Authorization header: Bearer [redacted]" in listed.stdout
    for seen in (listed.stdout, shown.stdout, page, stored, bot.output()):
        assert TOKEN not in seen
        assert TOKEN[3:] not in seen


def test_reply_limits_hold_when_twenty_mentions_by_one_author_arrive_at_once(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.latency = 0.05
    bot = started(tmp_path, fakes, bots, CONCURRENCY="4", REPLIES_PER_AUTHOR_HOUR="3",
                  REPLIES_PER_DAY="5", FAILURE_NOTICE="false")  # fmt: skip

    with httpx.Client(timeout=10) as client:
        for serial in range(1, 21):  # twenty discussions, one author
            sent = client.post(
                bot.url + "/webhook",
                json=mention_in(serial),
                headers={"X-Webhook-Secret": WEBHOOK_SECRET},
            )
            assert sent.status_code == 202

    def ended() -> bool:
        return all(job_reason(bot, n) in ("done", "dead") for n in range(1, 21))

    eventually(ended, what="every job to end")
    assert len(fakes.hub.comments) == 3
    eventually(lambda: bot.output().count("REPLIES_PER_AUTHOR_HOUR=3") == 17, what="the log")


def test_the_longest_comment_the_hub_allows_fits_in_a_delivery(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = started(tmp_path, fakes, bots)
    payload = mention_in(1)
    payload["comment"]["content"] = "@hub-bot " + "\U0001f917" * 65_526  # 4 bytes each in UTF-8

    assert bot.deliver(payload).status_code == 202
