"""uvicorn's h11 protocol, plus a deadline for request headers.

uvicorn times out idle keep-alive connections, but a connection that opens and then sends its
headers slowly, or never finishes them, is held forever: a few hundred of those would starve
the bot of sockets. Here every connection must deliver complete headers within
HEADER_TIMEOUT seconds of opening (or of its previous response), or it is closed.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


def header_deadline_protocol(timeout: float) -> type[H11Protocol]:
    class HeaderDeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_for: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            # A new request cycle means its headers are complete.
            if self.cycle is not None and self.cycle is not self._waiting_for:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._waiting_for = self.cycle
            self._deadline = self.loop.call_later(timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineProtocol
