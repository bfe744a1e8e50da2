"""What `python -m bot` finds out before it serves: who the bot is, how its model is reached,
and where its state lives (the store is opened, migrated and tried with a write that changes
nothing, once here).

All three at once: the Hub is asked twice, each within a short retry budget, while the store is
opened. A store that cannot be written stops the start, and so does a definite "no" from the
Hub (a rejected token, a model nothing serves), with one line; "cannot tell now" (the Hub
unreachable) only warns: the bot serves, and asks again before it needs the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.config import Settings
from bot.errors import StoreUnavailable, TransientError, UpstreamError
from bot.events import Identity
from bot.hub.client import HubClient, Whoami
from bot.inference.routing import Route
from bot.services.clients import hub_client, hub_http_client
from bot.services.options import find_route, store_options
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
    """The store tried, who the bot is and how its model is reached, all at once: the store
    is opened while the Hub's answers are on their way."""
    async with hub_http_client(settings) as hub_http:
        budget = min(settings.retry_budget, STARTUP_RETRY_BUDGET)
        hub = hub_client(settings, hub_http, RetryPolicy(budget=budget))
        asked = asyncio.gather(
            identify(settings, hub), locate(settings, hub), return_exceptions=True
        )
        try:
            state = await try_store(settings)  # its verdict first: every delivery would get 503
        except BaseException:
            asked.cancel()  # no need to wait out the Hub's retries to say so
            with contextlib.suppress(asyncio.CancelledError):
                await asked
            raise
        bot, route = await asked
    for outcome in (bot, route):  # the token's verdict first: it explains the rest
        if isinstance(outcome, BaseException):
            raise outcome
    assert not isinstance(bot, BaseException) and not isinstance(route, BaseException)
    return Found(bot, route, state)


async def try_store(settings: Settings) -> str:
    """Open (and migrate) the store and try a write that changes nothing; where it lives. A
    store that cannot be opened, or written, stops the start."""
    store = await open_store(store_options(settings))
    try:
        await store.check_writable()
    except StoreUnavailable as exc:
        raise StoreUnavailable(f"{exc}: {store.write_fix}") from None
    finally:
        await store.close()
    return store.where


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


def banner(settings: Settings, found: Found) -> dict[str, str]:
    """What the bot says as it starts, by name: who it is, what it listens for, its model,
    where its state lives, and where to point the webhook and look at its status."""
    bot, route = found.bot, found.route
    handle = bot.handle if bot else settings.bot_username or "<account name>"
    token = " (with ?token=<STATUS_TOKEN>)" if settings.status_token else ""
    said = {
        "Bot account": f"{bot.name} (id {bot.id})" if bot else "unknown until the Hub answers",
        "Listening for": f"@{handle} in discussions and pull requests",
        "Model": route.describe()
        if route
        else f"{settings.model_id} (how it is served: asked again)",
        "State": found.state,
        "Webhook URL to configure on the Hub": f"{settings.webhook_url}"
        " (domain: discussion, secret: WEBHOOK_SECRET)",
        "Status page": settings.webhook_url.removesuffix("webhook") + token,
    }
    if lost := lost_at_restart(store_options(settings).sqlite_dir, settings.space_host):
        said["Warning"] = f"state will not survive a restart: {lost}"
    if urlsplit(settings.webhook_url).hostname in ("localhost", "127.0.0.1", "::1"):
        said["Warning about the webhook URL"] = (
            "the Hub cannot reach a local address: set PUBLIC_URL to the bot's public address"
            " (a tunnel, or the Space's URL)"
        )
    return said


def show_banner(said: dict[str, str], form: str, say: Callable[[str], None] = print) -> None:
    """Through `say` (the command line's printer): `Name: value` lines, or one JSON object when
    LOG_FORMAT=json."""
    if form == "json":
        say(json.dumps({"event": "started", **said}))
    else:
        say("\n".join(f"{name}: {value}" for name, value in said.items()))
