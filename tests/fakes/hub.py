"""A fake of the Hub's REST API, for one valid token, shaped after ../shared/HUB_API.md and the
Hub's OpenAPI description: whoami, discussions and comments, webhooks, model info and listing.

Posted comments are kept per discussion and served back as its events, so the bot finds its
own earlier replies. Models are registered with the providers that serve them. Every answer
carries the `RateLimit` headers the real Hub sends on every answer.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.openapi import violations
from tests.fakes.recorder import Received, Recorder, Scripted
from tests.fakes.routes import hub_routes

BOT_ID = "64b2f00d0000000000000b07"
BOT_NAME = "hub-bot"
TOKEN = "hf_test_token_0123456789abcdef"
RATE_LIMIT = {
    "RateLimit": '"api";r=499;t=300',
    "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
}
UNAUTHORISED = {"error": "Invalid credentials in Authorization header"}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def user_id(name: str) -> str:
    """A stable 24-hex-digit id for a user name, as the Hub gives every account one."""
    return BOT_ID if name == BOT_NAME else hashlib.sha256(name.encode()).hexdigest()[:24]


def author(name: str) -> dict[str, Any]:
    """An event's author as the Hub writes it."""
    return {
        "_id": user_id(name),
        "avatarUrl": "/avatars/0000.svg",
        "fullname": name.title(),
        "name": name,
        "type": "user",
        "isPro": False,
        "isHf": False,
        "isHfAdmin": False,
        "isMod": False,
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

    def __init__(self, app: ASGIApp, hub: FakeHub) -> None:
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


class FakeHub(Recorder):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.ids = (f"{n:024x}" for n in itertools.count(0xC0FFEE000))
        self.threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.repos: dict[tuple[str, str], dict[str, Any]] = {}  # (type, name) -> its facts
        self.cards: dict[tuple[str, str], str] = {}  # (type, name) -> README.md
        self.pull_requests: dict[str, dict[str, Any]] = {}  # discussion path -> its changes
        self.token_role = "write"
        self.violations: list[str] = []  # of the Hub's OpenAPI description, by either side
        self.app = Starlette(
            routes=hub_routes(self),
            middleware=[Middleware(OpenAPICheck, hub=self), Middleware(RateLimitHeaders)],
        )

    # -- what a test sets up ------------------------------------------------------------

    def add_comment(
        self,
        thread: str,
        author_name: str,
        text: str,
        *,
        comment_id: str | None = None,
        created: str | None = None,
        hidden: bool = False,
    ) -> dict[str, Any]:
        """Put a comment into a discussion (its API path), as the Hub shows it in its events."""
        created = created or now_iso()
        event = {
            "id": comment_id or next(self.ids),
            "type": "comment",
            "createdAt": created,
            "author": author(author_name),
            "data": {
                "edited": False,
                "hidden": hidden,
                "latest": {
                    "raw": text,
                    "html": f"<p>{text}</p>",
                    "updatedAt": created,
                    "author": author(author_name),
                },
                "numEdits": 0,
                "editors": [author_name],
                "editorAvatarUrls": ["/avatars/0000.svg"],
                "reactions": [],
            },
        }
        self.threads[thread].append(event)
        return event

    def serve_model(
        self,
        model: str,
        provider: str,
        task: str,
        *,
        provider_id: str | None = None,
        status: str = "live",
        likes: int = 0,
    ) -> None:
        """Register `model` as served by `provider` for `task` (text-generation, conversational)."""
        entry = self.add_model(model, likes=likes)
        entry["inferenceProviderMapping"][provider] = {
            "status": status,
            "providerId": provider_id or model,
            "task": task,
            "isModelAuthor": False,
        }

    def add_model(self, model: str, *, likes: int = 0) -> dict[str, Any]:
        """A model that exists on the Hub (served by nobody until `serve_model`)."""
        entry = self.repo("model", model)
        entry.setdefault("inferenceProviderMapping", {})
        entry["likes"] = likes
        return entry

    def repo(self, kind: str, name: str, **facts: Any) -> dict[str, Any]:
        """A repo's facts as the repo-info route gives them. Every repo exists, with a few
        facts and a small card, unless a test says otherwise."""
        entry = self.repos.setdefault(
            (kind, name),
            {
                "_id": user_id(f"{kind}/{name}"),
                "id": name,
                "sha": hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest(),
                "lastModified": "2026-11-01T10:00:00.000Z",
                "likes": 3,
                "tags": [],
                "cardData": {},
                "siblings": [{"rfilename": "README.md"}],
                **({"pipeline_tag": "text-generation"} if kind == "model" else {}),
            },
        )
        entry.update(facts)
        self.cards.setdefault((kind, name), f"# {name}\n\nA repo for tests.")
        return entry

    def open_pull_request(
        self,
        thread: str,
        diff: str,
        *,
        base: str = "refs/heads/main",
        conflicts: tuple[str, ...] = (),
    ) -> None:
        """Make a discussion (its API path) a pull request with these changes."""
        self.pull_requests[thread] = {"diff": diff, "base": base, "conflicts": list(conflicts)}

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return {name: facts for (kind, name), facts in self.repos.items() if kind == "model"}

    def scripted(self, request: Request, route: str) -> Scripted | None:
        """The next scripted answer for `route`, marked so that it is not checked."""
        found = self.next_scripted(route)
        if found:
            request.scope["scripted"] = True
        return found

    @property
    def comments(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/comment")]

    # -- the routes ---------------------------------------------------------------------

    def authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    async def whoami(self, request: Request) -> Response:
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "whoami"):
            return scripted.response()
        return JSONResponse(
            {
                "type": "user",
                "id": BOT_ID,
                "name": BOT_NAME,
                "fullname": "Hub Bot",
                "isPro": False,
                "avatarUrl": "/avatars/0000.svg",
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {
                        "displayName": "discussion-bot",
                        "role": self.token_role,
                        "createdAt": "2026-01-01T00:00:00.000Z",
                    },
                },
            }
        )

    async def comment(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if request.path_params["kind"] not in ("models", "datasets", "spaces"):
            return JSONResponse({"error": "Not Found"}, 404)
        scripted = self.scripted(request, "comment")
        text = entry.body.get("comment") if isinstance(entry.body, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= 65536:
            return JSONResponse({"error": "comment must be 1 to 65536 characters"}, 400)
        if scripted and scripted.status >= 300:
            return scripted.response()  # refused: nothing was posted
        thread = request.url.path.removesuffix("/comment")
        event = self.add_comment(thread, BOT_NAME, text)
        # A scripted 2xx is a comment posted with a garbled or lost answer.
        return scripted.response() if scripted else JSONResponse({"newMessage": event}, 201)

    async def discussion(self, request: Request) -> Response:
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "discussion"):
            return scripted.response()
        repo, kind = request.path_params["repo"], request.path_params["kind"]
        details: dict[str, Any] = {
            "_id": "6390000000000000000000d0",
            "num": request.path_params["num"],
            "author": author("someone"),
            "repo": {"name": repo, "type": kind.removesuffix("s")},
            "title": "A discussion",
            "status": "open",
            "createdAt": "2026-11-23T06:00:00.000Z",
            "pinned": False,
            "locked": False,
            "collection": "discussions",
            "isReport": False,
            "isPullRequest": False,
            "events": self.threads[request.url.path],
        }
        pull_request = self.pull_requests.get(request.url.path)
        if pull_request:
            details |= {
                "isPullRequest": True,
                "changes": {"base": pull_request["base"]},
                "filesWithConflicts": pull_request["conflicts"],
                "diffUrl": f"https://huggingface.co/{repo}/discussions/{details['num']}/files.diff",
            }
            if request.query_params.get("diff") == "1":
                details["diff"] = pull_request["diff"]
        return JSONResponse(details)

    async def repo_info(self, request: Request) -> Response:
        """A repo's facts, only the `expand[]`ed fields (and its id); routing asks about models
        (scripted as "model"), context about any repo (scripted as "repo")."""
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        kind = request.path_params["kind"].removesuffix("s")
        expand = request.query_params.getlist("expand[]")
        if scripted := self.scripted(request, "model" if "inference" in expand else "repo"):
            return scripted.response()
        name = request.path_params["repo"]
        found = self.repos.get((kind, name))
        if found is None and "inference" in expand:
            return JSONResponse({"error": "Repository not found"}, 404)  # not a known model
        found = found or self.repo(kind, name)
        shown = {"_id": found["_id"], "id": found["id"]}
        for field in expand:
            if field == "inference":
                if _live(found):
                    shown["inference"] = "warm"
            elif field in found:
                shown[field] = found[field]
        return JSONResponse(shown)

    async def resolve(self, request: Request) -> Response:
        """A file at a revision: the card, honouring a Range request as the Hub does."""
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "card"):
            return scripted.response()
        kind = {"datasets": "dataset", "spaces": "space"}.get(
            request.path_params.get("kind", ""), "model"
        )
        name = f"{request.path_params['namespace']}/{request.path_params['name']}"
        if (kind, name) not in self.repos:
            self.repo(kind, name)  # every repo exists, with its card
        text = self.cards.get((kind, name)) if request.path_params["path"] == "README.md" else None
        if text is None:
            return JSONResponse({"error": "Entry not found"}, 404)
        data = text.encode()
        wanted = request.headers.get("range", "")
        if (
            wanted.startswith("bytes=0-")
            and wanted[8:].isdigit()
            and int(wanted[8:]) + 1 < len(data)
        ):
            end = int(wanted[8:])
            headers = {"Content-Range": f"bytes 0-{end}/{len(data)}"}
            return Response(data[: end + 1], 206, headers, media_type="text/markdown")
        return Response(data, 200, media_type="text/markdown")

    async def model_listing(self, request: Request) -> Response:
        await self.record(request)
        query = request.query_params
        found = list(self.models.values())
        if query.get("inference_provider") == "all":
            found = [m for m in found if _live(m)]
        if tag := query.get("pipeline_tag"):
            found = [m for m in found if m.get("pipeline_tag") == tag]
        if query.get("sort") == "likes":
            found.sort(key=lambda m: m["likes"], reverse=True)
        limit = int(query.get("limit", "1000"))
        return JSONResponse(
            [{k: m[k] for k in ("_id", "id", "likes", "pipeline_tag")} for m in found[:limit]]
        )

    def valid_webhook(self, body: Any) -> str | None:
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
        domains = body.get("domains")
        if (
            not isinstance(domains, list)
            or not domains
            or not set(domains) <= {"repo", "discussion"}
        ):
            return "domains must be repo and/or discussion"
        if not body.get("url") and not body.get("jobSourceId"):
            return "url or jobSourceId is required"
        return None

    def public(self, hook: dict[str, Any]) -> dict[str, Any]:
        # The Hub says whether there is a secret, never what it is.
        shown = {k: v for k, v in hook.items() if k != "secret"}
        return {**shown, "hasSecret": bool(hook.get("secret"))}

    async def list_or_create_webhooks(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if request.method == "GET":
            return JSONResponse([self.public(h) for h in self.webhooks.values()])
        if problem := self.valid_webhook(entry.body):
            return JSONResponse({"error": problem}, 400)
        hook = {"id": next(self.ids), "disabled": False, **entry.body}
        self.webhooks[hook["id"]] = hook
        return JSONResponse({"webhook": self.public(hook)})

    async def one_webhook(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        hook = self.webhooks.get(request.path_params["hook"])
        if hook is None:
            return JSONResponse({"error": "Webhook not found"}, 404)
        if request.method == "DELETE":
            del self.webhooks[hook["id"]]
            return JSONResponse({})
        if request.method == "POST":
            if problem := self.valid_webhook(entry.body):
                return JSONResponse({"error": problem}, 400)
            hook.update(entry.body)
        return JSONResponse({"webhook": self.public(hook)})

    async def switch_webhook(self, request: Request) -> Response:
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        hook = self.webhooks.get(request.path_params["hook"])
        switch = request.path_params["switch"]
        if hook is None or switch not in ("enable", "disable"):
            return JSONResponse({"error": "Not Found"}, 404)
        hook["disabled"] = switch == "disable"
        return JSONResponse({"webhook": self.public(hook)})


def _live(model: dict[str, Any]) -> bool:
    return any(e["status"] == "live" for e in model["inferenceProviderMapping"].values())
