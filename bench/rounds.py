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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--postgres", action="store_true", help="the bot on PostgreSQL")
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CORE})
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mention = mention_body(folder)
        _, _, urls = fakes(stack)
        extra = {"DATABASE_URL": postgres(stack)} if args.postgres else {}
        limit_port, bot_port = free_port(), free_port()
        limit_url = f"http://127.0.0.1:{limit_port}/webhook"
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
        stack.enter_context(started(bare_limit(limit_port), env, limit_url))
        bot_url = f"http://127.0.0.1:{bot_port}/webhook"
        bot = [sys.executable, "-m", "bot"]
        stack.enter_context(started(bot, bot_env(*urls, folder, bot_port, **extra), bot_url))
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


if __name__ == "__main__":
    main()
