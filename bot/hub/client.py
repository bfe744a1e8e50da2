"""The Hub's REST API, as far as the bot uses it: who am I, read a discussion, post a comment,
and manage the account's webhooks.

Every URL is built here from `HF_ENDPOINT` and checked names; none is ever taken from a
webhook payload, so a forged delivery cannot make the bot send its token anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any
from urllib.parse import quote

import httpx

from bot.errors import NotFound, UpstreamError
from bot.events import DiscussionRef, Identity
from bot.upstream import (
    CallLimits,
    Observer,
    RetryPolicy,
    error_from_response,
    fetch,
    ignore_call,
)
from bot.upstream_json import json_body

SERVICE = "Hub"
HUB_LIMITS = CallLimits(deadline=15.0)
WEBHOOKS = "/api/settings/webhooks"


def _hook(webhook_id: str) -> str:
    return f"{WEBHOOKS}/{quote(webhook_id, safe='')}"


def _webhook_of(body: object) -> dict[str, Any]:
    webhook = body.get("webhook", body) if isinstance(body, dict) else None
    if not isinstance(webhook, dict):
        raise UpstreamError(SERVICE, 200, "answer has no webhook")
    return webhook


def discussion_path(ref: DiscussionRef) -> str:
    # Repo type in API paths is always plural, models included.
    return f"/api/{ref.repo_type}s/{quote(ref.repo_name, safe='/')}/discussions/{ref.num}"


# A repo's own routes: the API's (`/api/models/ns/name/...`) and its files' (`.../resolve/...`).
_REPO_ROUTE = re.compile(r"/api/(models|datasets|spaces)/|/(resolve|raw)/")
_BAD_TOKEN = "invalid credentials"  # noqa: S105 - the Hub's words for a token it refuses
_NOT_VISIBLE = ("RepoNotFound", "GatedRepo")  # X-Error-Code: missing, gated or private


def hub_error(response: httpx.Response, what: str) -> UpstreamError:
    """A failed answer of the Hub as the error it means, with what an operator can do.

    The Hub answers 401 both for a bad token and, on a repo's routes, for a repo that is
    missing, gated or private to the token (as huggingface_hub reads it): only the first is
    about HF_TOKEN. A 404, or such a 401, is NotFound: nothing a retry would change.
    """
    status, path = response.status_code, response.request.url.path
    error = error_from_response(response, SERVICE)
    not_visible = error.code in _NOT_VISIBLE or (
        bool(_REPO_ROUTE.search(path)) and _BAD_TOKEN not in error.detail.lower()
    )
    if status == 404 or (status == 401 and not_visible):
        return error_from_response(response, SERVICE, _not_found_hint(path), NotFound)
    hint = {
        401: "HF_TOKEN is invalid or expired",
        403: "the bot's token needs write access (discussion.write), the repo must allow"
        " comments, and the discussion must not be locked",
    }.get(status, f"{what} failed")
    if status == 403 and WEBHOOKS in path:
        hint = "the token may not manage webhooks (fine-grained: user.webhooks.read and .write)"
    return error_from_response(response, SERVICE, hint)


_REPO_INFO = re.compile(r"^/api/(models|datasets|spaces)/[^/]+/[^/]+$")


def _not_found_hint(path: str) -> str:
    """What a 404 means, by what was asked: a webhook, a discussion, a file; nothing for a
    repo's own facts, whose caller names the repo (INFERENCE_MODEL ...) better than a hint."""
    if WEBHOOKS in path:
        return "no webhook of the token's account has this id (see: python -m bot webhooks list)"
    if "/discussions/" in path:
        return "the repo or discussion does not exist, or is gated or private to the bot's token"
    if _REPO_INFO.match(path):
        return ""
    return "the repo or file does not exist, or is gated or private to the bot's token"


class HubCalls:
    """How every call to the Hub is made: within limits, observed for the status page, reads
    retried on transient failures (writes never: their callers look on the Hub first)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        observe: Observer = ignore_call,
        limits: CallLimits = HUB_LIMITS,
    ) -> None:
        """`http` must carry HF_ENDPOINT as base_url and the bearer token as a default header."""
        self._http = http
        self._retry = retry
        self._observe = observe
        self._limits = limits

    async def _read(self, path: str, what: str) -> object:
        """GET a path's JSON. Reads change nothing, so transient failures are retried."""

        async def attempt() -> object:
            return self._checked(await self._send("GET", path), what)

        return await self._retry.call(attempt)

    async def _send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await fetch(
                self._http, method, path, self._limits, SERVICE,
                "check HF_ENDPOINT and the network", **kwargs,
            )  # fmt: skip
        except UpstreamError as error:
            self._observe(SERVICE, time.perf_counter() - started, error.summary())
            raise
        failure = None if response.is_success else f"HTTP {response.status_code} on {method}"
        self._observe(SERVICE, time.perf_counter() - started, failure)
        return response

    @staticmethod
    def _checked(response: httpx.Response, what: str) -> object:
        if response.is_success:
            return json_body(response, SERVICE)
        raise hub_error(response, what)


