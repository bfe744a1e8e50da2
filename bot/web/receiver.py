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
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive

from bot.automations.matching import Matcher
from bot.decide import Decider
from bot.events import Ignore, Mention, NotJSON, Payload, PayloadError, decode_payload
from bot.guards import Guards
from bot.hub.client import Whoami
from bot.logs import Throttle, log_event
from bot.metrics import Metrics
from bot.store import (
    DeliveryOutcome,
    Enqueue,
    EnqueueAutomation,
    EnqueueOutcome,
    Store,
    StoreUnavailable,
)
from bot.store.records import JobKind
from bot.web.batching import GroupCommit

log = logging.getLogger("bot.webhooks")
_JSON = msgspec.json.Encoder()

SECRET_HEADER = b"x-webhook-secret"
ID_HEADER = b"webhook-id"
LENGTH_HEADER = b"content-length"
# Ids for deliveries without a Webhook-Id: unique per process start, cheap to make.
_LOCAL_PREFIX = secrets.token_hex(3)
_local_serial = itertools.count(1)
MAX_WEBHOOK_ID = 200
REFUSAL_LOG_INTERVAL = 10.0  # seconds between log lines about deliveries with a bad secret
DELIVERY_LINES_PER_SECOND = 20  # per outcome; the Hub sends at most 1,000 deliveries a day


class BodyTooLarge(Exception):
    pass


class JSONAnswer(Response):
    """A response whose JSON is already encoded, its few headers set without Starlette's
    general checks (a webhook's answer has a body, and names no content headers itself)."""

    media_type = "application/json"

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"application/json"),
            *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
        ]


@dataclass
class Given:
    """What the receiver reads from a request's headers, found in one pass over them."""

    secret: bytes | None = None
    webhook_id: str | None = None
    length: bytes | None = None


@dataclass
class Receipt:
    """The answer to one delivery, and what to remember about it."""

    status: int
    body: dict[str, Any]
    outcome: DeliveryOutcome
    code: str = ""
    event: str | None = None
    repo: str | None = None  # None for a private repo: its name is never recorded
    job_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") or self.body.get("error")


