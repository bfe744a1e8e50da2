"""The fake Hub's Jobs API (start, list by label, inspect, access check) and the discussion
list and create routes automations use, shaped after ../shared/HUB_API.md and the Hub's
OpenAPI description (checked on every exchange by the middleware).

A Job starts SCHEDULING and moves one stage each time it is inspected: RUNNING, then
`jobs_end_in` (COMPLETED, or ERROR with `jobs_error`). `hold_jobs()` keeps Jobs RUNNING until
`release_jobs()`, so a test can kill the bot while it follows one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.hub_common import BOT_ID, BOT_NAME, UNAUTHORISED, HubBase, author, now_iso

NEXT_STAGE = {"SCHEDULING": "RUNNING"}


class JobRoutes(HubBase):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.hub_jobs: dict[str, list[dict[str, Any]]] = defaultdict(list)  # namespace -> Jobs
        self.jobs_end_in = "COMPLETED"
        self.jobs_error = "Process exited with code 1: CUDA out of memory"
        self.jobs_allowed: set[str] | None = None  # namespaces the token may run Jobs in
        self.jobs_held = False
        # Discussions opened through the API, per repo path (/api/{kind}/{ns}/{name}).
        self.opened: dict[str, list[dict[str, Any]]] = defaultdict(list)

    # -- what a test sets up or reads ----------------------------------------------------

    def hold_jobs(self) -> None:
        self.jobs_held = True

    def release_jobs(self) -> None:
        self.jobs_held = False
        self.changed()

    @property
    def started_jobs(self) -> list[dict[str, Any]]:
        return [job for jobs in self.hub_jobs.values() for job in jobs]

    # -- Jobs -----------------------------------------------------------------------------

    async def list_or_start_jobs(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        namespace = request.path_params["namespace"]
        if request.method == "GET":
            wanted = [v for k, v in request.query_params.multi_items() if k == "label"]
            pairs = [tuple(label.split("=", 1)) for label in wanted]
            found = [
                job
                for job in self.hub_jobs[namespace]
                if all(job["labels"].get(k) == v for k, v in pairs)
            ]
            return JSONResponse(found)
        if self.jobs_allowed is not None and namespace not in self.jobs_allowed:
            return JSONResponse({"error": "You don't have access to run jobs here"}, 403)
        body = entry.body if isinstance(entry.body, dict) else {}
        job = {
            "id": next(self.ids),
            "createdAt": now_iso(),
            **{k: body[k] for k in ("dockerImage", "spaceId") if k in body},
            "command": body.get("command", []),
            "arguments": body.get("arguments", []),
            "environment": body.get("environment", {}),
            "secrets": sorted(body.get("secrets", {})),  # names only: values are never shown
            "flavor": body.get("flavor", "cpu-basic"),
            "timeout": body.get("timeoutSeconds") or 1800,
            "labels": body.get("labels", {}),
            "createdBy": {"id": BOT_ID, "name": BOT_NAME},
            "type": "job",
            "owner": {"id": BOT_ID, "name": namespace, "type": "user", "avatarUrl": "/a.svg"},
            "status": {"stage": "SCHEDULING", "message": None},
        }
        self.hub_jobs[namespace].append(job)
        return JSONResponse(job)

    async def inspect_job(self, request: Request) -> Response:
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        namespace, job_id = request.path_params["namespace"], request.path_params["job"]
        job = next((j for j in self.hub_jobs[namespace] if j["id"] == job_id), None)
        if job is None:
            return JSONResponse({"error": "Job not found"}, 404)
        stage = job["status"]["stage"]
        if stage == "RUNNING" and not self.jobs_held:
            ended = self.jobs_end_in
            message = self.jobs_error if ended == "ERROR" else None
            job["status"] = {"stage": ended, "message": message}
            job["durations"] = {"schedulingSecs": 4, "runningSecs": 121, "totalSecs": 125}
        elif stage in NEXT_STAGE:
            job["status"] = {"stage": NEXT_STAGE[stage], "message": None}
        return JSONResponse(job)

    async def jobs_access(self, request: Request) -> Response:
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        namespace = request.path_params["namespace"]
        if self.jobs_allowed is not None and namespace not in self.jobs_allowed:
            return JSONResponse({"error": "You don't have access to jobs here"}, 403)
        user = {"id": BOT_ID, "name": BOT_NAME}
        return JSONResponse({"namespace": {"id": BOT_ID, "name": namespace}, "user": user})

    # -- discussions: list and create ---------------------------------------------------

    async def list_or_open_discussions(self, request: Request) -> Response:
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        kind = request.path_params["kind"]
        if kind not in ("models", "datasets", "spaces"):
            return JSONResponse({"error": "Not Found"}, 404)
        repo = f"{request.path_params['namespace']}/{request.path_params['name']}"
        where = f"/api/{kind}/{repo}"
        if request.method == "GET":
            by, search = request.query_params.get("author"), request.query_params.get("search")
            listed = [
                d
                for d in self.opened[where]
                if (not by or d["author"]["name"] == by) and (not search or search in d["title"])
            ]
            return JSONResponse({"discussions": listed, "count": len(listed), "start": 0})
        body = entry.body if isinstance(entry.body, dict) else {}
        title, text = body.get("title"), body.get("description")
        if not isinstance(title, str) or not 3 <= len(title) <= 200 or not isinstance(text, str):
            return JSONResponse({"error": "title (3-200 characters) and description needed"}, 400)
        num = len(self.opened[where]) + 1 + 100  # numbers of their own, clear of other tests'
        self.opened[where].append(
            {
                "num": num,
                "author": author(BOT_NAME),
                "repo": {"name": repo, "type": kind.removesuffix("s")},
                "title": title,
                "createdAt": now_iso(),
                "topReactions": [],
                "status": "open",
                "isPullRequest": False,
                "numComments": 1,
                "numReactionUsers": 0,
                "pinned": False,
            }
        )
        self.add_opening_post(f"{where}/discussions/{num}", text)
        return JSONResponse(
            {"url": f"https://huggingface.co/{repo}/discussions/{num}", "num": num,
             "pullRequest": False}
        )  # fmt: skip

    def add_opening_post(self, thread: str, text: str) -> None:
        """The discussion's first event, kept with FakeHub's threads."""
        hub: Any = self
        hub.add_comment(thread, BOT_NAME, text)
