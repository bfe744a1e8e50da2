"""What `python -m bot` finds out before it serves: who the bot is, how its model is reached,
and where its state lives (the store is opened, and migrated, once here).

Both are asked at once, each within a short retry budget. A definite "no" stops the start with
one line (a rejected token, a model nothing serves); "cannot tell now" (the Hub unreachable)
only warns: the bot serves, and asks again before it needs the answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import TransientError, UpstreamError
from bot.events import Identity
from bot.hub import HubClient, Whoami
from bot.routing import Route
from bot.services import find_route, hub_client, hub_http_client
from bot.store import open_store
from bot.store.location import lost_at_restart
from bot.upstream import RetryPolicy

STARTUP_RETRY_BUDGET = 10.0
log = logging.getLogger("bot")


@dataclass(frozen=True)
class Found:
    bot: Identity | None
    route: Route | None
    state: str = ""


async def discover(settings: Settings) -> Found:
    store = await open_store(settings)  # a store that cannot be opened stops the start
    await store.close()
    async with hub_http_client(settings) as hub_http:
        budget = min(settings.retry_budget, STARTUP_RETRY_BUDGET)
        hub = hub_client(settings, hub_http, RetryPolicy(budget=budget))
        bot, route = await asyncio.gather(
            identify(settings, hub), locate(settings, hub), return_exceptions=True
        )
    for outcome in (bot, route):  # the token's verdict first: it explains the rest
        if isinstance(outcome, BaseException):
            raise outcome
    assert not isinstance(bot, BaseException) and not isinstance(route, BaseException)
    return Found(bot, route, store.where)


async def identify(settings: Settings, hub: HubClient) -> Identity | None:
    """Whoami with the token, or None when the Hub cannot be reached right now."""
    try:
        return await Whoami(hub, settings.bot_username, None).get()
    except TransientError as exc:
        log.warning("cannot identify the bot yet (%s); will ask again before each delivery", exc)
        return None


async def locate(settings: Settings, hub: HubClient) -> Route | None:
    """The model's route, or None when the Hub cannot be asked right now. NotServed (a definite
    answer) is raised."""
    try:
        return await find_route(settings, hub)
    except UpstreamError as exc:
        log.warning(
            "cannot ask the Hub how %s is served (%s); will ask again before the first reply",
            settings.model_id,
            exc,
        )
        return None


def banner(settings: Settings, found: Found) -> str:
    bot, route = found.bot, found.route
    account = f"{bot.name} (id {bot.id})" if bot else "unknown until the Hub answers whoami"
    handle = bot.handle if bot else settings.bot_username or "<account name>"
    model = route.describe() if route else f"{settings.model_id} (how it is served: asked again)"
    lost = lost_at_restart(settings)
    state = f"{found.state} (warning: {lost})" if lost else found.state
    return (
        f"Bot account: {account}\n"
        f"Listening for: @{handle} in discussions and pull requests\n"
        f"Model: {model}\n"
        f"State: {state}\n"
        f"Webhook URL to configure on the Hub: {settings.webhook_url}"
        " (domain: discussion, secret: WEBHOOK_SECRET)"
    )
