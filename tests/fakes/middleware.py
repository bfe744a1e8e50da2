"""What wraps every answer of the fake Hub: the rate-limit headers the real Hub sends, and a
check of each exchange against the Hub's OpenAPI description."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.openapi import violations

RATE_LIMIT = {
    "RateLimit": '"api";r=499;t=300',
    "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
}


class RateLimitHeaders:
    """Adds the Hub's rate-limit headers to every answer, as the real Hub does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in RATE_LIMIT.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class OpenAPICheck:
    """Checks every exchange against the Hub's OpenAPI description (tests/fakes/openapi.py) and
    keeps what is wrong in `hub.violations`; a scripted answer is wrong on purpose, so only
    the request is checked then."""

    def __init__(self, app: ASGIApp, hub: Any) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, answer = bytearray(), bytearray()
        started: dict[str, Any] = {}

        async def reading() -> Message:
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        async def writing(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            else:
                answer.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, reading, writing)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        answer_headers = {k.decode().lower(): v.decode() for k, v in started.get("headers", [])}
        self.hub.violations += violations(
            scope["method"],
            scope["path"],
            dict(parse_qsl(scope["query_string"].decode())),
            headers,
            bytes(body),
            started.get("status", 0),
            None if scope.get("scripted") else bytes(answer),
            answer_headers.get("content-type", ""),
        )
