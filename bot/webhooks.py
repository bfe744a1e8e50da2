"""`POST /webhook`: secret, size limit, parse, decide, enqueue, acknowledge.

Nothing slow happens here: a due reply is one SQLite insert, then 202. The order of checks is
deliberate: the secret before the body is read, the size before it is parsed.

    401 no secret           403 wrong secret          413 body over MAX_BODY_BYTES
    400 not JSON            422 JSON of the wrong shape (the message names the field)
    503 the queue is full, or the bot does not know its own id yet (with Retry-After)
    200 ignored / duplicate 202 queued

A `Webhook-Id` seen before is answered from the store without reading the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from bot.errors import UpstreamError
from bot.events import Decider, Ignore, Mention, Payload, PayloadError, parse_payload
from bot.guards import Guards
from bot.hub import Whoami
from bot.store import EnqueueOutcome, Store

log = logging.getLogger("bot.webhooks")

SECRET_HEADER = b"x-webhook-secret"
MAX_WEBHOOK_ID = 200


class BodyTooLarge(Exception):
    pass


def error(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class WebhookReceiver:
    def __init__(
        self,
        secret: bytes,
        max_body_bytes: int,
        max_queue: int,
        whoami: Whoami,
        guards: Guards,
        store: Store,
        on_queued: Callable[[], None],
    ) -> None:
        self._secret_digest = hashlib.sha256(secret).digest()
        self._max_body = max_body_bytes
        self._max_queue = max_queue
        self._whoami = whoami
        self._guards = guards
        self._store = store
        self._on_queued = on_queued
        self._decider: Decider | None = None

    async def __call__(self, request: Request) -> JSONResponse:
        # An overlong id is not one the Hub sent; it is logged cut short and not used to dedupe.
        given = request.headers.get("webhook-id", "")
        delivery = given if 0 < len(given) <= MAX_WEBHOOK_ID else None
        response = await self._receive(request, delivery)
        body = bytes(response.body).decode()
        log.info(
            "delivery=%s status=%d %s", given[:MAX_WEBHOOK_ID] or "-", response.status_code, body
        )
        return response

    async def _receive(self, request: Request, delivery: str | None) -> JSONResponse:
        given = _given_secret(request)
        if given is None:
            return error(401, "missing webhook secret: send it in the X-Webhook-Secret header")
        # Hashing first makes the comparison constant-time in the length too.
        if not hmac.compare_digest(hashlib.sha256(given).digest(), self._secret_digest):
            return error(403, "wrong webhook secret")
        known = self._store.redeliver(delivery) if delivery else None
        if known:
            return self._acknowledge(*known)
        try:
            body = await self._read_body(request)
        except BodyTooLarge:
            return error(413, f"body is larger than {self._max_body} bytes")
        except ValueError as exc:
            return error(400, str(exc))
        except ClientDisconnect:
            return error(400, "client disconnected before the body was complete")
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return error(400, "body is not valid UTF-8 JSON")
        try:
            parsed = parse_payload(raw)
        except PayloadError as exc:
            return error(422, f"malformed payload: {exc}")
        if isinstance(parsed, Ignore):
            return ignored(parsed.reason)
        try:
            decider = await self._current_decider()
        except UpstreamError as exc:
            log.warning("whoami failed, asking the Hub to retry the delivery: %s", exc)
            return error(503, "the bot cannot reach the Hub to identify itself yet", 30)
        try:
            decision = self._screen(decider, parsed)
        except PayloadError as exc:
            return error(422, f"malformed payload: {exc}")
        if isinstance(decision, Ignore):
            return ignored(decision.reason)
        return self._acknowledge(*self._store.enqueue(decision, delivery, self._max_queue))

    async def _current_decider(self) -> Decider:
        if self._decider is None:
            self._decider = Decider(await self._whoami.get())
        return self._decider

    def _screen(self, decider: Decider, payload: Payload) -> Mention | Ignore:
        decision = decider.decide(payload)
        if isinstance(decision, Mention) and (reason := self._guards.refuse(decision)):
            return Ignore(reason)
        return decision

    def _acknowledge(self, outcome: EnqueueOutcome, job_id: int) -> JSONResponse:
        if outcome == "full":
            return error(503, f"the queue is full ({self._max_queue} jobs); try again later", 60)
        if outcome == "duplicate":
            return JSONResponse({"status": "duplicate", "id": job_id})
        self._on_queued()
        return JSONResponse({"status": "queued", "id": job_id}, status_code=202)

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


def ignored(reason: str) -> JSONResponse:
    return JSONResponse({"status": "ignored", "reason": reason})


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
