"""The connection deadlines of `python -m bot`: one timer per connection follows the current
deadline, so an idle keep-alive connection and a body that never completes are still closed."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.botprocess import BotProcess, Fakes, bot_environment, eventually, start_bot, wait_healthy


def closed(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (headers and a Content-Length body), so the next starts clean."""
    sock.settimeout(10)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)
        assert chunk, "closed before answering"
        answer += chunk
    length = re.search(rb"(?im)^content-length: *(\d+)", answer)
    assert length is not None, answer
    body = b""
    while len(body) < int(length.group(1)):
        chunk = sock.recv(int(length.group(1)) - len(body))
        assert chunk, "closed in the middle of an answer"
        body += chunk
    return answer + body


def test_idle_and_dawdling_connections_are_closed_after_answered_requests(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    env = bot_environment(tmp_path, fakes, HEADER_TIMEOUT="1", BODY_TIMEOUT="1")
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)
    port = int(bot.url.rsplit(":", 1)[1])
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    dawdling = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        # Answered requests move the deadline on; then the idle one waits for none.
        for _ in range(3):
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: bot\r\n\r\n")
            assert read_answer(idle).startswith(b"HTTP/1.1 200")
        request = b"POST /webhook HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n\r\n{"
        dawdling.sendall(request)  # the headers, and a body that never completes

        eventually(lambda: closed(idle), timeout=30, what="idle keep-alive connection closed")
        eventually(lambda: closed(dawdling), timeout=30, what="dawdling body closed")
    finally:
        idle.close()
        dawdling.close()
