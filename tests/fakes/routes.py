"""The fake Hub's routes, in one table: what it answers, and which method of FakeHub does."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

HOOKS = "/api/settings/webhooks"
DISCUSSION = "/api/{kind}/{repo:path}/discussions/{num:int}"
RESOLVE = "/{namespace}/{name}/resolve/{rev}/{path:path}"
REPO = "/api/{kind:str}/{namespace}/{name}"
JOBS = "/api/jobs/{namespace}"


def hub_routes(hub: Any) -> list[Route]:
    return [
        Route(HOOKS, hub.list_or_create_webhooks, methods=["GET", "POST"]),
        Route(HOOKS + "/{hook}", hub.one_webhook, methods=["GET", "POST", "DELETE"]),
        Route(HOOKS + "/{hook}/{switch:str}", hub.switch_webhook, methods=["POST"]),
        Route("/api/whoami-v2", hub.whoami, methods=["GET"]),
        Route(JOBS, hub.list_or_start_jobs, methods=["GET", "POST"]),
        Route(JOBS + "/auth-check/{perms}", hub.jobs_access, methods=["POST"]),
        Route(JOBS + "/{job}", hub.inspect_job, methods=["GET"]),
        Route(REPO + "/discussions", hub.list_or_open_discussions, methods=["GET", "POST"]),
        Route(DISCUSSION + "/comment", hub.comment, methods=["POST"]),
        Route(DISCUSSION + "/comment/{comment_id}/edit", hub.edit_comment, methods=["POST"]),
        Route(DISCUSSION, hub.discussion, methods=["GET"]),
        Route("/api/models", hub.model_listing, methods=["GET"]),
        Route("/api/spaces/{namespace}/{name}/runtime", hub.runtime, methods=["GET"]),
        Route(REPO + "/paths-info/{rev:path}", hub.paths_info, methods=["POST"]),
        Route("/api/{kind:str}/{repo:path}", hub.repo_info, methods=["GET"]),
        Route(RESOLVE, hub.resolve, methods=["GET"]),
        Route("/{kind:str}" + RESOLVE, hub.resolve, methods=["GET"]),
    ]
