"""Benchmarks: the bot's POST /webhook against baselines, in one run on one machine.

    python bench/run.py [--seconds 5] [--skip-hf]

(a) a bare Starlette + uvicorn handler that reads the body and answers 202: the limit;
(b) the bot, with a new mention (its durable insert included) and with an ignored comment;
(c) huggingface_hub's WebhooksServer doing the same filter, in its own virtualenv.
Each server gets core 0 (taskset); wrk and the fakes get core 1. wrk runs at 16 and 64
connections after a warm-up. Then an end-to-end figure: N mentions through a fake model that
takes L seconds, at CONCURRENCY K, against the ideal ceil(N/K) * L. Results go to the terminal
and to bench/results/latest.json and latest.md. Ratios matter, not absolute numbers: this
machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import FakeHub, FakeModel, free_port, serve_in_thread  # noqa: E402

SECRET = "bench-secret-0123456789"
TOKEN = "hf_test_token_0123456789abcdef"
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
HF_VENV = HERE / ".venv-hf"
FIXTURE_COMMENT = "6398872887bfcfb93a306f18"
SERVER_CORE, LOAD_CORE = "0", "1"
REPEATS = 3


@dataclass
class Load:
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


@dataclass
class Result:
    name: str
    start_to_first_2xx_s: float
    idle_rss_mb: float
    loads: list[Load] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


@contextmanager
def server(command: list[str], env: dict[str, str], url: str, body: bytes) -> Iterator[Result]:
    """Start a server on the server core; time it to its first 2xx; stop it afterwards."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *command], env=env, stdout=log, stderr=log, cwd=ROOT
        )
        try:
            yield _first_answer(process, log, command, url, body, started)
        finally:
            process.kill()
            process.wait()


def _first_answer(
    process: subprocess.Popen[bytes],
    log: IO[bytes],
    command: list[str],
    url: str,
    body: bytes,
    started: float,
) -> Result:
    """Poll (5 ms apart) until the server's first 2xx: the start-up time, then its idle RSS."""
    headers = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
    deadline = started + 120
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise SystemExit(f"{command} exited:\n{log.read().decode()[-3000:]}")
        try:
            if httpx.post(url, content=body, headers=headers, timeout=2).is_success:
                break
        except httpx.TransportError:
            pass
        if time.perf_counter() > deadline:
            raise SystemExit(f"{command} never answered 2xx")
        time.sleep(0.005)
    first = time.perf_counter() - started
    time.sleep(1)  # let it settle before reading its idle memory
    return Result(command[-1], round(first, 3), round(rss_mb(process.pid), 1))


def run_wrk(url: str, body_file: Path, connections: int, seconds: float, unique: bool) -> Load:
    env = {
        **os.environ,
        "BENCH_BODY": str(body_file),
        "BENCH_SECRET": SECRET,
        "BENCH_UNIQUE": "1" if unique else "0",
        "BENCH_PATH": urlsplit(url).path,  # wrk.format needs it: it ignores the URL's path
    }
    command = [
        "taskset", "-c", LOAD_CORE, "wrk", "-t2", f"-c{connections}", f"-d{round(seconds)}s",
        "--latency", "-s", str(HERE / "post.lua"), url,
    ]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Load(
        connections, round(rps), _percentile(out, "50"), _percentile(out, "99"),
        int(non_2xx.group(1)) if non_2xx else 0,
    )  # fmt: skip


