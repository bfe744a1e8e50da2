"""What the bot counts: Prometheus metrics for GET /metrics, and the health of each upstream.

Each app gets its own registry, so two bots in one process (as in the tests) never share
counts. Labels are short codes, never free text, so their number stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot import own_time
from bot.store import Store

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OWN_TIME_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


@dataclass
class UpstreamHealth:
    """The latest outcome of calls to one upstream, for the status page."""

    last_success: float | None = None
    last_failure: float | None = None
    last_failure_reason: str | None = None
    failing_since: float | None = None  # the first failure after the last success

    @property
    def state(self) -> str:
        """ "working" (the last call succeeded), "failing" (it failed), or "unknown" (none yet)."""
        if self.last_failure is None:
            return "working" if self.last_success is not None else "unknown"
        if self.last_success is not None and self.last_success > self.last_failure:
            return "working"
        return "failing"


@dataclass
class Rejected:
    """Deliveries refused for their secret: how many since the start, and the last one."""

    count: int = 0
    last: float | None = None


class Metrics:
    def __init__(self, redact: Callable[[str], str] = str) -> None:
        self._redact = redact
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "bot_deliveries",
            "Webhook deliveries, by outcome and, for ignored ones, the reason's code",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "bot_jobs", "Job attempts, by how they ended", ["outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "bot_upstream_call_seconds",
            "Time of each call to the Hub or the model",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.own_time = Histogram(
            "bot_reply_own_seconds",
            "The bot's own time per posted reply: claim to comment, less Hub and model calls",
            buckets=OWN_TIME_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "bot_queue_depth", "Jobs waiting or running", registry=self.registry
        )
        self.oldest_job_age = Gauge(
            "bot_oldest_job_age_seconds",
            "Age of the oldest unfinished job (0 when there is none)",
            registry=self.registry,
        )
        self._delivery_counters: dict[tuple[str, str], Counter] = {}
        self.rejected = Rejected()
        self.health: dict[str, UpstreamHealth] = {
            "Hub": UpstreamHealth(),
            "model": UpstreamHealth(),
        }

    def watch(self, store: Store) -> None:
        """Show the queue as the store's upkeep last counted it: a scrape never waits on it."""
        self.queue_depth.set_function(lambda: store.depth_now)
        self.oldest_job_age.set_function(lambda: store.oldest_age_now)

    def delivery(self, outcome: str, reason: str = "") -> None:
        # The labelled counter is looked up once per kind: on a flood this is per request.
        counter = self._delivery_counters.get((outcome, reason))
        if counter is None:
            counter = self._delivery_counters[outcome, reason] = self.deliveries.labels(
                outcome, reason
            )
        counter.inc()
        if outcome == "unauthorised":
            self.rejected.count += 1
            self.rejected.last = time.time()

    def job(self, outcome: str) -> None:
        self.jobs.labels(outcome).inc()

    def observe(self, service: str, seconds: float, failure: str | None) -> None:
        self.latency.labels(service).observe(seconds)
        own_time.upstream_waited(seconds)
        health = self.health.setdefault(service, UpstreamHealth())
        if failure is None:
            health.last_success, health.failing_since = time.time(), None
        else:
            health.last_failure = time.time()
            health.last_failure_reason = self._redact(failure)
            health.failing_since = health.failing_since or health.last_failure

    def render(self) -> bytes:
        return generate_latest(self.registry)
