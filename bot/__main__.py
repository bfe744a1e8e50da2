"""`python -m bot`: check everything that can be checked, say who the bot is, then serve.

Every startup problem ends the process with one line naming the setting and the fix (exit 1);
a usage mistake exits 2, as argparse does. A Hub that cannot be reached is not fatal: the bot
serves and asks again before handling deliveries. A rejected token is fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import sys
from pathlib import Path

import uvicorn

from bot.app import create_app, hub_http_client
from bot.config import ConfigError, Settings, load_settings
from bot.errors import BotError, TransientError
from bot.events import Identity
from bot.hub import HubClient, Whoami
from bot.logs import configure_logging
from bot.preview import mention_from_payload, mention_from_text, preview
from bot.prompts import Prompts
from bot.store import Store
from bot.upstream import RetryPolicy

STARTUP_RETRY_BUDGET = 10.0
log = logging.getLogger("bot")


async def identify(settings: Settings) -> Identity | None:
    """Whoami with the token, or None when the Hub cannot be reached right now."""
    async with hub_http_client(settings) as http:
        policy = RetryPolicy(budget=min(settings.retry_budget, STARTUP_RETRY_BUDGET))
        try:
            return await Whoami(HubClient(http, policy), settings.bot_username, None).get()
        except TransientError as exc:
            log.warning(
                "cannot identify the bot yet (%s); will ask again before each delivery", exc
            )
            return None


def open_store(settings: Settings) -> Store:
    try:
        return Store.open(settings.database_path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"DATA_DIR {settings.data_dir} cannot hold the database ({exc}):"
            " point DATA_DIR at a writable directory"
        ) from None


def serve(settings: Settings) -> int:
    prompts = Prompts(settings.prompts_dir, settings.prompt_sets)
    open_store(settings).close()
    bot = asyncio.run(identify(settings))
    account = f"{bot.name} (id {bot.id})" if bot else "unknown until the Hub answers whoami"
    handle = bot.handle if bot else settings.bot_username or "<account name>"
    print(
        f"Bot account: {account}\n"
        f"Listening for: @{handle} in discussions and pull requests\n"
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


def retry_job(settings: Settings, comment_id: str) -> int:
    store = open_store(settings)
    try:
        if not store.force(comment_id):
            print(f"error: no job for comment {comment_id}, or it is running now", file=sys.stderr)
            return 1
    finally:
        store.close()
    print(f"queued a fresh answer to comment {comment_id}")
    return 0


def run_preview(settings: Settings, args: argparse.Namespace) -> int:
    if args.payload:
        mention = mention_from_payload(Path(args.payload))
    else:
        mention = mention_from_text(args.comment, args.repo, args.title, args.pull_request)
    print(asyncio.run(preview(settings, mention, args.generate)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer @mentions in Hugging Face Hub discussions. Reads .env.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve the webhook on HOST:PORT (the default)")
    retry = commands.add_parser(
        "retry", help="answer a comment again, even one already answered or given up on"
    )
    retry.add_argument("comment_id", help="the id of the comment that mentioned the bot")
    show = commands.add_parser(
        "preview", help="print the prompt (and with --generate the reply) without posting"
    )
    source = show.add_mutually_exclusive_group(required=True)
    source.add_argument("--comment", help="the text of a comment that mentions the bot")
    source.add_argument("--payload", help="a saved webhook payload (JSON file)")
    show.add_argument("--repo", default="your-org/your-model", help="repo name for --comment")
    show.add_argument("--title", default="A question", help="discussion title for --comment")
    show.add_argument("--pull-request", action="store_true", help="treat --comment as in a PR")
    show.add_argument("--generate", action="store_true", help="also call the model")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(
            settings.log_level, [settings.hf_token, settings.webhook_secret, settings.model_token]
        )
        if args.command == "retry":
            return retry_job(settings, args.comment_id)
        if args.command == "preview":
            return run_preview(settings, args)
        return serve(settings)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
