"""Whether the database answers: one incident logged when it starts and once when it ends,
however many calls fail in between; read by /health and the metrics, which never wait."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger("bot.store")


@dataclass
class StoreHealth:
    """Whether the last call to the database worked."""

    failing_since: float | None = None
    reason: str | None = None
    failures: int = 0
    last_success: float | None = None

    @property
    def ok(self) -> bool:
        return self.failing_since is None

    def failed(self, reason: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
            log.warning("store unavailable: %s (said once, until it recovers)", reason)
        self.reason = reason
        self.failures += 1

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.warning(
                "store available again after %.0f s (%d failed calls)",
                time.time() - self.failing_since,
                self.failures,
            )
            self.failing_since, self.reason, self.failures = None, None, 0
        self.last_success = time.time()
