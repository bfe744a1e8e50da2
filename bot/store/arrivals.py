"""What each mention of a batch is, decided without the database: new, a duplicate, a replay
of a failed job, or refused because the queue is full (`classify`), from what the database
holds about the batch (`Known`) and the queue's depth as last counted (`DepthCount`).
bot.store.enqueue reads `Known` in one statement, and writes what `classify` decided.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.store.records import REPLAYABLE, Enqueue, EnqueueOutcome, JobStatus


class Arrival(StrEnum):
    """What an incoming mention is, given what the store holds and the batch before it."""

    NEW = "new"  # a job to make
    DUPLICATE = "duplicate"  # of a job that is waiting, running or done
    REPLAY = "replay"  # of a job that failed or died: queued again, at once
    FULL = "full"  # new, but the queue is at its cap: refused


OUTCOMES = {
    Arrival.NEW: EnqueueOutcome.QUEUED,
    Arrival.REPLAY: EnqueueOutcome.QUEUED,
    Arrival.DUPLICATE: EnqueueOutcome.DUPLICATE,
    Arrival.FULL: EnqueueOutcome.FULL,
}


@dataclass(frozen=True)
class Verdict:
    arrival: Arrival
    comment_id: str  # the comment whose job the mention belongs to (its own, unless a duplicate)


@dataclass
class Known:
    """What the database holds about a batch, read in one statement."""

    now: float  # the database's clock
    jobs: dict[str, tuple[int, JobStatus]]  # by comment id: job number and status
    deliveries: dict[str, str]  # Webhook-Id -> the comment id of its job


@dataclass
class DepthCount:
    """The queue depth for backpressure. Counting is O(queue), so the count is kept and this
    process's inserts added to it; it is counted again when a batch could bring it near a cap
    (where being exact matters), or after `max_age` seconds (to see other processes' inserts
    and claims)."""

    count: int = 0
    counted_at: float = float("-inf")  # time.monotonic(): this process's own measure
    max_age: float = 5.0

    def due(self, items: Sequence[Enqueue]) -> bool:
        caps = [item.max_depth for item in items if item.max_depth is not None]
        if not caps:
            return False
        near = self.count + len(items) >= min(caps) * 0.9
        return near or time.monotonic() - self.counted_at > self.max_age

    def counted(self, count: int) -> None:
        self.count, self.counted_at = count, time.monotonic()


def classify(items: list[Enqueue], known: Known, depth: DepthCount) -> list[Verdict]:
    """What each mention is. A comment (or Webhook-Id) seen before is a duplicate unless its
    job failed or died; a new one is refused when its queue cap is reached."""
    status = {comment: state for comment, (_, state) in known.jobs.items()}
    deliveries = dict(known.deliveries)
    verdicts = []
    for item in items:
        comment = item.mention.comment_id
        seen = deliveries.get(item.webhook_id) if item.webhook_id else None
        seen = seen or (comment if comment in status else None)
        if seen is None and item.max_depth is not None and depth.count >= item.max_depth:
            verdicts.append(Verdict(Arrival.FULL, comment))
            continue  # refused: its Webhook-Id is not kept
        if seen is None:
            verdict = Verdict(Arrival.NEW, comment)
            depth.count += 1
        elif status[seen] in REPLAYABLE:
            verdict = Verdict(Arrival.REPLAY, seen)
        else:
            verdict = Verdict(Arrival.DUPLICATE, seen)
        status[verdict.comment_id] = JobStatus.QUEUED  # unfinished now: again is a duplicate
        if item.webhook_id:
            deliveries.setdefault(item.webhook_id, verdict.comment_id)
        verdicts.append(verdict)
    return verdicts
