"""The benchmark: the bot's POST /webhook against the limit of its own stack, in one run on one
machine, and the bot's own time per reply. Method and figures: bench/README.md.

    python bench/run.py [--seconds 5] [--replies 300] [--with-webhooks-server]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load, overhead
from bench.report import Row, report
from bench.servers import (
    HERE,
    IGNORED,
    LOAD_CORE,
    ROOT,
    SECRET,
    bare_limit,
    bot_env,
    fakes,
    mention_body,
    postgres,
    started,
)
from tests.fakes import free_port

HF_VENV = HERE / ".venv-hf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--replies", type=int, default=300, help="replies timed for overhead")
    parser.add_argument(
        "--with-webhooks-server", action="store_true",
        help="also run huggingface_hub's WebhooksServer (installs it in bench/.venv-hf once)",
    )  # fmt: skip
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    # The load, the fakes and PostgreSQL (started from here) share the load core.
    os.sched_setaffinity(0, {LOAD_CORE})
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mention = mention_body(folder)
        hub, model, urls = fakes(stack)
        database = postgres(stack)
        rows = _webhook_rows(urls, folder, mention, database, args.seconds)
        if args.with_webhooks_server:
            rows += _webhooks_server_rows(mention, args.seconds)
        own = overhead.measure(hub, model, urls, args.replies)
        own_pg = overhead.measure(hub, model, urls, args.replies, DATABASE_URL=database)
    report(rows, {"SQLite": own, "PostgreSQL": own_pg} if database else {"SQLite": own})


def _webhook_rows(
    urls: tuple[str, str], folder: Path, mention: Path, database: str, seconds: float
) -> list[Row]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    with started(bare_limit(port), env, url) as limit:
        measured = load.measure(url, IGNORED, SECRET, seconds, pid=limit.pid)
        rows = [Row("limit", "bare Starlette", limit, measured)]
    runs: list[tuple[str, str, Path, str, dict[str, str]]] = [
        ("unauthorised", "wrong secret", IGNORED, "not-the-secret", {}),
        ("ignored", "no mention", IGNORED, SECRET, {}),
        ("mention", "new, SQLite", mention, SECRET, {}),
    ]
    if database:
        runs.append(("mention", "new, PostgreSQL", mention, SECRET, {"DATABASE_URL": database}))
    for kind, name, body, secret, extra in runs:
        data = folder / f"data-{len(rows)}"
        data.mkdir()
        bot = [sys.executable, "-m", "bot"]
        with started(bot, bot_env(*urls, data, port, **extra), url) as server:
            unique = body == mention
            measured = load.measure(url, body, secret, seconds, unique, server.pid)
            rows.append(Row(kind, name, server, measured))
    return rows


def _webhooks_server_rows(mention: Path, seconds: float) -> list[Row]:
    """huggingface_hub's WebhooksServer doing the bot's filter, for comparison only."""
    python = HF_VENV / "bin" / "python"
    if not python.exists():
        print("creating bench/.venv-hf with huggingface_hub and gradio (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(HF_VENV)], check=True)
        install = [str(python), "-m", "pip", "install", "-q", "huggingface_hub", "gradio"]
        subprocess.run(install, check=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/webhook"
    env = {
        "PATH": os.environ["PATH"],
        "BENCH_SECRET": SECRET,
        "BENCH_PORT": str(port),
        # No share link, no analytics, no telemetry: nothing leaves this machine.
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_EXPERIMENTAL_WARNING": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    rows = []
    for name, body in (("WebhooksServer, mention", mention), ("WebhooksServer, ignored", IGNORED)):
        with started([str(python), str(HERE / "hf_server.py")], env, url) as server:
            rows.append(Row("other", name, server, load.measure(url, body, SECRET, seconds)))
    return rows


if __name__ == "__main__":
    main()
