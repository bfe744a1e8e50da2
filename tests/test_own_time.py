"""The bot's own time per reply: elapsed time less the waits on the Hub and the model."""

from __future__ import annotations

import asyncio

import pytest

from bot import own_time


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(own_time.time, "perf_counter", fake)
    return fake


def test_overlapping_waits_count_once_and_gaps_count_as_our_own(clock: FakeClock) -> None:
    counter = own_time.OwnTime()
    clock.now = 100.010  # 10 ms of our own work, then two calls in parallel ...
    clock.now = 100.060
    counter.waited(0.050)  # ... one from 10 to 60 ms
    clock.now = 100.070
    counter.waited(0.040)  # ... and one from 30 to 70 ms
    clock.now = 100.075  # 5 ms of our own work, then a call of 20 ms
    clock.now = 100.095
    counter.waited(0.020)
    clock.now = 100.097

    assert counter.seconds() == pytest.approx(0.010 + 0.005 + 0.002)


def test_tasks_started_during_a_reply_add_to_its_count_and_nothing_counts_outside_one() -> None:
    own_time.upstream_waited(1.0)  # outside a reply: nowhere to count, no error

    async def reply() -> own_time.OwnTime:
        counter = own_time.start()

        async def call() -> None:
            own_time.upstream_waited(0.5)

        await asyncio.gather(call(), call())
        return counter

    counter = asyncio.run(reply())
    assert len(counter._waits) == 2
