"""Calling the Hub and the model: one request within limits, how a failed answer becomes an
error, and the one retry policy.

Every call has a total deadline (connecting, sending and every read together: a server that
drips one byte a second is cut off at it) and a cap on the answer's size (a 200 MiB answer is
not read past the cap), `CallLimits`.

Every way a call can fail ends as one of two errors, with a reason an operator can act on
(`error_from_exception`): TransientError (timeouts, connections lost, answers cut short or
garbled on the way, 429, 424, 5xx) or UpstreamError (a URL that cannot be requested, a
redirect loop, 4xx). An error from an answer keeps the upstream's own message
(`X-Error-Message`, the body's `error`), its error code (`X-Error-Code`) and its request id
(`X-Request-Id`), so every log line about it can be traced upstream. JSON from an upstream is
read by `bot.upstream_json`, which refuses answers nested too deep before decoding them.

Only transient failures are retried. The wait is the upstream's own estimate when it gives one
(`Retry-After`, the Hub's `RateLimit` header, a loading model's `estimated_time`), else
exponential backoff with jitter. The total time spent waiting is bounded by
`RetryPolicy.budget`, so a job never hangs on a model that will not load.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from bot.errors import TooLarge, TransientError, UpstreamError
from bot.logs import log_event, working_on
from bot.upstream_json import parse_json

T = TypeVar("T")
log = logging.getLogger("bot.upstream")

# Told of every call: the service, how long it took, and why it failed (None when it did not).
Observer = Callable[[str, float, str | None], None]


def ignore_call(service: str, seconds: float, failure: str | None) -> None:
    """The observer to use when nobody is counting."""


TRANSIENT_STATUSES = frozenset({408, 424, 425, 429})
_REBUILT = ("content-encoding", "content-length", "transfer-encoding")


class Answer(httpx.Response):
    """A response whose body was read within limits; its `json()` is `parse_json`."""

    def json(self, **kwargs: Any) -> Any:
        return parse_json(self.content)


@dataclass(frozen=True)
class CallLimits:
    """The most one call may take: seconds in all, and bytes of answer (after decompression)."""

    deadline: float = 60.0
    max_bytes: int = 10 * 1024 * 1024


async def fetch(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    limits: CallLimits,
    service: str,
    hint: str = "",
    **kwargs: Any,
) -> httpx.Response:
    """One request, read within `limits`. Raises TransientError when it takes too long, the
    connection fails or the answer is garbled on the way; UpstreamError when the answer is too
    large or the request cannot be made (see `error_from_exception`)."""
    try:
        async with asyncio.timeout(limits.deadline):
            async with http.stream(method, url, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limits.max_bytes:
                        raise TooLarge(
                            service,
                            response.status_code,
                            f"answer larger than {limits.max_bytes} bytes; not read further",
                            "raise MAX_UPSTREAM_BYTES if such answers are expected",
                        )
    except TimeoutError:
        detail = f"timed out: no complete answer within {limits.deadline:g} s"
        raise TransientError(service, None, detail, hint) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise error_from_exception(exc, service, hint) from None
    # The body is read (and decoded) already: a response of its bytes, as httpx would give.
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _REBUILT]
    return Answer(
        response.status_code, headers=headers, content=bytes(body), request=response.request
    )


_RATELIMIT = re.compile(r"\br=(?P<left>\d+).*?\bt=(?P<reset>\d+(?:\.\d+)?)")


def error_from_response(
    response: httpx.Response,
    service: str,
    hint: str = "",
    kind: type[UpstreamError] = UpstreamError,
) -> UpstreamError:
    """Turn a non-2xx answer into the right error (`kind` when it is not transient), keeping
    the upstream's own message, its error code and its request id."""
    status = response.status_code
    detail = upstream_message(response)
    code, request_id = error_code(response), request_id_of(response)
    if status in TRANSIENT_STATUSES or status >= 500:
        retry_after = _retry_after(response)
        return TransientError(
            service, status, detail, hint, retry_after, code=code, request_id=request_id
        )
    return kind(service, status, detail, hint, code=code, request_id=request_id)


def _header(response: httpx.Response, name: str, limit: int) -> str | None:
    """A header's value on one line, cut to `limit` characters; None when absent or blank."""
    text = " ".join(response.headers.get(name, "").split())[:limit]
    return text or None


def error_code(response: httpx.Response) -> str | None:
    """The Hub's machine-readable reason (`X-Error-Code`: RepoNotFound, GatedRepo, ...)."""
    return _header(response, "x-error-code", 60)


