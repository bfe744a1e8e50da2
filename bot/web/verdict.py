"""The status page's first line: one verdict on whether the bot is answering, and the problems
behind it, worst first, each linked to the card that says more.

    bad   something stops deliveries being recorded or mentions being answered now
    warn  it answers, but something will bite (no webhook found, a local URL, state lost at
          the next restart, the page could not read the store)
    ok    nothing to do
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.hub.webhook_watch import WebhookState
from bot.metrics import UpstreamHealth
from bot.store import Store

Level = Literal["ok", "warn", "bad"]


@dataclass(frozen=True)
class Problem:
    level: Level
    text: str
    card: str  # the id of the card that says more


@dataclass(frozen=True)
class Verdict:
    level: Level
    headline: str
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Seen:
    """What the page knows as it renders."""

    store: Store
    identified: bool
    webhook: WebhookState | None
    local_url: bool
    upstreams: dict[str, UpstreamHealth]
    state_lost: str | None
    unreadable: str | None  # why the page could not read the store, if it could not


def problems_in(seen: Seen) -> list[Problem]:
    found: list[Problem] = []
    if not seen.store.health.ok:
        found.append(
            Problem("bad", "deliveries are refused: the store cannot record them", "state")
        )
    if seen.store.claims_failing:
        text = "mentions are recorded but not answered: the worker cannot claim jobs"
        found.append(Problem("bad", text, "state"))
    for name, card in (("model", "health-model"), ("Hub", "health-hub")):
        if seen.upstreams[name].state == "failing":
            found.append(Problem("bad", f"the {name}'s last call failed", card))
    if seen.webhook is not None and seen.webhook.ok is False:
        found.append(Problem("bad", f"the Hub webhook: {seen.webhook.text}", "webhook"))
    if not seen.identified:
        text = "the bot does not know its account yet (whoami has not answered)"
        found.append(Problem("warn", text, "account"))
    if seen.local_url:
        text = "the webhook URL is a local address the Hub cannot reach (set PUBLIC_URL)"
        found.append(Problem("warn", text, "webhook"))
    elif seen.webhook is not None and seen.webhook.ok is None:
        found.append(Problem("warn", f"the Hub webhook: {seen.webhook.text}", "webhook"))
    if seen.state_lost:
        found.append(Problem("warn", "jobs will not survive a restart", "state"))
    if seen.unreadable:
        found.append(Problem("warn", "this page could not read the store", "state"))
    return found


def verdict(seen: Seen) -> Verdict:
    found = problems_in(seen)
    bad = [p for p in found if p.level == "bad"]
    if bad:
        return Verdict("bad", f"Not working: {bad[0].text}", found)
    if found:
        count = f"{len(found)} warning{'s' if len(found) > 1 else ''}"
        return Verdict("warn", f"Working, with {count}", found)
    return Verdict("ok", "Working: deliveries are recorded and mentions answered", found)
