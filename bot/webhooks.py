"""`POST /webhook`: secret, size limit, parse, decide, enqueue, acknowledge.

Nothing slow happens here: a due reply is one SQLite insert, then 202. The order of checks is
deliberate: the secret before the body is read, the size before it is parsed.

    401 no secret           403 wrong secret          413 body over MAX_BODY_BYTES
    400 not JSON            422 JSON of the wrong shape (the message names the field)
    200 ignored / duplicate 202 queued
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

from bot.events import Decider, Ignore, PayloadError, parse_payload
from bot.store import Store

log = logging.getLogger("bot.webhooks")

SECRET_HEADER = b"x-webhook-secret"


class BodyTooLarge(Exception):
    pass


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class WebhookReceiver:
    def __init__(
        self,
        secret: bytes,
        max_body_bytes: int,
        decider: Decider,
        store: Store,
        on_queued: Callable[[], None],
    ) -> None:
        self._secret_digest = hashlib.sha256(secret).digest()
        self._max_body = max_body_bytes
        self._decider = decider
        self._store = store
        self._on_queued = on_queued

    async def __call__(self, request: Request) -> JSONResponse:
        delivery = request.headers.get("webhook-id", "-")[:100]
        response = await self._receive(request)
        log.info(
            "delivery=%s status=%d %s",
            delivery,
            response.status_code,
            bytes(response.body).decode(),
        )
        return response

    async def _receive(self, request: Request) -> JSONResponse:
        given = _given_secret(request)
        if given is None:
            return error(401, "missing webhook secret: send it in the X-Webhook-Secret header")
        # Hashing first makes the comparison constant-time in the length too.
        if not hmac.compare_digest(hashlib.sha256(given).digest(), self._secret_digest):
            return error(403, "wrong webhook secret")
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
            decision = parsed if isinstance(parsed, Ignore) else self._decider.decide(parsed)
        except PayloadError as exc:
            return error(422, f"malformed payload: {exc}")
        if isinstance(decision, Ignore):
            return JSONResponse({"status": "ignored", "reason": decision.reason})
        outcome, job_id = self._store.enqueue(decision)
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
