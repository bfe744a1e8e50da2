"""Starting the servers under test: pinned to the server core, timed to their first 2xx, their
idle memory read from /proc, killed afterwards; and what they stand on, for run.py and
rounds.py alike: the fakes of the Hub and the model, the mention's body, PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fakes import FakeHub, FakeModel, serve_in_thread
from tests.postgres import PostgresServer, binaries

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER_CORE, LOAD_CORE = 0, 1
SECRET = "bench-secret-0123456789"
TOKEN = "hf_test_token_0123456789abcdef"
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
IGNORED = PAYLOADS / "comment_create_no_mention.json"
MENTION = PAYLOADS / "comment_create_mention.json"
FIXTURE_COMMENT = "6398872887bfcfb93a306f18"  # its comment id, made unique per request


SLOW_MODEL_MS = 600  # under load, the jobs it makes wait on the model rather than use the core


def fakes(stack: ExitStack) -> tuple[FakeHub, FakeModel, tuple[str, str]]:
    """The fake Hub and model, served until `stack` closes, the model answering slowly."""
    hub, model = FakeHub(token=TOKEN), FakeModel()
    urls = (
        stack.enter_context(serve_in_thread(hub.app)),
        stack.enter_context(serve_in_thread(model.app)),
    )
    model.latency = SLOW_MODEL_MS
    return hub, model, urls


def mention_body(folder: Path) -> Path:
    """The mention fixture with a placeholder post.lua makes unique per request."""
    mention = folder / "mention.json"
    mention.write_text(MENTION.read_text().replace(FIXTURE_COMMENT, "COMMENT_ID"))
    return mention


def postgres(stack: ExitStack) -> str:
    """A PostgreSQL server of our own, with its default durability, or "" when not installed."""
    if binaries() is None:
        print("PostgreSQL is not installed: its rows are left out", file=sys.stderr)
        return ""
    server = PostgresServer()
    stack.callback(server.remove)
    server.start(durable=True)
    return server.new_database()


@dataclass
class Started:
    pid: int
    url: str
    start_to_first_2xx_s: float
    idle_rss_mib: float
    # The CPU time (user and system, all threads) it took to get there: steadier than the wall
    # time on a shared machine, where the server's core is not its own.
    start_cpu_s: float
    log: Path


def bare_limit(port: int) -> list[str]:
    """The limit: a bare Starlette handler on the bot's own stack (uvloop + httptools)."""
    return [
        sys.executable, "-m", "uvicorn", "bench.baseline_app:app",
        "--loop", "uvloop", "--http", "httptools",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def bot_env(hub_url: str, model_url: str, data: Path, port: int, **extra: str) -> dict[str, str]:
    """The bot's defaults (its log level included), but no reply limits and no queue cap."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "HF_TOKEN": TOKEN,
        "WEBHOOK_SECRET": SECRET,
        "HF_ENDPOINT": hub_url,
        "INFERENCE_URL": f"{model_url}/models/bigscience/bloom",
        "DATA_DIR": str(data),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MAX_QUEUE": "1000000",
        "REPLIES_PER_AUTHOR_HOUR": "0",
        "REPLIES_PER_DISCUSSION_HOUR": "0",
        "REPLIES_PER_DAY": "0",
        **extra,
    }


@contextmanager
def started(command: list[str], env: dict[str, str], url: str) -> Iterator[Started]:
    """Start a server on the server core and time it to its first 2xx (an ignored delivery)."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "log"
        with log.open("wb") as out:
            began = time.perf_counter()
            process = subprocess.Popen(
                ["taskset", "-c", str(SERVER_CORE), *command],
                env=env, stdout=out, stderr=out, cwd=ROOT,
            )  # fmt: skip
            try:
                first = _first_2xx(process, log, url) - began
                cpu = cpu_seconds(process.pid)
                time.sleep(1)  # settled: the idle memory is the memory it keeps
                rss = _rss_mib(process.pid)
                yield Started(process.pid, url, round(first, 3), rss, round(cpu, 3), log)
            finally:
                process.kill()
                process.wait()


def _first_2xx(process: subprocess.Popen[bytes], log: Path, url: str) -> float:
    """Poll, 5 ms apart, until a 2xx; when it came. One client for every try: a new one
    builds a TLS context (~20 ms), which would make the tries ~25 ms apart."""
    headers = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
    body = IGNORED.read_bytes()
    deadline = time.perf_counter() + 120
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{process.args!r} exited:\n{log.read_text()[-3000:]}")
            try:
                if client.post(url, content=body, headers=headers).is_success:
                    return time.perf_counter()
            except httpx.TransportError:
                pass
            time.sleep(0.005)
    raise SystemExit(f"{process.args!r} never answered 2xx")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process, all its threads (0 without a pid)."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return round(int(match.group(1)) / 1024, 1) if match else float("nan")