def _percentile(out: str, which: str) -> float:
    value, unit = re.search(rf"\s{which}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def measure(result: Result, url: str, body: Path, seconds: float, unique: bool) -> Result:
    """Warm up, then the best of REPEATS runs at each concurrency: on a shared machine the
    best run is the one least disturbed by neighbours."""
    run_wrk(url, body, 16, 2, unique)
    result.loads = [
        max((run_wrk(url, body, c, seconds, unique) for _ in range(REPEATS)),
            key=lambda load: load.requests_per_s)
        for c in (16, 64)
    ]  # fmt: skip
    return result


def bot_env(hub_url: str, model_url: str, data: Path, port: int, **extra: str) -> dict[str, str]:
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


def hf_python() -> Path:
    python = HF_VENV / "bin" / "python"
    if not python.exists():
        print("creating bench/.venv-hf with huggingface_hub and gradio (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(HF_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "huggingface_hub", "gradio"], check=True
        )
    return python


def end_to_end(
    hub: FakeHub, model: FakeModel, urls: tuple[str, str], n: int, k: int, latency: float
) -> dict[str, float]:
    model.latency = latency
    before = len(hub.comments)
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = bot_env(*urls, Path(data), port, CONCURRENCY=str(k), LOG_LEVEL="WARNING")
        url = f"http://127.0.0.1:{port}/webhook"
        probe = (PAYLOADS / "repo_content_update.json").read_bytes()
        with server([sys.executable, "-m", "bot"], env, url, probe):
            template = (PAYLOADS / "comment_create_mention.json").read_text()
            headers = {"X-Webhook-Secret": SECRET}
            started = time.perf_counter()
            with httpx.Client(timeout=10) as client:
                for i in range(n):
                    body = template.replace(FIXTURE_COMMENT, f"{i + 1:024x}")
                    body = body.replace('"num": 4', f'"num": {1000 + i}')
                    client.post(url, content=body, headers=headers).raise_for_status()
            if not hub.wait_until(lambda: len(hub.comments) - before >= n, timeout=300):
                raise SystemExit("end-to-end: not every mention was answered")
            took = time.perf_counter() - started
    ideal = math.ceil(n / k) * latency
    return {
        "mentions": n,
        "concurrency": k,
        "latency_s": latency,
        "took_s": round(took, 2),
        "ideal_s": ideal,
        "ratio_to_ideal": round(took / ideal, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--skip-hf", action="store_true", help="leave out baseline (c)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    mention_template = Path(tempfile.mkstemp(suffix=".json")[1])
    mention = PAYLOADS / "comment_create_mention.json"
    mention_template.write_text(mention.read_text().replace(FIXTURE_COMMENT, "COMMENT_ID"))
    ignored = PAYLOADS / "comment_create_no_mention.json"
    results: list[Result] = []
    hub, model = FakeHub(token=TOKEN), FakeModel()
    model.latency = 600  # webhook runs: workers wait on the model instead of using the core
    with ExitStack() as stack:
        urls = (
            stack.enter_context(serve_in_thread(hub.app)),
            stack.enter_context(serve_in_thread(model.app)),
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}/webhook"
        uvicorn = [
            *(sys.executable, "-m", "uvicorn", "bench.baseline_app:app"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ]
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
        with server(uvicorn, env, url, mention.read_bytes()) as result:
            result.name = "(a) bare Starlette + uvicorn"
            results.append(measure(result, url, mention, args.seconds, unique=False))
        bot_runs = (
            ("(b) bot, new mention", mention_template, True),
            ("(b) bot, ignored comment", ignored, False),
        )
        for name, body, unique in bot_runs:
            with tempfile.TemporaryDirectory() as data:
                env = bot_env(*urls, Path(data), port, LOG_LEVEL="WARNING")
                with server(
                    [sys.executable, "-m", "bot"], env, url, ignored.read_bytes()
                ) as result:
                    result.name = name
                    results.append(measure(result, url, body, args.seconds, unique))
        if not args.skip_hf:
            hf_url = f"http://127.0.0.1:{port}/webhooks/webhook"
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
            command = [str(hf_python()), str(HERE / "hf_server.py")]
            hf_runs = (
                ("(c) WebhooksServer, mention", mention),
                ("(c) WebhooksServer, ignored comment", ignored),
            )
            for name, body in hf_runs:
                with server(command, env, hf_url, ignored.read_bytes()) as result:
                    result.name = name
                    results.append(measure(result, hf_url, body, args.seconds, unique=False))
        e2e = end_to_end(hub, model, urls, n=40, k=4, latency=0.5)
    report(results, e2e)


def report(results: list[Result], e2e: dict[str, float]) -> None:
    base = results[0]
    rows = [
        "| server | conns | req/s | x (a) | p50 ms | p99 ms | non-2xx | idle RSS MB |"
        " start to 2xx s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for load, base_load in zip(result.loads, base.loads, strict=True):
            ratio = load.requests_per_s / base_load.requests_per_s
            rows.append(
                f"| {result.name} | {load.connections} | {load.requests_per_s:.0f} | {ratio:.2f} |"
                f" {load.p50_ms} | {load.p99_ms} | {load.non_2xx} | {result.idle_rss_mb} |"
                f" {result.start_to_first_2xx_s} |"
            )
    rows.append("")
    rows.append(
        f"End to end: {e2e['mentions']} mentions, model latency {e2e['latency_s']} s, CONCURRENCY"
        f" {e2e['concurrency']}: {e2e['took_s']} s against an ideal of {e2e['ideal_s']} s"
        f" ({e2e['ratio_to_ideal']}x)."
    )
    table = "\n".join(rows)
    print(table)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(f"Measured {stamp} with `python bench/run.py`.\n\n{table}\n")
    data = {"measured": stamp, "results": [asdict(r) for r in results], "end_to_end": e2e}
    (out / "latest.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
