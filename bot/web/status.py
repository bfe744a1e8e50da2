"""GET / (the status page) and GET /metrics, both behind STATUS_TOKEN when it is set.

The page is an operations page: one verdict at the top (see `verdict`), whether the Hub, the
model, the store and the webhook work now, the latest jobs with their final reason and next
attempt (linked to their discussion), and the latest deliveries with what became of their job.
It shows nothing a stranger should see: no comment text, and a private repo is never named.

It waits on the Hub once at most, for FIRST_LOOK seconds, when the webhook has never been
looked up (the first view after a start), and then refreshes itself sooner. It reads the store
through `Store._browse` reads (on PostgreSQL a small pool of their own, with short timeouts),
so views never take the connections deliveries need; when the store cannot be read it says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.config import Secret
from bot.errors import StoreUnavailable
from bot.hub.webhook_watch import WebhookState
from bot.metrics import UpstreamHealth
from bot.services.receiving import Receiving
from bot.web.verdict import Seen, verdict

if TYPE_CHECKING:
    from jinja2 import Environment

    from bot.web.replies import Replies

DAY = 86400.0
REFRESH_EVERY = 30  # seconds; a meta refresh, so no script is needed
REFRESH_SOON = 5  # seconds, while the webhook has not been looked up yet
FIRST_LOOK = 2.0  # seconds the first view waits for the webhook's first look-up
FLUSH_WAIT = 0.5  # seconds a view waits for the delivery log to be written before reading it
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")  # noqa: S104 - names, not binds


def breakable(text: object) -> Markup:
    """Escaped, with a line-break opportunity after each `/` and before each `?`: a long URL or
    path wraps where a reader expects it, not in the middle of a word."""
    shown = re.sub(r"/+", r"\g<0><wbr>", str(escape(text))).replace("?", "<wbr>?")
    return Markup(shown)  # noqa: S704 - escaped above


@functools.cache
def _pages() -> Environment:
    """The page's templates, loaded at the first view: a bot that is starting has deliveries
    to answer first."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    pages = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )
    pages.filters["breakable"] = breakable
    return pages


def _authorised(request: Request, token: Secret | None) -> bool:
    if token is None:
        return True
    header = request.headers.get("authorization", "")
    given = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    given = given or request.query_params.get("token", "")
    expected = hashlib.sha256(token.get_secret_value().encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected)


def _refusal() -> Response:
    return Response(
        "This page needs STATUS_TOKEN: add ?token=<STATUS_TOKEN>"
        " or an Authorization: Bearer header.\n",
        status_code=401,
        media_type="text/plain",
    )


def _ago(moment: float | None) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int(time.time() - moment))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _in_future(moment: float) -> str:
    seconds = int(moment - time.time())
    return "now" if seconds <= 0 else f"in {seconds} s ({_utc(moment)[11:]} UTC)"


def _failing_since(health: UpstreamHealth) -> float | None:
    """When the failures began: the first failure after the last success."""
    since = health.failing_since
    if since is None or (health.last_success is not None and since < health.last_success):
        return health.last_failure
    return since


async def _read_store(services: Receiving) -> tuple[Any, ...]:
    """Counts and listings, or (empty ones and) why the store could not be read."""
    store = services.store
    # The upkeep writes the delivery log ten times a second; a view waits a moment for rows
    # still on their way, never for a locked table.
    with contextlib.suppress(StoreUnavailable, TimeoutError):
        await asyncio.wait_for(asyncio.shield(store.flush()), FLUSH_WAIT)
    try:
        read = await asyncio.gather(
            store.job_counts(),
            store.delivery_counts(time.time() - DAY),
            store.deliveries(25),
            store.jobs(20),
        )
    except StoreUnavailable as exc:  # the page still says what it can, the store's trouble first
        return {}, {}, [], [], str(exc)
    return (*read, None)


async def _webhook(services: Receiving) -> WebhookState | None:
    """What was last learnt of the webhook; on the first view, its first look-up (briefly)."""
    watch = services.webhooks
    if watch.current() is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.wait(), FIRST_LOOK)
    return watch.state


async def status_page(request: Request) -> Response:
    services: Receiving = request.state.receiving
    replies: Replies = request.state.replies
    deployment = services.deployment
    if not _authorised(request, deployment.status_token):
        return _refusal()
    store = services.store
    (jobs_count, deliveries_today, deliveries, jobs, unreadable), webhook = await asyncio.gather(
        _read_store(services), _webhook(services)
    )
    route = await replies.route()
    known = services.whoami.known
    local_url = urlsplit(deployment.webhook_url).hostname in LOCAL_HOSTS
    seen = Seen(
        store,
        known is not None,
        webhook,
        local_url,
        services.metrics.health,
        deployment.state_lost,
        unreadable,
    )
    html = (
        _pages()
        .get_template("status.html")
        .render(
            now=time.time(),
            refresh_every=REFRESH_EVERY if webhook else REFRESH_SOON,
            verdict=verdict(seen),
            bot=known,
            handle=known.handle if known else deployment.handle,
            webhook_url=deployment.webhook_url,
            local_url=local_url,
            webhook=webhook,
            hub_url=deployment.hub_url,
            route_text=route.describe()
            if route
            else "(how it is served: asked before the next reply)",
            health=services.metrics.health,
            rejected=services.metrics.rejected,
            store=store,
            state_lost=deployment.state_lost,
            unreadable=unreadable,
            jobs_count=jobs_count,
            depth=store.depth_now,
            oldest=store.oldest_age_now,
            # Refused deliveries are counted by the metric: the log keeps one per interval.
            deliveries_today={k: n for k, n in deliveries_today.items() if k != "unauthorised"},
            deliveries=deliveries,
            jobs=jobs,
            ago=_ago,
            utc=_utc,
            in_future=_in_future,
            failing_since=_failing_since,
        )
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def favicon(request: Request) -> Response:
    """Browsers ask on every page view: a silent answer, not a 404 in the log."""
    return Response(status_code=204)


async def metrics_page(request: Request) -> Response:
    services: Receiving = request.state.receiving
    if not _authorised(request, services.deployment.status_token):
        return _refusal()
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
