"""The mention's rate and p99 against the limit, in interleaved rounds: the limit and the bot
are started once, then each round runs the limit and the bot back to back, and each ratio is
to the limit's run just before it. On a shared machine the limit measured once, minutes before
a row, says little about that row; the median over rounds is the steadier figure.

    python bench/rounds.py [--rounds 6] [--seconds 3] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load
from bench.servers import (
    FIXTURE_COMMENT,
    IGNORED,
    LOAD_CORE,
    MENTION,
    ROOT,
    SECRET,
    TOKEN,
    bare_limit,
    bot_env,
    started,
)
from tests.fakes import FakeHub, FakeModel, free_port, serve_in_thread
from tests.postgres import PostgresServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--postgres", action="store_true", help="the bot on PostgreSQL")
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CORE})
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mention = folder / "mention.json"
        mention.write_text(MENTION.read_text().replace(FIXTURE_COMMENT, "COMMENT_ID"))
        hub, model = FakeHub(token=TOKEN), FakeModel()
        urls = (
            stack.enter_context(serve_in_thread(hub.app)),
            stack.enter_context(serve_in_thread(model.app)),
        )
        model.latency = 600  # as in run.py: jobs wait on the model rather than use the core
        extra = {}
        if args.postgres:
            server = PostgresServer()
            stack.callback(server.remove)
            server.start(durable=True)
            extra["DATABASE_URL"] = server.new_database()
        limit_url = f"http://127.0.0.1:{free_port()}/webhook"
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
        stack.enter_context(started(bare_limit(_port(limit_url)), env, limit_url))
        bot_url = f"http://127.0.0.1:{free_port()}/webhook"
        bot_env_ = bot_env(*urls, folder, _port(bot_url), **extra)
        stack.enter_context(started([sys.executable, "-m", "bot"], bot_env_, bot_url))
        rates, p99s = _rounds(limit_url, bot_url, mention, args.rounds, args.seconds)
    print(
        f"median over {args.rounds} rounds: new mention {statistics.median(rates):.2f} x the"
        f" limit's rate, p99 {statistics.median(p99s):.2f} x the limit's p99"
    )


def _rounds(
    limit_url: str, bot_url: str, mention: Path, rounds: int, seconds: float
) -> tuple[list[float], list[float]]:
    load.run_wrk(limit_url, IGNORED, SECRET, 2, False)  # warm-up, as in load.measure
    load.run_wrk(bot_url, mention, SECRET, 2, True)
    rates, p99s = [], []
    for number in range(1, rounds + 1):
        limit = load.run_wrk(limit_url, IGNORED, SECRET, seconds, False)
        bot = load.run_wrk(bot_url, mention, SECRET, seconds, True)
        rates.append(bot.requests_per_s / limit.requests_per_s)
        p99s.append(bot.p99_ms / limit.p99_ms)
        print(
            f"round {number}: limit {limit.requests_per_s}/s p99 {limit.p99_ms} ms;"
            f" bot {bot.requests_per_s}/s p99 {bot.p99_ms} ms, non-2xx {bot.non_2xx};"
            f" {rates[-1]:.2f} x, p99 {p99s[-1]:.2f} x",
            flush=True,
        )
    return rates, p99s


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


if __name__ == "__main__":
    main()
