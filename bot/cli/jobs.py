"""`python -m bot jobs ...` (what happened to each mention) and `python -m bot job` (Job mode).

Job mode is for a Hub webhook that starts a Job per event instead of calling a URL: the payload
arrives in WEBHOOK_PAYLOAD and goes through the same checks, guards and store as a delivery,
then the reply runs in this process. Exit 0 when answered or rightly ignored, 1 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot.cli.output import one_line, printer
from bot.config import Settings
from bot.decide import Decider
from bot.errors import BotError
from bot.events import Ignore, PayloadError, parse_payload
from bot.services.options import store_options
from bot.store import (
    DeliveryOutcome,
    DeliveryRecord,
    Enqueue,
    EnqueueAutomation,
    EnqueueOutcome,
    JobRecord,
    JobStatus,
    JobSummary,
    Store,
    StoreUnavailable,
    open_store,
)
from bot.store.records import REPLAYABLE

if TYPE_CHECKING:  # the reply machinery is imported by `job` when it runs, not by `serve`
    from bot.answer.prompts import Prompts

T = TypeVar("T")
RETRY_PREFIX = "retry-"  # delivery log rows that record an operator's retry
# What --force queues again: anything not running now (Store.force's rule).
RETRIED_FROM_FORCED = tuple(status for status in JobStatus if status is not JobStatus.RUNNING)


def add_job_commands(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="list and show jobs, retry or force an answer")
    actions = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="recent jobs, newest first")
    listing.add_argument(
        "--status",
        choices=[status.value for status in JobStatus],
        help="only the jobs in this state",
    )
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    listing.set_defaults(run=list_jobs, needs=())
    show = actions.add_parser("show", help="one job and the deliveries that led to it")
    show.add_argument("key", help="a job number or the id of the comment it answers")
    show.set_defaults(run=show_job, needs=())
    retry = actions.add_parser(
        "retry", help="try a failed or dead job again; --force answers a comment afresh"
    )
    retry.add_argument("key", help="a job number or the id of the comment it answers")
    retry.add_argument(
        "--force", action="store_true", help="post a new answer even if one was posted"
    )
    retry.set_defaults(run=retry_job, needs=())

    single = commands.add_parser(
        "job",
        help="handle the one payload in WEBHOOK_PAYLOAD (a Hub Job), then exit",
        description="Handle the delivery a Hub webhook put in the environment variable"
        " WEBHOOK_PAYLOAD when it started this Job: the same checks, guards and store as a"
        " delivery, then the reply. Exit 0 when answered or rightly ignored.",
    )
    single.set_defaults(run=run_job, needs=("hf_token",))


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _line(job: JobSummary) -> str:
    forced = f" round {job.round}" if job.round else ""
    return (
        f"{job.id:>5}  {job.status:<7} {_when(job.updated_at)}  {one_line(job.discussion)}"
        f"  {one_line(job.shown_kind)}"
        f"  comment {one_line(job.comment_id)}  attempts {job.attempts}{forced}"
        f"  {one_line(job.reason or '')}"
    )


def list_jobs(settings: Settings, args: argparse.Namespace) -> int:
    found = asyncio.run(_with_store(settings, lambda store: store.jobs(args.limit, args.status)))
    none = f"no {args.status} jobs (jobs list shows them all)" if args.status else "no jobs yet"
    printer(settings).say("\n".join(_line(job) for job in found) if found else none)
    return 0


def show_job(settings: Settings, args: argparse.Namespace) -> int:
    async def read(store: Store) -> tuple[JobSummary | None, list[DeliveryRecord]]:
        job = await store.job(args.key)
        return job, (await store.deliveries(limit=50, job_id=job.id) if job else [])

    job, deliveries = asyncio.run(_with_store(settings, read))
    if job is None:
        raise BotError(f"no job {args.key!r}: give a job number or a comment id (see: jobs list)")
    shown = [_line(job), f"       created {_when(job.created_at)}  reply {job.reply_id or '-'}"]
    if job.status == JobStatus.FAILED:
        shown.append(f"       next attempt {_when(job.not_before)}")
    shown.append(f"       on the Hub: {job.web_url(settings.hf_endpoint) or '(a private repo)'}")
    if job.sources:
        shown.append(f"       sources: {one_line(', '.join(job.sources))}")
    for d in reversed(deliveries):  # oldest first, as they happened
        what = f"{d.delivery} at {_when(d.received_at)}: {d.status} {d.outcome}"
        if d.delivery.startswith(RETRY_PREFIX):
            what = f"{_when(d.received_at)}: {d.reason or ''}"
            shown.append(f"       retried {one_line(what)}")
            continue
        shown.append(f"       delivery {one_line(what)}")
    if job.reply_text:
        # A dead job's posted text is the failure notice it left in the discussion.
        shown.append(
            "       failure notice posted:" if job.status == JobStatus.DEAD else "       posted:"
        )
        # Split on line feeds only: other separators are shown escaped, not obeyed.
        shown += [f"         {line}" for line in job.reply_text.split("\n")]
    printer(settings).say("\n".join(shown))
    return 0


def retry_job(settings: Settings, args: argparse.Namespace) -> int:
    key = args.key
    change = Store.force if args.force else Store.requeue

    async def retry(store: Store) -> JobRecord | None:
        before = await change(store, key)  # the job as it was
        if before is not None and before.status in (
            RETRIED_FROM_FORCED if args.force else REPLAYABLE
        ):
            # The requeue starts the attempts again: the earlier ones are kept in the job's
            # history (the delivery log), so `jobs show` still tells them.
            earlier = (
                f"{before.attempts} attempt(s) before, {before.status}: {before.reason or '-'}"
            )
            store.record_delivery(
                f"{RETRY_PREFIX}{int(time.time() * 1000)}",
                "operator/retry",
                None,
                202,
                DeliveryOutcome.QUEUED,
                ("--force; " if args.force else "") + earlier,
                before.id,
            )
        return before

    job = asyncio.run(_with_store(settings, retry))
    if job is None:
        raise BotError(f"no job {key!r}: give a job number or a comment id (see: jobs list)")
    if job.status not in (RETRIED_FROM_FORCED if args.force else REPLAYABLE):
        hint = "it is running now" if job.status == JobStatus.RUNNING else f"it is {job.status}"
        if not args.force:
            hint += "; --force posts a fresh answer anyway"
        raise BotError(f"nothing to retry for job {job.id} (comment {job.comment_id}): {hint}")
    what = "a fresh answer" if args.force else "another attempt"
    printer(settings).say(f"queued {what} for job {job.id} (comment {job.comment_id})")
    return 0


async def _with_store(settings: Settings, use: Callable[[Store], Awaitable[T]]) -> T:
    store = await open_store(store_options(settings))
    try:
        return await use(store)
    except StoreUnavailable as exc:
        raise BotError(f"the store cannot be read: {exc}") from None
    finally:
        await store.close()


def run_job(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.parts import load_prompts

    raw = os.environ.get("WEBHOOK_PAYLOAD", "")
    if not raw.strip():
        raise BotError("WEBHOOK_PAYLOAD is empty: a Hub Job started by a webhook sets it")
    try:
        payload = parse_payload(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        raise BotError(f"WEBHOOK_PAYLOAD is not a webhook payload: {exc}") from None
    if isinstance(payload, Ignore) and payload.code == "scope" and settings.automations_path:
        return asyncio.run(_automate(settings, load_prompts(settings), raw.encode()))
    if isinstance(payload, Ignore):
        printer(settings).say(f"ignored: {payload.reason}")
        return 0
    prompts = load_prompts(settings)
    return asyncio.run(_answer(settings, prompts, payload))


async def _automate(settings: Settings, prompts: Prompts, body: bytes) -> int:
    """Job mode for a repo event: run each automation job it makes, here and now."""
    from bot.services.assembly import open_services

    say = printer(settings).say
    async with open_services(settings, None, prompts) as services:
        matched = services.matcher.match(body) if services.matcher else None
        if matched is None or isinstance(matched, Ignore):
            say(f"ignored: {matched.reason if matched else 'AUTOMATIONS_FILE has no rules'}")
            return 0
        recorded = await services.store.enqueue_automations(
            [EnqueueAutomation(run) for run in matched]
        )
        failed = 0
        for (outcome, job_id), run in zip(recorded, matched, strict=True):
            job = await services.store.claim(settings.lease_seconds, job_id=job_id)
            if outcome is EnqueueOutcome.DUPLICATE or job is None:
                say(f"duplicate: {run.key} is already done or queued")
                continue
            await services.handlers[job.kind](job)
            record = await services.store.get(run.key)
            status = record.status if record else "unknown"
            failed += status != JobStatus.DONE
            say(f"{run.rule}: {status}: {one_line(record.reason or '') if record else ''}")
    return 1 if failed else 0


async def _answer(settings: Settings, prompts: Prompts, payload: Any) -> int:
    from bot.services.assembly import open_services

    say = printer(settings).say
    async with open_services(settings, None, prompts) as services:
        try:
            decision = Decider(await services.whoami.get()).decide(payload)
        except PayloadError as exc:
            raise BotError(f"WEBHOOK_PAYLOAD is not a webhook payload: {exc}") from None
        if not isinstance(decision, Ignore):
            decision = services.guards.refuse(decision) or decision
        if isinstance(decision, Ignore):
            say(f"ignored: {decision.reason}")
            return 0
        outcome, job_id = await services.store.enqueue(Enqueue(decision))
        if outcome is EnqueueOutcome.DUPLICATE:
            say(f"duplicate: comment {decision.comment_id} is already answered or queued")
            return 0
        job = await services.store.claim(settings.lease_seconds, job_id=job_id)
        if job is None:
            raise BotError(f"job {job_id} waits behind an earlier mention in its discussion")
        await services.handlers[job.kind](job)
        record = await services.store.get(decision.comment_id)
    if record is not None and record.status == JobStatus.DONE:
        say(f"replied: comment {record.reply_id} ({time.strftime('%H:%M:%S')})")
        return 0
    reason = record.reason if record else "unknown"
    say(f"not answered: {one_line(reason or '')}")
    return 1
