"""Running `python -m bot` as a real process against fakes served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes import TOKEN, FakeHub, FakeModel, free_port

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec-correct-horse-battery-staple"


@dataclass
class Fakes:
    hub: FakeHub
    hub_url: str
    model: FakeModel
    model_url: str


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path
    database: Path

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def deliver(self, payload: object, path: str = "/webhook", **headers: str) -> httpx.Response:
        sent = {"X-Webhook-Secret": WEBHOOK_SECRET, **headers}
        return httpx.post(self.url + path, content=json.dumps(payload), headers=sent, timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def job_status(self, comment_id: str) -> str | None:
        """Read the job's status straight from the database file, as another process would."""
        with sqlite3.connect(self.database, timeout=5) as db:
            row = db.execute("SELECT status FROM jobs WHERE comment_id = ?", (comment_id,))
            found = row.fetchone()
        return str(found[0]) if found else None


# Nothing listens there: a test that wants the viewer serves the fake one, and no test ever
# reaches the real viewer's host.
NO_VIEWER = "http://127.0.0.1:9"


def bot_environment(tmp_path: Path, fakes: Fakes, **extra: str) -> dict[str, str]:
    # A clean environment and working directory, so a developer's .env cannot leak in.
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HF_TOKEN": TOKEN,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HF_ENDPOINT": fakes.hub_url,
        "DATASET_VIEWER_URL": NO_VIEWER,
        "INFERENCE_URL": f"{fakes.model_url}/models/bigscience/bloom",
        "DATA_DIR": str(tmp_path / "data"),
        "PROMPTS_DIR": str(ROOT / "prompts"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "RETRY_BUDGET": "5",
        **extra,
    }


def routed_environment(tmp_path: Path, fakes: Fakes, **extra: str) -> dict[str, str]:
    """Default model settings: the model is found through the fake Hub, reached through the
    fake router."""
    env = bot_environment(tmp_path, fakes, INFERENCE_ROUTER_URL=fakes.model_url, **extra)
    del env["INFERENCE_URL"]
    return env


def run_bot(
    tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def start_bot(tmp_path: Path, env: dict[str, str], name: str = "bot") -> BotProcess:
    stdout, stderr = tmp_path / f"{name}.stdout.log", tmp_path / f"{name}.stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, stdout=out, stderr=err
        )
    database = Path(env["DATA_DIR"]) / "bot.sqlite3"
    return BotProcess(process, f"http://127.0.0.1:{env['PORT']}", stdout, stderr, database)


def eventually(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` until it holds, failing the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def wait_healthy(bot: BotProcess, timeout: float = 20.0) -> None:
    def healthy() -> bool:
        if bot.process.poll() is not None:
            pytest.fail(f"bot exited early:\n{bot.output()}")
        try:
            return httpx.get(bot.url + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    eventually(healthy, timeout, "the bot to answer /health")
