"""The bot's own time on a reply: from the claimed job to the posted comment, less the time spent
waiting on the Hub and the model.

That is what our code costs per reply (the store, parsing, the prompt, cleaning); the rest belongs
to the network and the model, and is measured per call in `bot_upstream_call_seconds`. Waits
that overlap (the discussion and the repo are read in parallel) are counted once.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

_current: ContextVar[OwnTime | None] = ContextVar("own_time", default=None)


class OwnTime:
    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._waits: list[tuple[float, float]] = []

    def waited(self, seconds: float) -> None:
        now = time.perf_counter()
        self._waits.append((now - seconds, now))

    def seconds(self) -> float:
        elapsed = time.perf_counter() - self._started
        waited, reached = 0.0, self._started
        for start, end in sorted(self._waits):
            start = max(start, reached)
            if end > start:
                waited += end - start
                reached = end
        return max(0.0, elapsed - waited)


def start() -> OwnTime:
    """Start counting for the current task; tasks it starts share the count."""
    clock = OwnTime()
    _current.set(clock)
    return clock


def upstream_waited(seconds: float) -> None:
    """A call to the Hub or the model took this long (nothing happens outside a reply)."""
    if clock := _current.get():
        clock.waited(seconds)
