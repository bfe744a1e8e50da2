"""The state of the Hub webhook that sends to this bot, for the status page.

Whether the Hub suspended it (after failed deliveries) is worth seeing without running
`python -m bot check`. The page never waits for the Hub: it shows what was last learnt and, when
that is older than a minute, asks again in the background.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bot.errors import UpstreamError
from bot.hub.client import HubClient

STALE_AFTER = 60.0


@dataclass(frozen=True)
class WebhookState:
    text: str  # what to show, with the fix when something is wrong
    ok: bool | None  # None: not known (not found among the bot account's webhooks, or unread)
    checked_at: float


class WebhookWatch:
    def __init__(self, hub: HubClient, url: str) -> None:
        self._hub = hub
        self._url = url
        self.state: WebhookState | None = None
        self._asking: asyncio.Task[None] | None = None

    def current(self) -> WebhookState | None:
        """What was last learnt; a background look when it is stale."""
        stale = self.state is None or time.time() - self.state.checked_at > STALE_AFTER
        if stale and (self._asking is None or self._asking.done()):
            self._asking = asyncio.get_running_loop().create_task(self._look())
        return self.state

    async def _look(self) -> None:
        try:
            self.state = describe(await self._hub.webhooks(), self._url)
        except UpstreamError as exc:  # said, not hidden behind "asking" (asked again when stale)
            self.state = WebhookState(f"cannot ask the Hub: {exc.summary()}", None, time.time())

    async def wait(self) -> None:
        """For tests and the page's first view: the look under way, if any, to its end."""
        if self._asking is not None:
            await asyncio.shield(self._asking)


def state_of(webhook: dict[str, Any]) -> str:
    """enabled, disabled, or suspended by the Hub after failed deliveries (with the fix)."""
    disabled = webhook.get("disabled")
    if disabled == "suspended-after-failure":
        return (
            "suspended (the Hub stopped it after failed deliveries: fix the cause, see its"
            f" Activity tab, then python -m bot webhooks enable {webhook.get('id')})"
        )
    return "disabled" if disabled else "enabled"


def describe(hooks: list[dict[str, object]], url: str) -> WebhookState:
    now = time.time()
    mine = [h for h in hooks if str(h.get("url", "")).split("?", 1)[0].rstrip("/") == url]
    if not mine:
        text = (
            "none of the bot account's webhooks sends here; one made from another account is"
            " not visible to the bot (python -m bot check says more)"
        )
        return WebhookState(text, None, now)
    hook = mine[0]
    state = state_of(hook)
    ok = (
        state == "enabled"
        and bool(hook.get("hasSecret"))
        and "discussion" in str(hook.get("domains"))
    )
    problems = []
    if not hook.get("hasSecret"):
        problems.append("has no secret, so every delivery is refused")
    if "discussion" not in str(hook.get("domains")):
        problems.append("does not watch the discussion domain")
    extra = f" ({'; '.join(problems)})" if problems else ""
    return WebhookState(f"{hook.get('id')}: {state}{extra}", ok, now)
