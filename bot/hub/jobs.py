"""The Hub's Jobs API (run a container on the Hub) and the discussion calls automations need,
as the bot uses them: start a Job, find Jobs by their labels, inspect one; find a discussion
the bot opened by its title, open one.

Reads are retried on transient failures; the two POSTs that make something (a Job, a
discussion) never are: the caller looks on the Hub first (labels, titles), so after an
ambiguous failure the next attempt finds what the first one made instead of making another.
Every URL is built here from HF_ENDPOINT and checked names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bot.errors import UpstreamError
from bot.hub.client import HubCalls
from bot.upstream import (
    CallLimits,
    Observer,
    RetryPolicy,
    error_from_response,
    ignore_call,
)
from bot.upstream_json import json_body

SERVICE = "Hub"
ENDED = ("COMPLETED", "ERROR", "CANCELED", "DELETED")
_LABEL = re.compile(r"[A-Za-z0-9._-]{1,100}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def label_value(text: str) -> str:
    """`text` as a Job label's value (letters, digits, `.`, `_`, `-`; 100 at most): a repo id's
    `/` becomes `--`, which no repo id contains, and anything else unsafe becomes `_`."""
    return _UNSAFE.sub("_", text.replace("/", "--"))[:100]


@dataclass(frozen=True)
class JobInfo:
    """A Hub Job as the bot follows it."""

    id: str
    namespace: str
    stage: str
    message: str | None
    labels: dict[str, str]
    seconds: float | None  # how long it ran in all, once the Hub says

    @property
    def ended(self) -> bool:
        return self.stage in ENDED

    def web_url(self, endpoint: str) -> str:
        return f"{endpoint}/jobs/{quote(self.namespace, safe='')}/{quote(self.id, safe='')}"


def _job_of(body: object, namespace: str) -> JobInfo:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise UpstreamError(SERVICE, 200, "the Job answer has no id")
    status = body.get("status") if isinstance(body.get("status"), dict) else {}
    durations = body.get("durations") if isinstance(body.get("durations"), dict) else {}
    labels = body.get("labels") if isinstance(body.get("labels"), dict) else {}
    seconds = durations.get("totalSecs") if isinstance(durations, dict) else None
    message = status.get("message") if isinstance(status, dict) else None
    return JobInfo(
        id=body["id"],
        namespace=namespace,
        stage=str(status.get("stage", "")) if isinstance(status, dict) else "",
        message=str(message)[:2000] if message else None,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )


class HubJobs(HubCalls):
    def __init__(
        self,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        observe: Observer = ignore_call,
        limits: CallLimits | None = None,
    ) -> None:
        """`http` carries HF_ENDPOINT as base_url and the bearer token, as for HubClient."""
        super().__init__(http, retry, observe, limits or CallLimits(deadline=15.0))

    # -- Jobs ---------------------------------------------------------------------------

    async def start(self, namespace: str, spec: dict[str, Any]) -> JobInfo:
        """`POST /api/jobs/{namespace}`; never retried (see the module's docstring)."""
        response = await self._send("POST", _jobs(namespace), json=spec)
        return _job_of(self._checked(response, "start a Job"), namespace)

    async def find(self, namespace: str, labels: dict[str, str]) -> list[JobInfo]:
        """The Jobs that carry all these labels (the first page: labels name one run)."""
        for key, value in labels.items():
            if not _LABEL.fullmatch(key) or not _LABEL.fullmatch(value):
                raise ValueError(f"not a Job label: {key}={value}")
        query = urlencode([("label", f"{key}={value}") for key, value in labels.items()])
        found = await self._read(f"{_jobs(namespace)}?{query}", "list Jobs")
        listed = found if isinstance(found, list) else []
        return [_job_of(item, namespace) for item in listed if isinstance(item, dict)]

    async def inspect(self, namespace: str, job_id: str) -> JobInfo:
        path = f"{_jobs(namespace)}/{quote(job_id, safe='')}"
        return _job_of(await self._read(path, "inspect a Job"), namespace)

    async def can_run(self, namespace: str) -> bool:
        """Whether the token may start Jobs in `namespace` (`auth-check/write`)."""
        path = f"{_jobs(namespace)}/auth-check/write"
        response = await self._send("POST", path)
        if response.status_code in (401, 403, 404):
            return False
        self._checked(response, "check Jobs access")
        return True

    # -- discussions the automations open -------------------------------------------------

    async def find_discussion(
        self, repo_type: str, repo: str, title: str, author: str
    ) -> int | None:
        """The number of the discussion titled `title` that `author` opened, if any."""
        query = urlencode({"author": author, "search": title, "type": "discussion"})
        found = await self._read(f"{_discussions(repo_type, repo)}?{query}", "list discussions")
        listed = found.get("discussions") if isinstance(found, dict) else None
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict) and item.get("title") == title:
                opener = item.get("author")
                if not isinstance(opener, dict) or opener.get("name") == author:
                    return int(item["num"])
        return None

    async def open_discussion(self, repo_type: str, repo: str, title: str, text: str) -> int:
        """Open a discussion; its number. Never retried: look for it first."""
        sent = {"title": title, "description": text, "pullRequest": False}
        response = await self._send("POST", _discussions(repo_type, repo), json=sent)
        body = self._checked(response, "open a discussion")
        num = body.get("num") if isinstance(body, dict) else None
        if not isinstance(num, int | float):
            raise UpstreamError(SERVICE, response.status_code, "the answer has no discussion num")
        return int(num)

    # -- plumbing -----------------------------------------------------------------------

    @staticmethod
    def _checked(response: httpx.Response, what: str) -> object:
        if response.is_success:
            return json_body(response, SERVICE)
        hint = {
            401: "HF_TOKEN is invalid or expired",
            403: "the token may not do this here: Jobs need a token allowed to run Jobs in the"
            " namespace, discussions a token allowed to write discussions",
            404: "the namespace, repo or Job does not exist, or is private to the bot",
        }.get(response.status_code, f"{what} failed")
        raise error_from_response(response, SERVICE, hint)


def _jobs(namespace: str) -> str:
    return f"/api/jobs/{quote(namespace, safe='')}"


def _discussions(repo_type: str, repo: str) -> str:
    return f"/api/{repo_type}s/{quote(repo, safe='/')}/discussions"