def request_id_of(response: httpx.Response) -> str | None:
    """The upstream's id for this request, as its support asks for it (`X-Request-Id`, else the
    load balancer's `X-Amzn-Trace-Id`, as huggingface_hub reads them)."""
    return _header(response, "x-request-id", 100) or _header(response, "x-amzn-trace-id", 100)


def error_from_exception(
    exc: httpx.HTTPError | httpx.InvalidURL, service: str, hint: str = ""
) -> UpstreamError:
    """What httpx raised, as the bot's error. A request that cannot be made (a malformed URL,
    an unknown scheme) or a redirect loop fails the same way every time: not retried. Anything
    that went wrong on the way (a timeout, a lost connection, a garbled answer) may pass."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        detail = f"the request could not be made ({kind}: {_short(exc)})"
        return UpstreamError(service, None, detail, hint or "check the URL settings")
    if isinstance(exc, httpx.TooManyRedirects):
        detail = "redirected too many times (a redirect loop)"
        return UpstreamError(service, None, detail, hint)
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(service, None, "timed out", hint)
    if isinstance(exc, httpx.DecodingError):
        detail = f"the answer could not be decoded ({_short(exc)}): a broken Content-Encoding"
        return TransientError(service, None, detail, hint)
    if isinstance(exc, httpx.RemoteProtocolError):  # closed early, or spoke broken HTTP
        detail = f"connection failed (RemoteProtocolError: {_short(exc)})"
        return TransientError(service, None, detail, hint)
    if isinstance(exc, httpx.TransportError):
        return TransientError(service, None, f"connection failed ({kind})", hint)
    return TransientError(service, None, f"the call failed ({kind}: {_short(exc)})", hint)


def _short(exc: Exception) -> str:
    """The start of an exception's text, on one line. (Wherever it is shown, the redactor
    still reads it.)"""
    text = " ".join(str(exc).split()) or "no detail"
    return text[:160]


def upstream_message(response: httpx.Response) -> str:
    """The upstream's own words: its `X-Error-Message` header and the `error` field of a JSON
    answer (each once), else the start of the body as plain text."""
    try:
        body = parse_json(response.content)
    except ValueError:
        body = None
    header = _header(response, "x-error-message", 300)
    if isinstance(body, dict) and body.get("error"):
        error = body["error"]
        if isinstance(error, dict):  # the router's OpenAI-style envelope
            error = error.get("message") or error.get("code") or "no message"
        text = "; ".join(map(str, error)) if isinstance(error, list) else str(error)
        if header and header.lower() not in text.lower():
            text = f"{header}; {text}"
    elif header:
        text = header
    elif "html" in response.headers.get("content-type", ""):
        text = "an HTML page instead of JSON"
    else:
        text = " ".join(response.text.split()) or response.reason_phrase or "no message"
    return text[:300]


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("retry-after")
    if header:
        if header.strip().isdigit():
            return float(header)
        when = email.utils.parsedate_to_datetime(header) if "," in header else None
        if when is not None:
            return max(0.0, when.timestamp() - time.time())
    # The Hub sends `RateLimit: "api";r=<left>;t=<seconds>` on every answer; it means "wait t"
    # only on a 429 with nothing left (as huggingface_hub reads it), never on a 5xx.
    ratelimit = _RATELIMIT.search(response.headers.get("ratelimit", ""))
    if response.status_code == 429 and ratelimit and float(ratelimit.group("left")) == 0:
        return float(ratelimit.group("reset"))
    try:
        body = parse_json(response.content)
    except ValueError:
        return None
    estimated = body.get("estimated_time") if isinstance(body, dict) else None
    return float(estimated) if isinstance(estimated, int | float) else None


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a transient failure. Tests pass their own `sleep`."""

    budget: float = 120.0
    max_attempts: int = 8
    base_wait: float = 1.0
    max_wait: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=self._wait,
            stop=self._stop,
            sleep=self.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return await retrying(operation)

    def _wait(self, state: RetryCallState) -> float:
        remaining = max(0.0, self.budget - state.idle_for)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), remaining)
        backoff = wait_random_exponential(multiplier=self.base_wait, max=self.max_wait)(state)
        return min(backoff, remaining)

    def _stop(self, state: RetryCallState) -> bool:
        # Waits are clamped to what is left of the budget, so the last try lands at its end.
        return state.idle_for >= self.budget or state.attempt_number >= self.max_attempts


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log_event(
        log,
        logging.WARNING,
        "retrying",
        **working_on.get(),
        after=exc,
        wait_s=round(state.upcoming_sleep, 1),
        attempt=state.attempt_number,
    )
