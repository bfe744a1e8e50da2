"""`POST /webhook`: secret, size limit, parse, decide, enqueue, acknowledge.

Nothing slow happens here: a due reply is one SQLite insert, then 202. The order of checks is
deliberate: the secret before the body is read, the size before it is parsed.

    401 no secret           403 wrong secret          413 body over MAX_BODY_BYTES
    400 not JSON            422 a new comment the bot cannot read (the message names the field)
    503 the queue is full, or the store cannot record it (with Retry-After)
    200 ignored / duplicate 202 queued

A `Webhook-Id` seen before is recognised in the same transaction that would record it. Every
delivery ends in one log line and one metric; every authentic one also in the history.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from bot.decide import Decider
from bot.events import Ignore, Mention, Payload, PayloadError, parse_payload
from bot.guards import Guards
from bot.hub.client import Whoami
from bot.logs import Throttle, log_event
from bot.metrics import Metrics
from bot.store import Enqueue, EnqueueOutcome, Store, StoreUnavailable
from bot.web.batching import GroupCommit

log = logging.getLogger("bot.webhooks")

SECRET_HEADER = b"x-webhook-secret"
# Ids for deliveries without a Webhook-Id: unique per process start, cheap to make.
_LOCAL_PREFIX = secrets.token_hex(3)
_local_serial = itertools.count(1)
MAX_WEBHOOK_ID = 200
REFUSAL_LOG_INTERVAL = 10.0  # seconds between log lines about deliveries with a bad secret
DELIVERY_LINES_PER_SECOND = 20  # per outcome; the Hub sends at most 1,000 deliveries a day


class BodyTooLarge(Exception):
    pass


@dataclass
class Receipt:
    """The answer to one delivery, and what to remember about it."""

    status: int
    body: dict[str, Any]
    outcome: str
    code: str = ""
    event: str | None = None
    repo: str | None = None  # None for a private repo: its name is never recorded
    job_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") or self.body.get("error")


def refused(status: int, outcome: str, message: str, retry_after: int | None = None) -> Receipt:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return Receipt(status, {"error": message}, outcome, outcome, headers=headers)


class WebhookReceiver:
    def __init__(
        self,
        secret: bytes,
        max_body_bytes: int,
        max_queue: int,
        whoami: Whoami,
        guards: Guards,
        store: Store,
        metrics: Metrics,
        on_queued: Callable[[], None],
    ) -> None:
        self._secret_digest = hashlib.sha256(secret).digest()
        self._max_body = max_body_bytes
        self._max_queue = max_queue
        self._whoami = whoami
        self._guards = guards
        self._store = store
        self._metrics = metrics
        self._on_queued = on_queued
        self._commits = GroupCommit(store)
        self._decider: Decider | None = None
        self._refusals = Throttle(REFUSAL_LOG_INTERVAL)
        self._bursts = Throttle(1.0, DELIVERY_LINES_PER_SECOND)

    async def __call__(self, request: Request) -> JSONResponse:
        # An overlong id is not one the Hub sent: it is not used to dedupe.
        given = request.headers.get("webhook-id", "")
        webhook_id = given if 0 < len(given) <= MAX_WEBHOOK_ID else None
        delivery = webhook_id or f"local-{_LOCAL_PREFIX}-{next(_local_serial)}"
        receipt = await self._receive(request, webhook_id, delivery)
        self._metrics.delivery(receipt.outcome, receipt.code)
        if receipt.outcome == "unauthorised":
            # A flood at a public URL costs one row and one line per interval.
            held = self._refusals.admit(receipt.status)
            if held is not None:
                self._record(delivery, receipt)
        else:
            # Every delivery the Hub sends is kept in the delivery log; a burst of lines only
            # clogs the log, so past a few a second they are counted instead.
            self._record(delivery, receipt)
            held = self._bursts.admit(receipt.outcome)
        if held is not None:
            log_event(
                log,
                logging.INFO,
                "delivery",
                delivery=delivery,
                status=receipt.status,
                outcome=receipt.outcome,
                reason=receipt.reason,
                job=receipt.job_id,
                **({"similar_not_logged": held} if held else {}),
            )
        return JSONResponse(receipt.body, receipt.status, receipt.headers or None)

    def _record(self, delivery: str, receipt: Receipt) -> None:
        self._store.record_delivery(
            delivery,
            receipt.event,
            receipt.repo,
            receipt.status,
            receipt.outcome,
            receipt.reason,
            receipt.job_id,
        )

    async def _receive(self, request: Request, webhook_id: str | None, delivery: str) -> Receipt:
        given = _given_secret(request)
        if given is None:
            return refused(
                401,
                "unauthorised",
                "missing webhook secret: send it in the X-Webhook-Secret header",
            )
        # Hashing first makes the comparison constant-time in the length too.
        if not hmac.compare_digest(hashlib.sha256(given).digest(), self._secret_digest):
            return refused(403, "unauthorised", "wrong webhook secret")
        try:
            raw = json.loads(await self._read_body(request))
        except BodyTooLarge:
            return refused(413, "malformed", f"body is larger than {self._max_body} bytes")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return refused(400, "malformed", "body is not valid UTF-8 JSON")
        except ValueError as exc:
            return refused(400, "malformed", str(exc))
        except ClientDisconnect:
            return refused(400, "malformed", "client disconnected before the body was complete")
        try:
            parsed = parse_payload(raw)
        except PayloadError as exc:
            return refused(422, "malformed", f"malformed payload: {exc}")
        if isinstance(parsed, Ignore):
            receipt = ignored(parsed)
            receipt.event = _event_name(raw)
            return receipt
        receipt = await self._decide(parsed, webhook_id, delivery)
        receipt.event = f"{parsed.event.scope}/{parsed.event.action}"[:100]
        if not parsed.repo.private:
            receipt.repo = parsed.repo.name[:200]
        return receipt

    async def _decide(self, payload: Payload, webhook_id: str | None, delivery: str) -> Receipt:
        try:
            decision = self._current_decider().decide(payload)
        except PayloadError as exc:
            return refused(422, "malformed", f"malformed payload: {exc}")
        if isinstance(decision, Mention):
            decision = self._guards.refuse(decision) or replace(decision, delivery=delivery)
        if isinstance(decision, Ignore):
            return ignored(decision)
        try:
            recorded = await self._commits.enqueue(Enqueue(decision, webhook_id, self._max_queue))
        except StoreUnavailable:  # already logged, once per incident, by the store
            return refused(503, "unrecorded", "the bot cannot record deliveries right now", 30)
        return self._acknowledge(*recorded)

    def _current_decider(self) -> Decider:
        """Never waits on the Hub: while the bot does not know who it is, a lookup runs in the
        background and the decision is finished when the job runs (see bot.decide)."""
        if self._decider is None or self._decider.bot is None:
            known = self._whoami.known
            if known is None:
                self._whoami.look_up_soon()
            self._decider = Decider(known, self._whoami.handle)
        return self._decider

    def _acknowledge(self, outcome: EnqueueOutcome, job_id: int) -> Receipt:
        if outcome == "full":
            message = f"the queue is full ({self._max_queue} jobs); try again later"
            return refused(503, "full", message, 60)
        if outcome == "duplicate":
            return Receipt(200, {"status": "duplicate", "id": job_id}, "duplicate", job_id=job_id)
        self._on_queued()
        return Receipt(202, {"status": "queued", "id": job_id}, "queued", job_id=job_id)

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ValueError("Content-Length is not a number")
            if int(declared) > self._max_body:
                raise BodyTooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_body:
                raise BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def _event_name(raw: object) -> str | None:
    event = raw.get("event") if isinstance(raw, dict) else None
    if not isinstance(event, dict):
        return None
    return f"{event.get('scope')}/{event.get('action')}"[:100]


def ignored(decision: Ignore) -> Receipt:
    return Receipt(200, {"status": "ignored", "reason": decision.reason}, "ignored", decision.code)


def _given_secret(request: Request) -> bytes | None:
    # Raw bytes, so a non-ASCII secret is simply wrong rather than a decoding error.
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    for name, value in headers:
        if name == SECRET_HEADER and value:
            return value
    query: bytes = request.scope.get("query_string", b"")
    for name, value in parse_qsl(query):
        if name == b"secret" and value:
            return value
    return None
