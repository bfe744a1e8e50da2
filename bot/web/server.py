"""How the bot serves: uvicorn on uvloop with the httptools parser, defended against slow and
numerous clients.

- Headers must arrive within HEADER_TIMEOUT of a connection opening (or of its previous
  response), and a body within BODY_TIMEOUT of its headers; a connection that dawdles is
  closed, so a few hundred idle sockets cannot starve the bot of file descriptors.
- The soft open-files limit is raised to the hard one at start, and connections are capped
  (MAX_CONNECTIONS, below that limit): past the cap a request gets a fast 503, not a failed
  accept.
- Resource errors (the cap reached, accept failing) are logged once per minute with a count,
  not once per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.config import Settings
from bot.errors import BotError
from bot.logs import Throttle

log = logging.getLogger("bot.server")
SPARE_FILES = 64  # descriptors kept for the store, upstream calls and logs when the cap is hit
RESOURCE_LOG_INTERVAL = 60.0
BACKLOG = 2048  # connections the kernel holds until they are accepted (uvicorn's default)


def deadline_protocol(header_timeout: float, body_timeout: float) -> type[HttpToolsProtocol]:
    class DeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _body_due = False  # headers in, body not yet complete

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(header_timeout)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._body_due = True
            self._arm(body_timeout)  # the body, if any, is due now

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._body_due = False
            self._disarm()  # the request is in: the bot's own time starts

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # An early answer (a 401 before the body) leaves the body's deadline running.
            if not self.transport.is_closing() and not self._body_due:
                self._arm(header_timeout)  # the next request's headers

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            super().connection_lost(exc)

        # A deadline is a time; one timer per connection checks it when it fires and follows
        # it if it has moved, so a request costs no timer of its own.
        _due: float | None = None

        def _arm(self, timeout: float) -> None:
            self._due = due = self.loop.time() + timeout
            if self._deadline is not None and self._deadline.when() > due:
                self._deadline.cancel()
                self._deadline = None
            if self._deadline is None:
                self._deadline = self.loop.call_at(due, self._check)

        def _disarm(self) -> None:
            self._due = None

        def _check(self) -> None:
            self._deadline = None
            if self._due is None or self.transport.is_closing():
                return
            if self.loop.time() < self._due:
                self._deadline = self.loop.call_at(self._due, self._check)
            else:
                self.transport.close()

    return DeadlineProtocol


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):
        return soft
    return wanted


def connection_cap(settings: Settings, open_files: int) -> int:
    return max(1, min(settings.max_connections, open_files - SPARE_FILES))


class OncePerInterval(logging.Filter):
    """Let one record of each kind through per interval; the next one says how many were held
    back. A record's kind is its logger and message template."""

    def __init__(self, interval: float = RESOURCE_LOG_INTERVAL) -> None:
        super().__init__()
        self._interval = interval
        self._throttle = Throttle(interval)

    def filter(self, record: logging.LogRecord) -> bool:
        held = self._throttle.admit((record.name, record.msg))
        if held is None:
            return False
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {self._interval:.0f} s)"
        return True


def quiet_resource_errors() -> None:
    """uvicorn warns on every request past the cap, and the event loop reports every failed
    accept: keep one line of each per interval."""
    once = OncePerInterval()
    for name in ("uvicorn.error", "asyncio"):
        logging.getLogger(name).addFilter(once)


def report_loop_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's own errors (a failed accept) go to the `asyncio` logger, where they are
    held to one line per interval."""
    exc = context.get("exception")
    logging.getLogger("asyncio").error(
        "%s", context.get("message", "event loop error"), exc_info=exc if exc else None
    )


class Server(uvicorn.Server):
    """uvicorn's server, which also stops gracefully on SIGHUP (a closed terminal, a
    supervisor's stop), not only on SIGINT and SIGTERM: without this, SIGHUP's default action
    ends the process at once, mid-reply."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            if threading.current_thread() is not threading.main_thread():
                yield  # signals reach the main thread only
                return
            previous = signal.signal(signal.SIGHUP, self.handle_exit)
            try:
                yield
            finally:
                # Restored before uvicorn raises the captured signals again on its way out.
                signal.signal(signal.SIGHUP, previous)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else is said: a port already taken is one
    line naming PORT, not a banner followed by uvicorn's exit. It listens at once: a delivery
    that arrives while the bot is still starting waits in the backlog and is answered as soon
    as the app is up, instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise BotError(
            f"cannot listen on {host}:{port} ({exc.strerror}): stop what holds the port,"
            " or set PORT (and HOST) to a free one"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(
    make_app: Callable[[Callable[[BaseException], None], Callable[[], bool]], Any],
    settings: Settings,
    sock: socket.socket,
) -> None:
    """Serve the app `make_app(stop, stopping)` makes on `sock` (from `listen`) until SIGTERM,
    SIGINT or SIGHUP, or until the app calls `stop(exc)`: then it stops as for SIGTERM, and
    `exc` is raised here. `stopping()` tells the app whether the server is on its way out."""
    open_files = raise_open_files_limit()
    quiet_resource_errors()
    stopped_by: list[BaseException] = []

    def stop(exc: BaseException) -> None:
        stopped_by.append(exc)
        server.should_exit = True

    config = uvicorn.Config(
        make_app(stop, lambda: server.should_exit),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=deadline_protocol(settings.header_timeout, settings.body_timeout),
        ws="none",
        lifespan="on",
        log_config=None,
        access_log=settings.access_log,
        server_header=False,
        limit_concurrency=connection_cap(settings, open_files),
        backlog=BACKLOG,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 5,
    )
    server = Server(config)

    async def run() -> None:
        asyncio.get_running_loop().set_exception_handler(report_loop_errors)
        await server.serve(sockets=[sock])

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(run())
    if stopped_by:
        raise stopped_by[0]
