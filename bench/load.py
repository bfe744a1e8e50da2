"""Load from wrk, on the load core: requests per second, p50, p99 and the answers that were not
2xx, the best of a few runs after a warm-up (on a shared machine the best run is the one least
disturbed by neighbours)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.servers import HERE, LOAD_CORE, cpu_seconds

CONNECTIONS = 64
REPEATS = 3
_runs = itertools.count(1)


@dataclass
class Load:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    # The server's own CPU time (all its threads) per request: steadier than requests/s on a
    # machine shared with other work, which takes turns on the server's core.
    cpu_us_per_request: float = 0.0


def measure(
    url: str, body: Path, secret: str, seconds: float, unique: bool = False, pid: int = 0
) -> Load:
    run_wrk(url, body, secret, 2, unique)
    runs = []
    for _ in range(REPEATS):
        before = cpu_seconds(pid)
        run = run_wrk(url, body, secret, seconds, unique)
        run.cpu_us_per_request = round((cpu_seconds(pid) - before) / max(run.requests, 1) * 1e6, 1)
        runs.append(run)
    return max(runs, key=lambda load: load.requests_per_s)


def run_wrk(url: str, body: Path, secret: str, seconds: float, unique: bool) -> Load:
    env = {
        **os.environ,
        "BENCH_BODY": str(body),
        "BENCH_SECRET": secret,
        "BENCH_UNIQUE": "1" if unique else "0",
        "BENCH_RUN": str(next(_runs)),
        "BENCH_PATH": urlsplit(url).path,  # wrk.format needs it: it ignores the URL's path
    }
    command = [
        "taskset", "-c", str(LOAD_CORE), "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{round(seconds)}s",
        "--latency", "-s", str(HERE / "post.lua"), url,
    ]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Load(
        requests=int(_found(r"(\d+) requests in", out)),
        requests_per_s=round(float(_found(r"Requests/sec:\s+([\d.]+)", out))),
        p50_ms=_percentile(out, "50"),
        p99_ms=_percentile(out, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def _found(pattern: str, out: str) -> str:
    match = re.search(pattern, out)
    if match is None:
        raise SystemExit(f"wrk said something unexpected:\n{out}")
    return match.group(1)


def _percentile(out: str, which: str) -> float:
    value = _found(rf"\s{which}%\s+([\d.]+(?:us|ms|s))", out)
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)
