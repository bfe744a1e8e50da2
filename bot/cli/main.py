"""The command line: `python -m bot [COMMAND]`, serving by default.

Exit codes: 0 done, 1 it failed (the one line printed says why and what to do), 2 the command
was mistyped. No traceback ever reaches the operator.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from bot.answer.prompt_folders import prompt_folders
from bot.cli.jobs import add_job_commands
from bot.cli.output import Printer, one_line, printer
from bot.cli.send import add_send_command
from bot.cli.startup import banner, discover, show_banner
from bot.cli.webhooks import add_webhook_commands
from bot.config import Settings, load_settings
from bot.errors import BotError
from bot.logs import configure_logging
from bot.web.app import create_app
from bot.web.server import listen
from bot.web.server import serve as serve_app

log = logging.getLogger("bot")
Command = Callable[[Settings, argparse.Namespace], int]


class ShowVersion(argparse.Action):
    """--version, looked up only when asked: importlib.metadata costs start-up time."""

    def __init__(self, option_strings: list[str], dest: str, **_: object) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, help="show the version")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("hub-discussion-bot")
        except metadata.PackageNotFoundError:  # a checkout that was never installed
            version = "unknown"
        print(f"{parser.prog} {version}")
        parser.exit()


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line that says where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def serve(settings: Settings, args: argparse.Namespace) -> int:
    sock = listen(settings.host, settings.port)  # deliveries wait in its backlog from now on
    prompt_folders(settings.prompt_folder, settings.prompt_sets)  # the templates: once serving
    found = asyncio.run(discover(settings))
    show_banner(banner(settings, found), settings.log_format, printer(settings).say)
    # What exists now lives as long as the process: keep the garbage collector off it.
    gc.freeze()
    # A delivery's objects are freed by reference counting the moment it is answered; a
    # collection every 700 allocations (the default) only costs time: 10-15% of the mentions
    # a second the benchmark measured. Cycles still get collected, 50,000 allocations apart.
    gc.set_threshold(50_000, 10, 10)
    gc.enable()  # off since bot/__main__.py, for a faster start
    # Deliveries are answered first; the prompts are checked and the replies loaded right
    # after (bot/web/replies.py): a template with a mistake stops the bot there, exit 1.
    serve_app(
        lambda stop, stopping: create_app(
            settings, found.bot, route=found.route, on_failure=stop, stopping=stopping
        ),
        settings,
        sock,
    )
    return 0


REPO_PLACEHOLDER = "your-org/your-model"


# check and preview are imported when run: `serve` has no use for them, and starts faster.
def run_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.check import run_checks

    results = asyncio.run(run_checks(settings))
    printer(settings).say("\n".join(result.line() for result in results))
    return 1 if any(result.verdict == "FAIL" for result in results) else 0


def run_preview(settings: Settings, args: argparse.Namespace) -> int:
    if args.automation:
        return run_automation_preview(settings, args)
    if args.payload and args.comment:
        raise BotError("give --comment or --payload, not both")
    from bot.cli.preview import (
        Source,
        discussion_ref,
        mention_from_payload,
        mention_from_text,
        preview,
    )

    if args.discussion:
        source = Source(discussion=discussion_ref(args.discussion), comment=args.comment)
    elif args.payload:
        source = Source(mention_from_payload(Path(args.payload)))
    elif args.comment:
        text, repo, title = args.comment, args.repo, args.title
        mention = mention_from_text(text, repo, title, args.pull_request)
        source = Source(mention, follow_up=args.follow_up)
    else:
        raise BotError("preview needs --discussion URL, --comment TEXT or --payload FILE")
    printer(settings).say(asyncio.run(preview(settings, source, args.generate)))
    return 0


def run_automation_preview(settings: Settings, args: argparse.Namespace) -> int:
    if args.repo == REPO_PLACEHOLDER:
        raise BotError("preview --automation NAME needs --repo ID (the repo that was pushed to)")
    from bot.cli.preview import preview_automation

    printer(settings).say(asyncio.run(preview_automation(settings, args.automation, args.repo)))
    return 0


def build_parser() -> Parser:
    parser = Parser(
        prog="python -m bot",
        description="Answer @mentions in Hugging Face Hub discussions. Reads .env.",
    )
    parser.add_argument("--version", action=ShowVersion)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    serving = commands.add_parser("serve", help="serve the webhook on HOST:PORT (the default)")
    serving.set_defaults(run=serve, needs=("hf_token", "webhook_secret"))

    checking = commands.add_parser(
        "check", help="check the token, model, webhook, prompts and state; posts nothing"
    )
    checking.set_defaults(run=run_check, needs=("hf_token",))

    show = commands.add_parser(
        "preview", help="print the prompt (and with --generate the reply) without posting"
    )
    source = show.add_mutually_exclusive_group()
    source.add_argument("--payload", help="a saved webhook payload (JSON file)")
    source.add_argument(
        "--discussion",
        metavar="URL",
        help="a Hub discussion or pull request: its thread, repo facts, card and changes are read",
    )
    show.add_argument(
        "--comment", help="the comment answered (with --discussion: added after the thread)"
    )
    source.add_argument(
        "--automation", metavar="NAME", help="what automation rule NAME would do for --repo"
    )
    show.add_argument(
        "--repo", default=REPO_PLACEHOLDER, help="repo name for --comment or --automation"
    )
    show.add_argument("--title", default="A question", help="discussion title for --comment")
    show.add_argument("--pull-request", action="store_true", help="treat --comment as in a PR")
    show.add_argument("--generate", action="store_true", help="also call the model")
    show.add_argument(
        "--follow-up", action="store_true", help="treat --comment as a follow-up (no mention)"
    )
    show.set_defaults(run=run_preview, needs=("hf_token",))

    add_send_command(commands)
    add_job_commands(commands)
    add_webhook_commands(commands)
    described(parser)
    return parser


def described(parser: argparse.ArgumentParser) -> None:
    """Every command's own --help opens with the line the list of commands shows for it,
    unless it has a longer description of its own."""
    for action in parser._actions:  # argparse keeps its subcommands here, and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                command = action.choices[listed.dest]
                command.description = command.description or listed.help
                described(command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command = getattr(args, "run", serve)
    needs = getattr(args, "needs", ("hf_token", "webhook_secret"))
    out = Printer()  # until the settings are read: masks what looks like a token
    try:
        doubts: list[str] = []
        settings = load_settings(required=needs, warn=doubts.append)
        out = printer(settings)
        configure_logging(settings.log_level, settings.secrets, settings.log_format)
        for doubt in doubts:
            log.warning("%s", doubt)
        if run is not serve:  # serve turns it on once started (bot/__main__.py turned it off)
            gc.enable()
        return run(settings, args)
    except BotError as exc:
        # One line per problem: a ConfigError lists every bad setting at once.
        out.error("\n".join(f"error: {one_line(line)}" for line in str(exc).splitlines()))
        return 1
    except Exception as exc:  # a bug: still one line for the operator, the trace in DEBUG logs
        log.debug("unexpected failure", exc_info=True)
        out.error(f"error: unexpected {type(exc).__name__}: {one_line(str(exc))}"
                  " (LOG_LEVEL=DEBUG shows where)")  # fmt: skip
        return 1
