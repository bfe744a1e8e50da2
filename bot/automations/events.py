"""Repo events, read from a webhook payload (version 3): what an automation rule can act on.

Two events count. A push to main: scope `repo.content`, whose `updatedRefs` include
`refs/heads/main` with a new sha (`repo.headSha` alone says nothing about which branch moved).
A new pull request: scope `discussion`, action `create`, `isPullRequest` true. Anything else
is not an event for automations, and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import msgspec

from bot.events import REPO_TYPES, normalize_scope

MAIN = "refs/heads/main"
_SHA = re.compile(r"[0-9a-f]{40}")
# ns/name, or a bare name for the Hub's oldest repos (gpt2)
_REPO_ID = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


class _Event(msgspec.Struct, frozen=True):
    action: str
    scope: str


class _Repo(msgspec.Struct, frozen=True):
    type: str
    name: str
    private: bool = False
    head_sha: str | None = msgspec.field(default=None, name="headSha")


class _Ref(msgspec.Struct, frozen=True):
    ref: str
    old_sha: str | None = msgspec.field(default=None, name="oldSha")
    new_sha: str | None = msgspec.field(default=None, name="newSha")


class _Discussion(msgspec.Struct, frozen=True):
    num: Annotated[int, msgspec.Meta(ge=1)]
    is_pull_request: bool = msgspec.field(default=False, name="isPullRequest")


class _Payload(msgspec.Struct, frozen=True):
    event: _Event
    repo: _Repo | None = None
    discussion: _Discussion | None = None
    updated_refs: list[_Ref] = msgspec.field(default_factory=list, name="updatedRefs")


_DECODER = msgspec.json.Decoder(_Payload)


@dataclass(frozen=True)
class RepoEvent:
    """A push to main (`revision` the new sha) or a new pull request (`revision` pr-<num>)."""

    event: str  # push | pull_request
    repo_type: str
    repo: str
    private: bool
    revision: str
    refs: tuple[tuple[str, str | None, str | None], ...] = ()
    pull_request: int = 0


@dataclass(frozen=True)
class NotForAutomations:
    reason: str


def repo_event(body: bytes) -> RepoEvent | NotForAutomations:
    """The repo event in a delivery's body, or why there is none. Never raises: a body the
    mention path already accepted is read again here, and one it refused never gets here."""
    try:
        payload = _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return NotForAutomations("not a repo event the automations can read")
    scope, action = normalize_scope(payload.event.scope, payload.event.action)
    repo = payload.repo
    if repo is None or repo.type not in REPO_TYPES or not _REPO_ID.fullmatch(repo.name):
        return NotForAutomations("the payload names no repo")
    if scope == "repo.content" and action == "update":
        main = next((ref for ref in payload.updated_refs if ref.ref == MAIN), None)
        if main is None or main.new_sha is None or not _SHA.fullmatch(main.new_sha):
            return NotForAutomations("a push, but not to refs/heads/main")
        refs = tuple((ref.ref[:200], ref.old_sha, ref.new_sha) for ref in payload.updated_refs)
        return RepoEvent("push", repo.type, repo.name, repo.private, main.new_sha, refs[:20])
    discussion = payload.discussion
    if scope == "discussion" and action == "create" and discussion and discussion.is_pull_request:
        num = discussion.num
        return RepoEvent(
            "pull_request", repo.type, repo.name, repo.private, f"pr-{num}", pull_request=num
        )
    return NotForAutomations(f"scope {payload.event.scope[:60]!r} is not a push or a new PR")
