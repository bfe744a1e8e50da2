"""A fake of the Hub's REST API, for one valid token, shaped after ../shared/HUB_API.md and the
Hub's OpenAPI description: whoami and discussions here; repos (facts, cards, model info and
listing) in hub_repos, webhooks in hub_webhooks.

Posted comments are kept per discussion and served back as its events, so the bot finds its
own earlier replies. A discussion can be closed, locked (a comment POST is refused with 403),
deleted (404), have comments hidden or written by deleted accounts (no `author`), and take a
comment late: stored, and answered, after a delay longer than the bot waits (`commit_late`).
Every answer carries the `RateLimit` headers the real Hub sends on every answer, errors an
`X-Request-Id`, and every exchange is checked against the Hub's OpenAPI description
(middleware).
"""

from __future__ import annotations

import asyncio
import threading
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
from tests.fakes.hub_jobs import JobRoutes
from tests.fakes.hub_repos import RepoRoutes
from tests.fakes.hub_webhooks import WebhookRoutes
from tests.fakes.middleware import OpenAPICheck, RateLimitHeaders
from tests.fakes.recorder import Received
from tests.fakes.routes import hub_routes

__all__ = ["BOT_ID", "BOT_NAME", "TOKEN", "FakeHub", "author"]


class FakeHub(RepoRoutes, WebhookRoutes, JobRoutes):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self.threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pull_requests: dict[str, dict[str, Any]] = {}  # discussion path -> its changes
        # Who the discussion read marks as the repo's owner, or a member of its organisation.
        self.owners: set[str] = set()
        self.org_members: set[str] = set()
        self.states: dict[str, dict[str, Any]] = {}  # discussion path -> {status, locked}
        self.deleted: set[str] = set()  # discussion paths that answer 404
        self.late_commit: float | None = None  # the next comment lands this many seconds late
        self.whoami_open = threading.Event()  # cleared: whoami waits (`hold_whoami`)
        self.whoami_open.set()
        self.app = Starlette(
            routes=hub_routes(self),
            middleware=[Middleware(OpenAPICheck, hub=self), Middleware(RateLimitHeaders)],
        )

    # -- what a test sets up (repos: see RepoRoutes) ----------------------------------------

    def add_comment(
        self,
        thread: str,
        author_name: str | None,
        text: str,
        *,
        comment_id: str | None = None,
        created: str | None = None,
        hidden: bool = False,
    ) -> dict[str, Any]:
        """Put a comment into a discussion (its API path), as the Hub shows it in its events.
        `author_name` None: its account was deleted, and the Hub leaves `author` out."""
        created = created or now_iso()
        latest: dict[str, Any] = {"raw": text, "html": f"<p>{text}</p>", "updatedAt": created}
        event: dict[str, Any] = {
            "id": comment_id or next(self.ids),
            "type": "comment",
            "createdAt": created,
            "data": {
                "edited": False,
                "hidden": hidden,
                "latest": latest,
                "numEdits": 0,
                "editors": [author_name] if author_name else [],
                "editorAvatarUrls": ["/avatars/0000.svg"] if author_name else [],
                "reactions": [],
            },
        }
        if author_name is not None:
            event["author"] = latest["author"] = author(author_name)
        self.threads[thread].append(event)
        self.changed()
        return event

    def set_state(self, thread: str, *, status: str = "open", locked: bool = False) -> None:
        """Close, merge or lock a discussion (its API path), as a maintainer would."""
        self.states[thread] = {"status": status, "locked": locked}

    def hide(self, thread: str, comment_id: str) -> None:
        """Hide a comment, as a moderator does: the Hub keeps it, marked hidden."""
        for event in self.threads[thread]:
            if event["id"] == comment_id:
                event["data"]["hidden"] = True

    def commit_late(self, after: float) -> None:
        """The next comment POST is stored `after` seconds after it arrives, and only then
        answered (201, to a client that gave up waiting, when `after` is past its timeout),
        as the Hub does when it commits slowly: what the bot sees is a POST that timed out."""
        self.late_commit = after

    def hold_whoami(self) -> None:
        """whoami takes no answer until `release_whoami`: a bot that is starting stays there."""
        self.whoami_open.clear()

    def release_whoami(self) -> None:
        self.whoami_open.set()

    def _error(self, status: int, message: str) -> Response:
        """An error as the Hub answers one: `{"error"}`, with the request's id."""
        return JSONResponse({"error": message}, status, {"X-Request-Id": next(self.ids)})

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

    @property
    def edits(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/edit")]

    def _marked(self, event: dict[str, Any]) -> dict[str, Any]:
        """An event as the discussion read shows it: its author marked relative to the repo."""
        who = event.get("author")
        if not isinstance(who, dict):
            return event
        marks = {
            "isOwner": who["name"] in self.owners,
            "isOrgMember": who["name"] in self.org_members,
        }
        return {**event, "author": {**who, **marks}}

    # -- the routes ---------------------------------------------------------------------

    async def whoami(self, request: Request) -> Response:
        await self.record(request)
        if not self.whoami_open.is_set():
            await asyncio.to_thread(self.whoami_open.wait, 60)
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
        if thread in self.deleted:
            return self._error(404, "Discussion not found")
        if self.states.get(thread, {}).get("locked"):
            return self._error(403, "This discussion is locked")
        if self.late_commit is not None:
            after, self.late_commit = self.late_commit, None
            # Stored on the server's own time, whatever became of the request.
            asyncio.get_running_loop().call_later(after, self.add_comment, thread, BOT_NAME, text)
            await asyncio.sleep(after)
            return JSONResponse({"newMessage": self.threads[thread][-1]}, 201)
        event = self.add_comment(thread, BOT_NAME, text)
        # A scripted 2xx is a comment posted with a garbled or lost answer.
        return scripted.response() if scripted else JSONResponse({"newMessage": event}, 201)

    async def edit_comment(self, request: Request) -> Response:
        """`POST .../comment/{id}/edit` `{"content"}`: the comment's new text, its edit counted;
        only its author's (the bot's) comments can be edited."""
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "edit"):
            return scripted.response()
        text = entry.body.get("content") if isinstance(entry.body, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= 65536:
            return JSONResponse({"error": "content must be 1 to 65536 characters"}, 400)
        thread = request.url.path.rsplit("/comment/", 1)[0]
        wanted = request.path_params["comment_id"]
        event = next((e for e in self.threads[thread] if e["id"] == wanted), None)
        if event is None:
            return JSONResponse({"error": "Comment not found"}, 404)
        if event["author"]["name"] != BOT_NAME:
            return JSONResponse({"error": "You can only edit your own comments"}, 403)
        data = event["data"]
        data["edited"], data["numEdits"] = True, data["numEdits"] + 1
        data["latest"] = {**data["latest"], "raw": text, "html": f"<p>{text}</p>"}
        data["latest"]["updatedAt"] = now_iso()
        return JSONResponse({"updatedComment": event})

    async def discussion(self, request: Request) -> Response:
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "discussion"):
            return scripted.response()
        if request.url.path in self.deleted:
            return self._error(404, "Discussion not found")
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
            "events": [self._marked(event) for event in self.threads[request.url.path]],
        }
        details |= self.states.get(request.url.path, {})
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
