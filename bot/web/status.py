"""GET / (the status page) and GET /metrics, both behind STATUS_TOKEN when it is set.

The page is an operations page: whether the Hub, the model, the store and the webhook work
now, the latest jobs with their final reason and next attempt (linked to their discussion),
and the latest deliveries with what became of their job. It shows nothing a stranger should
see: no comment text, and a private repo is never named. It never waits on the Hub.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.config import Secret
from bot.errors import StoreUnavailable
from bot.services import Services

DAY = 86400.0
REFRESH_EVERY = 30  # seconds; a meta refresh, so no script is needed
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")  # noqa: S104 - names, not binds
_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


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


async def status_page(request: Request) -> Response:
    services: Services = request.state.services
    deployment = services.deployment
    if not _authorised(request, deployment.status_token):
        return _refusal()
    store = services.store
    try:
        jobs_count, deliveries_today, deliveries, jobs = await asyncio.gather(
            store.job_counts(),
            store.delivery_counts(time.time() - DAY),
            store.deliveries(25),
            store.jobs(20),
        )
    except StoreUnavailable:  # the page still says what it can, the store's trouble first
        jobs_count, deliveries_today, deliveries, jobs = {}, {}, [], []
    route = services.models.route
    known = services.whoami.known
    html = _pages.get_template("status.html").render(
        now=time.time(),
        refresh_every=REFRESH_EVERY,
        bot=known,
        handle=known.handle if known else deployment.handle,
        webhook_url=deployment.webhook_url,
        local_url=urlsplit(deployment.webhook_url).hostname in LOCAL_HOSTS,
        webhook=services.webhooks.current(),
        hub_url=deployment.hub_url,
        route_text=route.describe() if route else "(how it is served: asked before the next reply)",
        health=services.metrics.health,
        rejected=services.metrics.rejected,
        store=store,
        state_lost=deployment.state_lost,
        jobs_count=jobs_count,
        depth=store.depth_now,
        oldest=store.oldest_age_now,
        deliveries_today=deliveries_today,
        deliveries=deliveries,
        jobs=jobs,
        ago=_ago,
        utc=_utc,
        in_future=_in_future,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def favicon(request: Request) -> Response:
    """Browsers ask on every page view: a silent answer, not a 404 in the log."""
    return Response(status_code=204)


async def metrics_page(request: Request) -> Response:
    services: Services = request.state.services
    if not _authorised(request, services.deployment.status_token):
        return _refusal()
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
