"""Fakes of the Hub and the Inference API, as ASGI apps shaped after ../shared/HUB_API.md.

The same fake serves unit tests (through `httpx.ASGITransport`) and end-to-end tests (on a real
socket on 127.0.0.1, via `serve_in_thread`), so there is one copy of each upstream to keep
faithful. Each records every request it receives and can be scripted to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_ID = "64b2f00d0000000000000b07"
BOT_NAME = "hub-bot"
TOKEN = "hf_test_token_0123456789abcdef"


@dataclass
class Received:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class Scripted:
    """A canned answer; `json` None with `text` set sends a non-JSON body. `on` names the
    route it answers (whoami, comment, discussion); None answers the next request of any."""

    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    on: str | None = None

    def response(self) -> Response:
        if self.text is not None:
            return Response(
                self.text, self.status, self.headers, media_type=self.content_type or "text/plain"
            )
        return JSONResponse(self.json, self.status, self.headers)


class _Recorder:
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
                return self.script.pop(index)
        return None

    def enqueue(self, *answers: Scripted) -> None:
        self.script.extend(answers)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate` holds after some request, or the deadline passes."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)


class FakeHub(_Recorder):
    """Whoami, comments and discussion details, for one valid token.

    Posted comments are kept per discussion and served back as its events, so the bot can
    find its own earlier replies.
    """

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.ids = (f"{n:024x}" for n in itertools.count(0xC0FFEE000))
        self.threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.webhooks: dict[str, dict[str, Any]] = {}
        hooks = "/api/settings/webhooks"
        self.app = Starlette(
            routes=[
                Route(hooks, self._webhooks, methods=["GET", "POST"]),
                Route(hooks + "/{hook}", self._webhook, methods=["GET", "POST", "DELETE"]),
                Route(hooks + "/{hook}/{switch:str}", self._switch, methods=["POST"]),
                Route("/api/whoami-v2", self._whoami, methods=["GET"]),
                Route(
                    "/api/{kind}/{repo:path}/discussions/{num:int}/comment",
                    self._comment,
                    methods=["POST"],
                ),
                Route(
                    "/api/{kind}/{repo:path}/discussions/{num:int}",
                    self._discussion,
                    methods=["GET"],
                ),
            ]
        )

    def add_comment(
        self,
        thread: str,
        author: str,
        text: str,
        *,
        comment_id: str | None = None,
        created: str | None = None,
        hidden: bool = False,
    ) -> dict[str, Any]:
        """Put a comment into a discussion, as the Hub would show it in its events."""
        created = created or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        event = {
            "id": comment_id or next(self.ids),
            "type": "comment",
            "createdAt": created,
            "author": {"name": author, "type": "user", "isBot": author == BOT_NAME},
            "data": {
                "edited": False,
                "hidden": hidden,
                "latest": {"raw": text, "html": f"<p>{text}</p>", "updatedAt": created},
            },
        }
        self.threads[thread].append(event)
        return event

    @property
    def comments(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/comment")]

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    async def _whoami(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorised(request):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)
        scripted = self.next_scripted("whoami")
        if scripted:
            return scripted.response()
        return JSONResponse(
            {
                "type": "user",
                "id": BOT_ID,
                "name": BOT_NAME,
                "fullname": "Hub Bot",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"role": "write"}},
            }
        )

    async def _comment(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self._authorised(request):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)
        if request.path_params["kind"] not in ("models", "datasets", "spaces"):
            return JSONResponse({"error": "Not Found"}, 404)
        scripted = self.next_scripted("comment")
        if scripted:
            return scripted.response()
        if not isinstance(entry.body, dict) or not isinstance(entry.body.get("comment"), str):
            return JSONResponse({"error": "comment is required"}, 400)
        thread = request.url.path.removesuffix("/comment")
        return JSONResponse(
            {"newMessage": self.add_comment(thread, BOT_NAME, entry.body["comment"])}
        )

    def _valid_webhook(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body must be an object"
        watched = body.get("watched")
        if not isinstance(watched, list) or not watched:
            return "watched must be a non-empty list"
        for entry in watched:
            if not isinstance(entry, dict) or entry.get("type") not in (
                "user", "org", "model", "dataset", "space"
            ) or not entry.get("name"):  # fmt: skip
                return "each watched entry needs a type and a name"
        if not set(body.get("domains", [])) <= {"repo", "discussion"}:
            return "domains must be repo and/or discussion"
        if not body.get("url") and not body.get("jobSourceId"):
            return "url or jobSourceId is required"
        return None

    def _public(self, hook: dict[str, Any]) -> dict[str, Any]:
        # The Hub answers with the secret's presence, not its value.
        return {
            **{k: v for k, v in hook.items() if k != "secret"},
            "secret": bool(hook.get("secret")),
        }

    async def _webhooks(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self._authorised(request):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)
        if request.method == "GET":
            return JSONResponse([self._public(h) for h in self.webhooks.values()])
        problem = self._valid_webhook(entry.body)
        if problem:
            return JSONResponse({"error": problem}, 400)
        hook = {"id": next(self.ids), "disabled": False, "domains": ["discussion"], **entry.body}
        self.webhooks[hook["id"]] = hook
        return JSONResponse({"webhook": self._public(hook)})

    async def _webhook(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self._authorised(request):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)
        hook = self.webhooks.get(request.path_params["hook"])
        if hook is None:
            return JSONResponse({"error": "Webhook not found"}, 404)
        if request.method == "DELETE":
            del self.webhooks[hook["id"]]
            return JSONResponse({})
        if request.method == "POST":
            problem = self._valid_webhook(entry.body)
            if problem:
                return JSONResponse({"error": problem}, 400)
            hook.update(entry.body)
        return JSONResponse({"webhook": self._public(hook)})

    async def _switch(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorised(request):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)
        hook = self.webhooks.get(request.path_params["hook"])
        switch = request.path_params["switch"]
        if hook is None or switch not in ("enable", "disable"):
            return JSONResponse({"error": "Not Found"}, 404)
        hook["disabled"] = switch == "disable"
        return JSONResponse({"webhook": self._public(hook)})

    async def _discussion(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorised(request):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)
        scripted = self.next_scripted("discussion")
        if scripted:
            return scripted.response()
        repo, kind = request.path_params["repo"], request.path_params["kind"]
        return JSONResponse(
            {
                "num": request.path_params["num"],
                "title": "A discussion",
                "status": "open",
                "isPullRequest": False,
                "createdAt": "2026-11-23T06:00:00.000Z",
                "author": {"name": "someone"},
                "repo": {"name": repo, "type": kind.removesuffix("s")},
                "events": self.threads[request.url.path],
            }
        )


class FakeModel(_Recorder):
    """Text generation the Inference API way, and OpenAI-style chat completions on any path
    ending in /chat/completions; answers `reply` unless scripted otherwise.

    `echo` makes text generation ignore return_full_text=false and put the prompt in front, as
    some deployments do.
    """

    def __init__(self, reply: str = "A model card describes what a model does.") -> None:
        super().__init__()
        self.reply = reply
        self.echo = False
        self.latency = 0.0  # seconds every answer takes, as a real model would
        self.gate = threading.Event()
        self.gate.set()
        self.app = Starlette(routes=[Route("/{path:path}", self._generate, methods=["POST"])])

    def hold(self) -> None:
        """Make requests wait (after being recorded) until `release()`."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def _generate(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self.gate.is_set():
            # Bounded, so a test that forgets to release cannot hang the fake's shutdown.
            await asyncio.to_thread(self.gate.wait, 30)
        if self.latency:
            await asyncio.sleep(self.latency)
        scripted = self.next_scripted()
        if scripted:
            return scripted.response()
        if request.url.path.endswith("/chat/completions"):
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": entry.body.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": self.reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }
            )
        prompt = entry.body["inputs"] if isinstance(entry.body, dict) else ""
        text = prompt + self.reply if self.echo else self.reply
        return JSONResponse([{"generated_text": text}])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_in_thread(app: Starlette) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a background thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
