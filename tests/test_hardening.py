"""Slow clients and misbehaving upstreams, against the real `python -m bot` process."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
from pathlib import Path

import httpx
from markdown_it import MarkdownIt

from tests.botprocess import BotProcess, Fakes, bot_environment, eventually, start_bot, wait_healthy
from tests.conftest import mention_in
from tests.fakes import Scripted
from tests.faults import FaultyProxy

SLOW_CLIENTS = 300


def test_slow_clients_do_not_stop_deliveries_and_are_closed_after_the_header_timeout(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    env = bot_environment(tmp_path, fakes, HEADER_TIMEOUT="3", REPLIES_PER_AUTHOR_HOUR="0")
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)
    port = int(bot.url.rsplit(":", 1)[1])
    slow = []
    for _ in range(SLOW_CLIENTS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: bot\r\n")
        slow.append(sock)
    stop = threading.Event()

    def trickle() -> None:  # one more header byte now and then, never the end of the headers
        while not stop.wait(0.5):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        answers = [bot.deliver(mention_in(n)).status_code for n in range(1, 21)]
        assert answers == [202] * 20
        assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 20)

        def closed(sock: socket.socket) -> bool:
            sock.settimeout(0.01)
            try:
                return sock.recv(1) == b""
            except TimeoutError:
                return False
            except OSError:
                return True

        eventually(lambda: all(closed(s) for s in slow), timeout=20, what="slow clients closed")
    finally:
        stop.set()
        trickler.join(timeout=5)
        for sock in slow:
            sock.close()
    assert httpx.get(bot.url + "/health", timeout=5).status_code == 200


def test_model_faults_are_recorded_one_by_one_and_the_mention_is_still_answered_once(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.enqueue(
        Scripted(502, text="<html><body>Bad gateway</body></html>", content_type="text/html"),
        Scripted(200, text='[{"generated_text": "cut sh'),
    )
    # The first connection is the startup probe of INFERENCE_URL; the faults hit the replies.
    proxy = FaultyProxy(fakes.model_url, ["pass", "drop", "stall"])
    with proxy.running() as model_url:
        env = bot_environment(
            tmp_path,
            fakes,
            INFERENCE_URL=f"{model_url}/models/bigscience/bloom",
            INFERENCE_TIMEOUT="1",
            RETRY_BUDGET="0",
            ATTEMPT_BACKOFF="0",
            MAX_ATTEMPTS="6",
        )
        bot = start_bot(tmp_path, env)
        bots.append(bot)
        wait_healthy(bot)

        assert bot.deliver(mention_in(1)).status_code == 202
        eventually(lambda: bot.job_status(f"{1:024x}") == "done", what="the reply", timeout=30)
        assert bot.deliver(mention_in(2)).status_code == 202  # still serving
        eventually(lambda: bot.job_status(f"{2:024x}") == "done", what="the second reply")

    assert len(fakes.hub.comments) == 2
    failures = [line for line in bot.output().splitlines() if "outcome=failed" in line]
    reasons = [line.split("reason=", 1)[1] for line in failures]
    assert len(reasons) == 4
    assert "connection failed" in reasons[0]
    assert "timed out" in reasons[1]
    assert "HTTP 502" in reasons[2] and "HTML page" in reasons[2]
    assert "not JSON" in reasons[3]


def test_hub_faults_never_lose_or_double_a_reply(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.enqueue(
        Scripted(502, text="<html>Bad gateway</html>", content_type="text/html", on="discussion"),
        Scripted(200, text="{not json", on="comment"),  # sent, but the answer is garbage
    )
    env = bot_environment(tmp_path, fakes, RETRY_BUDGET="0", ATTEMPT_BACKOFF="0")
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)

    assert bot.deliver(mention_in(1)).status_code == 202
    eventually(lambda: bot.job_status(f"{1:024x}") == "done", what="the reply", timeout=30)

    # The unreadable discussion stopped the first attempt before anything was posted; the
    # garbled answer left the second's outcome unknown, so the third looked and found it.
    posts = [r for r in fakes.hub.requests if r.method == "POST"]
    reads = [r for r in fakes.hub.requests if r.method == "GET" and "/discussions/" in r.path]
    assert len(posts) == 1 and len(reads) == 3
    eventually(lambda: "found on the Hub" in bot.output(), what="the outcome's log line")
    assert "cannot read the discussion to look for an earlier reply" in bot.output()


def test_sighup_stops_the_bot_as_gracefully_as_sigterm(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.hold()
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, SHUTDOWN_GRACE="20"))
    bots.append(bot)
    wait_healthy(bot)
    assert bot.deliver(mention_in(1)).status_code == 202
    assert fakes.model.wait_until(lambda: len(fakes.model.requests) == 1)

    bot.process.send_signal(signal.SIGHUP)
    eventually(lambda: "Waiting for application shutdown" in bot.output(), what="shutdown")
    fakes.model.release()

    # uvicorn raises the signal again once it has shut down, as it does for SIGTERM.
    assert bot.process.wait(timeout=30) in (0, -signal.SIGHUP)
    assert "Application shutdown complete" in bot.output()
    assert len(fakes.hub.comments) == 1  # the reply under way was finished, not cut off
    assert bot.job_status(f"{1:024x}") == "done"


def test_an_answer_that_opens_a_comment_cannot_hide_the_footer(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.model.reply = (
        "It is fine.\n<!--\n\n---\n<sub>Checked by the maintainers.</sub>\n"
        "![t](https://tracker.example/p.gif) [x](javascript:alert(1))\n```python\nprint(1)"
    )
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes))
    bots.append(bot)
    wait_healthy(bot)

    assert bot.deliver(mention_in(1)).status_code == 202
    assert fakes.hub.wait_until(lambda: len(fakes.hub.comments) == 1)

    shown = MarkdownIt("commonmark").render(fakes.hub.comments[0].body["comment"])
    footer = re.compile(
        r"<hr />\n<p><sub>Automated reply by [^<]*</sub></p>\n"
        r"<!-- hub-discussion-bot reply-to:\w+ -->\n?\Z"
    )
    assert footer.search(shown), shown
    assert "<img" not in shown and "javascript:" not in shown
    assert "print(1)\n</code></pre>" in shown  # the unclosed fence was closed before the footer


def test_control_characters_in_a_refused_delivery_id_are_escaped_in_the_log(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes))
    bots.append(bot)
    wait_healthy(bot)

    refused = httpx.post(
        bot.url + "/webhook", content=b"{}", headers={"Webhook-Id": b"id\tfake\x85line\x9b2J"}
    )

    assert refused.status_code == 401
    eventually(lambda: "delivery=" in bot.output(), what="the refusal's log line")
    output = bot.stderr.read_bytes().decode()
    assert not any(c in output for c in "\t\x85\x9b\x1b")
    assert 'delivery="id\\tfake\\u0085line\\u009b2J"' in output
