"""What every fake shares: a record of the requests it received, and scripted answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass
class Received:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class Scripted:
    """A canned answer; `json` None with `text` set sends a non-JSON body. `on` names the
    route it answers (whoami, comment, discussion); None answers the next request of any.
    A `sticky` answer stays: it answers every such request (a redirect loop, say)."""

    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    on: str | None = None
    sticky: bool = False

    def response(self) -> Response:
        if self.text is not None:
            return Response(
                self.text, self.status, self.headers, media_type=self.content_type or "text/plain"
            )
        return JSONResponse(self.json, self.status, self.headers)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[Scripted] = []
        self._changed = threading.Condition()

    async def record(self, request: Request) -> Received:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        entry = Received(
            request.method, request.url.path, request.headers.get("authorization"), body
        )
        with self._changed:
            self.requests.append(entry)
            self._changed.notify_all()
        return entry

    def next_scripted(self, route: str | None = None) -> Scripted | None:
        for index, scripted in enumerate(self.script):
            if scripted.on in (None, route):
                return scripted if scripted.sticky else self.script.pop(index)
        return None

    def enqueue(self, *answers: Scripted) -> None:
        self.script.extend(answers)

    def changed(self) -> None:
        """Wake whoever waits in `wait_until`, for a change other than a new request."""
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate` holds after some request, or the deadline passes."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)
