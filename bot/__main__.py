"""`python -m bot`: check everything that can be checked, say who the bot is, then serve.

Every startup problem ends the process with one line naming the setting and the fix (exit 1);
a usage mistake exits 2, as argparse does.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys

import uvicorn

from bot.app import create_app, hub_http_client
from bot.config import ConfigError, Settings, load_settings
from bot.errors import BotError
from bot.events import Identity
from bot.hub import HubClient
from bot.logs import configure_logging
from bot.prompts import Prompts
from bot.store import Store
from bot.upstream import RetryPolicy

STARTUP_RETRY_BUDGET = 30.0


async def identify(settings: Settings) -> Identity:
    """Whoami with the token: its id marks the bot's own comments."""
    async with hub_http_client(settings) as http:
        policy = RetryPolicy(budget=min(settings.retry_budget, STARTUP_RETRY_BUDGET))
        account = await HubClient(http, policy).whoami()
    return Identity(id=account.id, name=settings.bot_username or account.name)


def check_data_dir(settings: Settings) -> None:
    try:
        Store.open(settings.database_path).close()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"DATA_DIR {settings.data_dir} cannot hold the database ({exc}):"
            " point DATA_DIR at a writable directory"
        ) from None


def serve() -> int:
    try:
        settings = load_settings()
        configure_logging(settings.log_level, [settings.hf_token, settings.webhook_secret])
        prompts = Prompts(settings.prompts_dir, settings.prompt_template)
        check_data_dir(settings)
        bot = asyncio.run(identify(settings))
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Bot account: {bot.name} (id {bot.id})\n"
        f"Listening for: @{bot.name} in discussions and pull requests\n"
        f"Webhook URL to configure on the Hub: {settings.webhook_url}"
        " (domain: discussion, secret: WEBHOOK_SECRET)",
        flush=True,
    )
    uvicorn.run(
        create_app(settings, bot, prompts),
        host=settings.host,
        port=settings.port,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 5,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer @mentions in Hugging Face Hub discussions. Reads .env.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve the webhook on HOST:PORT (the default)")
    parser.parse_args(argv)
    return serve()


if __name__ == "__main__":
    sys.exit(main())
