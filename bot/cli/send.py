"""`python -m bot send`: deliver a mention to a running bot the way the Hub does, and say what
happened to it.

    send PAYLOAD.json        a saved delivery (the webhook's Activity tab shows them)
    send --comment "TEXT"    a realistic new-comment delivery, built here: the comment mentions
                             the bot by its real handle (whoami, else BOT_USERNAME)

With --wait it then follows the job in the bot's store until it ends, and prints the reply
as posted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from bot.cli.output import one_line, printer
from bot.config import Settings
from bot.errors import BotError, UpstreamError
from bot.hub.client import Whoami
from bot.services.clients import hub_client, hub_http_client
from bot.services.options import store_options
from bot.store import JobStatus, JobSummary, open_store
from bot.store.records import FINISHED
from bot.upstream import RetryPolicy

WAIT_FOR_REPLY = 60.0  # seconds --wait follows a job
WAIT_FOR_BOT = 10.0  # seconds a bot that is still starting gets to accept the delivery


def add_send_command(commands: Any) -> None:
    sending = commands.add_parser(
        "send", help="deliver a mention to a running bot, as the Hub would, and print the answer"
    )
    source = sending.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "payload", nargs="?", help="a saved delivery, a JSON file (as the Activity tab shows)"
    )
    source.add_argument(
        "--comment", help="the text of a new comment; the bot's handle is put in front if missing"
    )
    sending.add_argument("--repo", default="your-org/your-model", help="for --comment: NS/NAME")
    sending.add_argument(
        "--repo-type", choices=("model", "dataset", "space"), default="model", help="for --comment"
    )
    sending.add_argument("--discussion", type=int, default=1, help="for --comment: its number")
    sending.add_argument("--pull-request", action="store_true", help="for --comment: in a PR")
    sending.add_argument("--url", help="the bot's webhook URL (default: this machine's PORT)")
    sending.add_argument("--webhook-id", help="a Webhook-Id header, to test redeliveries")
    sending.add_argument(
        "--wait", action="store_true", help="follow the job until it ends and print the reply"
    )
    sending.set_defaults(run=send, needs=("webhook_secret",))


def send(settings: Settings, args: argparse.Namespace) -> int:
    say = printer(settings).say
    if args.comment is not None:
        handle = asyncio.run(bot_handle(settings))
        payload = new_comment(args, handle)
        body = json.dumps(payload).encode()
        say(f"sending: {payload['comment']['content']}")
    else:
        body = _read_payload(Path(args.payload))
    url = args.url or f"http://127.0.0.1:{settings.port}/webhook"
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Secret": settings.shared_secret.get_secret_value(),
        "Webhook-Id": args.webhook_id or f"local-send-{secrets.token_hex(8)}",
    }
    response = _post(url, body, headers)
    try:
        answer = response.json()
    except ValueError:
        answer = response.text.strip()
    say(f"{response.status_code} {json.dumps(answer) if not isinstance(answer, str) else answer}")
    if not response.is_success:
        return 1
    if args.wait and isinstance(answer, dict) and answer.get("status") in ("queued", "duplicate"):
        return asyncio.run(_follow(settings, str(answer["id"])))
    return 0


async def bot_handle(settings: Settings) -> str:
    """The handle the bot answers to: BOT_USERNAME, else its account's name."""
    if settings.bot_username:
        return settings.bot_username
    if not settings.hf_token:
        raise BotError("set BOT_USERNAME (or HF_TOKEN) so that send knows the bot's handle")
    async with hub_http_client(settings) as http:
        try:
            found = await Whoami(
                hub_client(settings, http, RetryPolicy(budget=2)), None, None
            ).get()
        except UpstreamError as exc:
            raise BotError(f"cannot ask the Hub who the bot is ({exc.summary()})") from None
    return found.handle


def new_comment(args: argparse.Namespace, handle: str) -> dict[str, Any]:
    """A version 3 delivery of a new comment, shaped like the Hub's."""
    text = (
        args.comment
        if f"@{handle}".lower() in args.comment.lower()
        else f"@{handle} {args.comment}"
    )
    kind, repo, num = args.repo_type, args.repo, args.discussion
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[kind]
    web = f"https://huggingface.co/{prefix}{repo}"
    someone, comment_id = secrets.token_hex(12), secrets.token_hex(12)
    return {
        "event": {"action": "create", "scope": "discussion.comment"},
        "repo": {
            "type": kind, "name": repo, "id": secrets.token_hex(12), "private": False,
            "owner": {"id": someone}, "url": {"web": web, "api": f"https://huggingface.co/api/{kind}s/{repo}"},
        },
        "discussion": {
            "id": secrets.token_hex(12), "num": num, "title": "A question", "status": "open",
            "isPullRequest": args.pull_request, "author": {"id": someone},
            "url": {"web": f"{web}/discussions/{num}",
                    "api": f"https://huggingface.co/api/{kind}s/{repo}/discussions/{num}"},
        },
        "comment": {
            "id": comment_id, "author": {"id": someone}, "content": text, "hidden": False,
            "url": {"web": f"{web}/discussions/{num}#{comment_id}"},
        },
        "webhook": {"id": secrets.token_hex(12), "version": 3},
    }  # fmt: skip


def _read_payload(path: Path) -> bytes:
    """The file's bytes, once they are known to be JSON: a broken file is said so here, not
    by the bot."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise BotError(f"cannot read {path}: {exc.strerror}") from None
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise BotError(f"{path} is not JSON ({where}): nothing was sent") from None
    except UnicodeDecodeError:
        raise BotError(f"{path} is not JSON (not UTF-8 text): nothing was sent") from None
    return body


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST, giving a bot that is still starting a few seconds to accept connections."""
    deadline = time.monotonic() + WAIT_FOR_BOT
    while True:
        try:
            return httpx.post(url, content=body, headers=headers, timeout=30)
        except httpx.InvalidURL:
            wrong = f"--url {url!r} is not a valid URL: give http://HOST:PORT/webhook"
            raise BotError(wrong) from None
        except httpx.HTTPError as exc:
            if not isinstance(exc, httpx.ConnectError) or time.monotonic() > deadline:
                down = f"cannot reach {url} ({type(exc).__name__}): is the bot running?"
                raise BotError(down) from None
            time.sleep(0.2)  # a person's command, waiting for a server to come up


async def _follow(settings: Settings, job_id: str) -> int:
    """Read the job from the bot's store until it ends; print the outcome and the reply."""
    store = await open_store(store_options(settings))
    try:
        deadline = time.monotonic() + WAIT_FOR_REPLY
        job: JobSummary | None = None
        while time.monotonic() < deadline:
            job = await store.job(job_id)
            if job and job.status in FINISHED:
                break
            await asyncio.sleep(0.2)
    finally:
        await store.close()
    if job is None or job.status not in FINISHED:
        raise BotError(
            f"job {job_id} has not ended within {WAIT_FOR_REPLY:.0f} s: see jobs show {job_id}"
        )
    say = printer(settings).say
    say(f"{job.status}: {one_line(job.reason or '')}")
    if job.reply_text:
        say(job.reply_text)
    return 0 if job.status == JobStatus.DONE else 1
