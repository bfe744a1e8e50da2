"""The fake Hub's webhooks: create, list, update, enable, disable, delete; the secret is never
shown, only whether there is one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.hub_common import UNAUTHORISED, HubBase


class WebhookRoutes(HubBase):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.webhooks: dict[str, dict[str, Any]] = {}

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
