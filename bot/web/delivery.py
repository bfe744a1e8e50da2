"""A webhook delivery as HTTP: what it brings, read cheaply (its secret, id and declared length
from the headers in one pass, its body within MAX_BODY_BYTES), and what it is answered
(`Receipt`, sent as a `JSONAnswer`). What it means is bot.web.receiver's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive

from bot.events import Ignore
from bot.store import DeliveryOutcome

SECRET_HEADER = b"x-webhook-secret"
ID_HEADER = b"webhook-id"
LENGTH_HEADER = b"content-length"
MAX_WEBHOOK_ID = 200


class BodyTooLarge(Exception):
    pass


@dataclass
class Given:
    """What the receiver reads from a request's headers, found in one pass over them."""

    secret: bytes | None = None
    webhook_id: str | None = None
    length: bytes | None = None


def given_in(request: Request) -> Given:
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


def secret_in_query(request: Request) -> bytes | None:
    query: bytes = request.scope.get("query_string", b"")
    for name, value in parse_qsl(query):
        if name == b"secret" and value:
            return value
    return None


async def read_body(receive: Receive, declared: bytes | None, max_body: int) -> bytes:
    if declared is not None:
        if not declared.isdigit():
            raise ValueError("Content-Length is not a number")
        if int(declared) > max_body:
            raise BodyTooLarge
    # The ASGI messages read directly: a whole body usually comes in one.
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) + len(chunk) > max_body:
            raise BodyTooLarge
        body += chunk
    return body


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


def ignored(decision: Ignore) -> Receipt:
    return Receipt(
        200,
        {"status": "ignored", "reason": decision.reason},
        DeliveryOutcome.IGNORED,
        decision.code,
    )


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