class HubClient(HubCalls):
    async def whoami(self) -> Identity:
        account = await self.whoami_details()
        return Identity(id=str(account["id"]), name=str(account["name"]))

    async def whoami_details(self) -> dict[str, Any]:
        """The token's account as whoami-v2 gives it, `auth` (what the token may do) included."""

        async def attempt() -> dict[str, Any]:
            response = await self._send("GET", "/api/whoami-v2")
            if response.status_code == 401:
                raise UpstreamError(
                    SERVICE, 401, "the token was rejected", "set HF_TOKEN to a valid token"
                )
            body = self._checked(response, "whoami")
            if not isinstance(body, dict) or not body.get("id") or not body.get("name"):
                raise UpstreamError(SERVICE, response.status_code, "whoami answer has no id/name")
            return body

        return await self._retry.call(attempt)

    async def post_comment(self, ref: DiscussionRef, text: str) -> str:
        """Post `text` and return the new comment's id.

        Never retried here: the API has no idempotency key, so a repeat could post twice.
        """
        response = await self._send(
            "POST", discussion_path(ref) + "/comment", json={"comment": text}
        )
        body = self._checked(response, "post comment")
        message = body.get("newMessage") if isinstance(body, dict) else None
        return str(message.get("id", "")) if isinstance(message, dict) else ""

    async def edit_comment(self, ref: DiscussionRef, comment_id: str, text: str) -> None:
        """Replace the text of one of the bot's own comments. Repeating an edit with the same
        text changes nothing, so it is retried like a read."""
        path = f"{discussion_path(ref)}/comment/{quote(comment_id, safe='')}/edit"

        async def attempt() -> None:
            self._checked(await self._send("POST", path, json={"content": text}), "edit comment")

        await self._retry.call(attempt)

    async def discussion(self, ref: DiscussionRef, diff: bool = False) -> object:
        """The discussion with its events (comments, status changes, ...), as JSON; with `diff`,
        a pull request's changes too."""
        return await self._read(
            discussion_path(ref) + ("?diff=1" if diff else ""), "read discussion"
        )

    async def read_json(self, path: str, what: str) -> object:
        return await self._read(path, what)

    async def read_text(self, path: str, what: str, first_bytes: int) -> str:
        """A file's text, its first bytes only (a Range request); redirects are followed, and
        httpx sends the token to none but HF_ENDPOINT's own origin."""

        async def attempt() -> str:
            response = await self._send(
                "GET", path, headers={"Range": f"bytes=0-{first_bytes - 1}"}, follow_redirects=True
            )
            if not response.is_success:
                raise hub_error(response, what)
            return response.content[:first_bytes].decode("utf-8", errors="replace")

        return await self._retry.call(attempt)

    async def paths_info(self, path: str, paths: list[str]) -> object:
        """What the Hub knows of some files at a revision (type, size, `lfs`), without their
        content: `POST .../paths-info/{rev}`. A read, so transient failures are retried."""

        async def attempt() -> object:
            sent = {"paths": paths, "expand": False}
            return self._checked(await self._send("POST", path, json=sent), "read paths info")

        return await self._retry.call(attempt)

    async def model_info(self, model: str, expand: tuple[str, ...]) -> object:
        """A model's facts, only the `expand`ed fields (and its id)."""
        fields = "&".join(f"expand[]={quote(field)}" for field in expand)
        return await self._read(f"/api/models/{quote(model, safe='/')}?{fields}", "read model")

    async def model_ids(self, query: str) -> list[str]:
        """The ids of a model listing (`/api/models?...`), in the Hub's order."""
        found = await self._read(query, "list models")
        listed = found if isinstance(found, list) else []
        return [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def webhooks(self) -> list[dict[str, Any]]:
        found = await self._read(WEBHOOKS, "list webhooks")
        return [w for w in found if isinstance(w, dict)] if isinstance(found, list) else []

    async def webhook(self, webhook_id: str) -> dict[str, Any]:
        return _webhook_of(await self._read(_hook(webhook_id), "read webhook"))

    async def change_webhook(
        self, webhook_id: str | None, body: dict[str, Any] | None = None, action: str = ""
    ) -> dict[str, Any]:
        """Create (no id), update (body), enable or disable (action) a webhook. Not retried:
        a repeated create would make two."""
        path = _hook(webhook_id) + action if webhook_id else WEBHOOKS
        response = await self._send("POST", path, json=body)
        return _webhook_of(self._checked(response, "change webhook"))

    async def delete_webhook(self, webhook_id: str) -> None:
        self._checked(await self._send("DELETE", _hook(webhook_id)), "delete webhook")


class Whoami:
    """The bot's identity, asked of the Hub once and remembered.

    If the Hub could not be reached at startup the bot serves anyway. Deliveries never wait
    for the Hub: they ask for a lookup in the background (`look_up_soon`) and record what
    they can decide without it; a job asks (`get`) before it runs.
    """

    def __init__(self, hub: HubClient, handle: str | None, known: Identity | None) -> None:
        self._hub = hub
        self.handle = handle  # BOT_USERNAME, when set
        self.known = known
        self._lookup: asyncio.Task[None] | None = None

    async def get(self) -> Identity:
        if self.known is None:
            account = await self._hub.whoami()
            self.known = Identity(account.id, account.name, self.handle or account.name)
        return self.known

    def look_up_soon(self) -> None:
        """Ask the Hub in the background, once at a time; a failure waits for the next ask."""
        if self.known is None and (self._lookup is None or self._lookup.done()):
            self._lookup = asyncio.get_running_loop().create_task(self._look_up())

    async def _look_up(self) -> None:
        with contextlib.suppress(UpstreamError):
            await self.get()
