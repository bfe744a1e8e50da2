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
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

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
from bot.web.delivery import (
    BodyTooLarge,
    Given,
    JSONAnswer,
    Receipt,
    given_in,
    ignored,
    read_body,
    refused,
    secret_in_query,
)

if TYPE_CHECKING:  # the automations are imported only when there are rules (bot.services)
    from bot.automations.matching import Matcher

log = logging.getLogger("bot.webhooks")
_JSON = msgspec.json.Encoder()

# Ids for deliveries without a Webhook-Id: unique per process start, cheap to make.
_LOCAL_PREFIX = secrets.token_hex(3)
_local_serial = itertools.count(1)
REFUSAL_LOG_INTERVAL = 10.0  # seconds between log lines about deliveries with a bad secret
DELIVERY_LINES_PER_SECOND = 20  # per outcome; the Hub sends at most 1,000 deliveries a day


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
        given = given_in(request)
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
        secret = given.secret if given.secret is not None else secret_in_query(request)
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
            body = await read_body(request.receive, given.length, self._max_body)
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