def refused(
    status: int, outcome: DeliveryOutcome, message: str, retry_after: int | None = None
) -> Receipt:
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
        automations: Matcher | None = None,
        follow_ups: bool = False,
    ) -> None:
        self._follow_ups = follow_ups  # FOLLOW_UPS: comments without a mention may be queued
        self._automations = automations  # None: no AUTOMATIONS_FILE, repo events are ignored
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

    async def __call__(self, request: Request) -> Response:
        given = _given(request)
        delivery = given.webhook_id or f"local-{_LOCAL_PREFIX}-{next(_local_serial)}"
        receipt = await self._receive(request, given, delivery)
        self._metrics.delivery(receipt.outcome, receipt.code)
        if receipt.outcome is DeliveryOutcome.UNAUTHORISED:
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
        return JSONAnswer(_JSON.encode(receipt.body), receipt.status, receipt.headers or None)

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

    async def _receive(self, request: Request, given: Given, delivery: str) -> Receipt:
        secret = given.secret if given.secret is not None else _secret_in_query(request)
        if secret is None:
            return refused(
                401,
                DeliveryOutcome.UNAUTHORISED,
                "missing webhook secret: send it in the X-Webhook-Secret header",
            )
        # Hashing first makes the comparison constant-time in the length too.
        if not hmac.compare_digest(hashlib.sha256(secret).digest(), self._secret_digest):
            return refused(403, DeliveryOutcome.UNAUTHORISED, "wrong webhook secret")
        try:
            body = await self._read_body(request.receive, given.length)
            parsed = decode_payload(body)
        except BodyTooLarge:
            return refused(
                413, DeliveryOutcome.MALFORMED, f"body is larger than {self._max_body} bytes"
            )
        except PayloadError as exc:
            return refused(422, DeliveryOutcome.MALFORMED, f"malformed payload: {exc}")
        except (NotJSON, ValueError) as exc:
            return refused(400, DeliveryOutcome.MALFORMED, str(exc))
        except ClientDisconnect:
            return refused(
                400, DeliveryOutcome.MALFORMED, "client disconnected before the body was complete"
            )
        if isinstance(parsed, Ignore):
            if self._automations is not None and parsed.code == "scope":
                return await self._automate(self._automations, body, parsed.event, given, delivery)
            receipt = ignored(parsed)
            receipt.event = parsed.event
            return receipt
        receipt = await self._decide(parsed, given.webhook_id, delivery)
        automations, ignored_pr = self._automations, receipt.outcome is DeliveryOutcome.IGNORED
        if automations is not None and ignored_pr and parsed.discussion.is_pull_request:
            receipt = await self._automate(automations, body, None, given, delivery)  # a new PR
        receipt.event = f"{parsed.event.scope}/{parsed.event.action}"[:100]
        if not parsed.repo.private:
            receipt.repo = parsed.repo.name[:200]
        return receipt

    async def _decide(self, payload: Payload, webhook_id: str | None, delivery: str) -> Receipt:
        kind = JobKind.MENTION
        try:
            decider = self._current_decider()
            decision = decider.decide(payload, delivery)
            if self._follow_ups and isinstance(decision, Ignore) and decision.code == "no_mention":
                decision, kind = decider.follow_up(payload, delivery), JobKind.FOLLOW_UP
        except PayloadError as exc:
            return refused(422, DeliveryOutcome.MALFORMED, f"malformed payload: {exc}")
        if isinstance(decision, Mention):
            decision = self._guards.refuse(decision) or decision
        if isinstance(decision, Ignore):
            return ignored(decision)
        try:
            queued = Enqueue(decision, webhook_id, self._max_queue, kind)
            recorded = await self._commits.enqueue(queued)
        except StoreUnavailable:  # already logged, once per incident, by the store
            return refused(
                503, DeliveryOutcome.UNRECORDED, "the bot cannot record deliveries right now", 30
            )
        return self._acknowledge(*recorded)

    async def _automate(
        self, matcher: Matcher, body: bytes, event: str | None, given: Given, delivery: str
    ) -> Receipt:
        """A repo event: one automation job per matching rule (bot.automations.matching)."""
        matched = matcher.match(body, delivery)
        if isinstance(matched, Ignore):
            receipt = ignored(matched)
        else:
            items = [EnqueueAutomation(run, given.webhook_id) for run in matched]
            try:
                recorded = await self._store.enqueue_automations(items)
            except StoreUnavailable:
                why = "the bot cannot record deliveries right now"
                return refused(503, DeliveryOutcome.UNRECORDED, why, 30)
            queued = [job for outcome, job in recorded if outcome is EnqueueOutcome.QUEUED]
            outcome = EnqueueOutcome.QUEUED if queued else EnqueueOutcome.DUPLICATE
            receipt = self._acknowledge(outcome, (queued or [recorded[0][1]])[0])
            receipt.repo = None if matched[0].private else matched[0].repo[:200]
        receipt.event = event
        return receipt

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
        if outcome is EnqueueOutcome.FULL:
            message = f"the queue is full ({self._max_queue} jobs); try again later"
            return refused(503, DeliveryOutcome.FULL, message, 60)
        if outcome is EnqueueOutcome.DUPLICATE:
            return Receipt(
                200, {"status": "duplicate", "id": job_id}, DeliveryOutcome.DUPLICATE, job_id=job_id
            )
        self._on_queued()
        return Receipt(
            202, {"status": "queued", "id": job_id}, DeliveryOutcome.QUEUED, job_id=job_id
        )

    async def _read_body(self, receive: Receive, declared: bytes | None) -> bytes:
        if declared is not None:
            if not declared.isdigit():
                raise ValueError("Content-Length is not a number")
            if int(declared) > self._max_body:
                raise BodyTooLarge
        # The ASGI messages read directly: a whole body usually comes in one.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) + len(chunk) > self._max_body:
                raise BodyTooLarge
            body += chunk
        return body


def ignored(decision: Ignore) -> Receipt:
    return Receipt(
        200,
        {"status": "ignored", "reason": decision.reason},
        DeliveryOutcome.IGNORED,
        decision.code,
    )


def _given(request: Request) -> Given:
    """The secret as raw bytes (a non-ASCII secret is simply wrong rather than a decoding
    error), the delivery's id and its declared length. An overlong or undecodable id is not
    one the Hub sent: it is not used to dedupe."""
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    named = dict(headers)
    if len(named) == len(headers):  # no header repeated: the usual case, read in C
        secret, webhook_id = named.get(SECRET_HEADER) or None, named.get(ID_HEADER, b"")
        return Given(
            secret,
            webhook_id.decode("latin-1") if 0 < len(webhook_id) <= MAX_WEBHOOK_ID else None,
            named.get(LENGTH_HEADER),
        )
    given, seen = Given(), set[bytes]()
    for name, value in headers:
        if name == SECRET_HEADER:
            if value and given.secret is None:
                given.secret = value
        elif name in seen:
            continue  # the first of a repeated header counts
        elif name == ID_HEADER:
            seen.add(name)
            if 0 < len(value) <= MAX_WEBHOOK_ID:
                given.webhook_id = value.decode("latin-1")
        elif name == LENGTH_HEADER:
            seen.add(name)
            given.length = value
    return given


def _secret_in_query(request: Request) -> bytes | None:
    query: bytes = request.scope.get("query_string", b"")
    for name, value in parse_qsl(query):
        if name == b"secret" and value:
            return value
    return None
