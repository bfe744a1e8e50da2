"""`python -m bot webhooks ...`: the bot's Hub webhooks, managed through the Hub API.

`create` watches the given repos, users or organisations on the discussion domain (and the
repo domain when AUTOMATIONS_FILE has rules), with the bot's webhook URL and WEBHOOK_SECRET.
Nothing printed ever shows the secret.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from bot.cli.output import printer
from bot.config import Settings
from bot.errors import BotError
from bot.hub.client import HubClient
from bot.hub.webhook_watch import state_of
from bot.services.clients import hub_client, hub_http_client
from bot.upstream import RetryPolicy

WATCH_TYPES = ("user", "org", "model", "dataset", "space")
DOMAINS = ("discussion", "repo")


def watched(value: str) -> dict[str, str]:
    """`model:ns/name`, `org:name`, ... as the Hub's `watched` entry."""
    kind, _, name = value.partition(":")
    if kind not in WATCH_TYPES or not name or " " in name:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not TYPE:NAME with TYPE one of {', '.join(WATCH_TYPES)}"
        )
    return {"type": kind, "name": name}


def add_webhook_commands(commands: Any) -> None:
    hooks = commands.add_parser("webhooks", help="create, list and change the bot's Hub webhooks")
    actions = hooks.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the webhooks of the token's account")
    listing.set_defaults(run=_runner(_list), needs=("hf_token",))
    changes = {
        "create": "a webhook that sends mentions to this bot",
        "update": "change a webhook's watched repos, URL or domains",
    }
    for name, helptext in changes.items():
        action = actions.add_parser(name, help=helptext)
        if name == "update":
            action.add_argument("id", help="the webhook's id (see: webhooks list)")
        action.add_argument(
            "--watch",
            type=watched,
            action="append",
            required=name == "create",
            metavar="TYPE:NAME",
            help="what to watch, e.g. model:ns/name or org:name; repeat for more",
        )
        action.add_argument("--url", help="where to send events (default: the bot's webhook URL)")
        action.add_argument(
            "--domain", choices=DOMAINS, action="append", help="default: discussion"
        )
        runner = _create if name == "create" else _update
        action.set_defaults(run=_runner(runner), needs=("hf_token", "webhook_secret"))
    for name in ("enable", "disable", "delete"):
        action = actions.add_parser(name, help=f"{name} a webhook")
        action.add_argument("id", help="the webhook's id (see: webhooks list)")
        action.set_defaults(run=_runner(_switch), needs=("hf_token",))


def describe(webhook: dict[str, Any]) -> str:
    watched_text = ",".join(
        f"{w.get('type')}:{w.get('name')}"
        for w in webhook.get("watched", [])
        if isinstance(w, dict)
    )
    target = webhook.get("url") or f"job {webhook.get('jobSourceId', '?')}"
    domains = ",".join(webhook.get("domains", []))
    secret = "" if webhook.get("hasSecret", True) else "  no secret (every delivery is refused)"
    line = f"{webhook.get('id')}  {state_of(webhook)}  {target}  watched={watched_text}"
    return f"{line}  domains={domains}{secret}"


def reachable(url: str) -> str:
    """The bot's own webhook URL, if the Hub could call it: a local or plain-http address is
    refused here, and taken only when given explicitly with --url."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname in ("localhost", "127.0.0.1", "::1", "0.0.0.0"):  # noqa: S104
        raise BotError(
            f"the bot's webhook URL is {url}, which the Hub cannot call: set PUBLIC_URL to its"
            " public https address (the Space's URL, or a tunnel's), or give --url explicitly"
        )
    return url


Action = Callable[[HubClient, Settings, argparse.Namespace], Awaitable[str]]


def _runner(action: Action) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        printer(settings).say(asyncio.run(_with_hub(settings, args, action)))
        return 0

    return run


async def _with_hub(settings: Settings, args: argparse.Namespace, action: Action) -> str:
    async with hub_http_client(settings) as http:
        return await action(
            hub_client(settings, http, RetryPolicy(budget=settings.retry_budget)), settings, args
        )


async def _list(hub: HubClient, settings: Settings, args: argparse.Namespace) -> str:
    found = await hub.webhooks()
    return "\n".join(describe(w) for w in found) if found else "no webhooks"


def default_domains(settings: Settings) -> list[str]:
    """The discussion domain, and the repo domain too when automation rules need it."""
    from bot.automations.rules import AutomationsError, load_rules  # only when there are rules

    try:
        rules = load_rules(settings.automations_path)
    except AutomationsError:
        rules = None  # `check` says what is wrong with the file; the webhook still answers
    return ["discussion", "repo"] if rules else ["discussion"]


async def _create(hub: HubClient, settings: Settings, args: argparse.Namespace) -> str:
    body = {
        "watched": args.watch,
        "domains": args.domain or default_domains(settings),
        "url": args.url or reachable(settings.webhook_url),
        "secret": settings.shared_secret.get_secret_value(),
    }
    return "created " + describe(await hub.change_webhook(None, body))


async def _update(hub: HubClient, settings: Settings, args: argparse.Namespace) -> str:
    current = await hub.webhook(args.id)
    body = {
        "watched": args.watch or current.get("watched", []),
        "domains": args.domain or current.get("domains", ["discussion"]),
        "url": args.url or current.get("url") or settings.webhook_url,
        "secret": settings.shared_secret.get_secret_value(),
    }
    return "updated " + describe(await hub.change_webhook(args.id, body))


async def _switch(hub: HubClient, settings: Settings, args: argparse.Namespace) -> str:
    if args.action == "delete":
        await hub.delete_webhook(args.id)
        return f"deleted {args.id}"
    return f"{args.action}d " + describe(
        await hub.change_webhook(args.id, action=f"/{args.action}")
    )
