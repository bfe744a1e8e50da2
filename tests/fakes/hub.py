"""A fake of the Hub's REST API, for one valid token, shaped after ../shared/HUB_API.md and the
Hub's OpenAPI description: whoami and discussions here; repos (facts, cards, model info and
listing) in hub_repos, webhooks in hub_webhooks.

Posted comments are kept per discussion and served back as its events, so the bot finds its
own earlier replies. Every answer carries the `RateLimit` headers the real Hub sends on every
answer, and every exchange is checked against the Hub's OpenAPI description (middleware).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.hub_common import (
    BOT_ID,
    BOT_NAME,
    TOKEN,
    UNAUTHORISED,
    author,
    now_iso,
)
from tests.fakes.hub_repos import RepoRoutes
from tests.fakes.hub_webhooks import WebhookRoutes
from tests.fakes.middleware import OpenAPICheck, RateLimitHeaders
from tests.fakes.recorder import Received
from tests.fakes.routes import hub_routes

__all__ = ["BOT_ID", "BOT_NAME", "TOKEN", "FakeHub", "author"]


class FakeHub(RepoRoutes, WebhookRoutes):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self.threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pull_requests: dict[str, dict[str, Any]] = {}  # discussion path -> its changes
        self.app = Starlette(
            routes=hub_routes(self),
            middleware=[Middleware(OpenAPICheck, hub=self), Middleware(RateLimitHeaders)],
        )

    # -- what a test sets up (repos: see RepoRoutes) ----------------------------------------

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
    def comments(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/comment")]

    # -- the routes ---------------------------------------------------------------------

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
                        "role": "fineGrained" if self.fine_grained else self.token_role,
                        "createdAt": "2026-01-01T00:00:00.000Z",
                        **({"fineGrained": self.fine_grained} if self.fine_grained else {}),
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
