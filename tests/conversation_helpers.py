"""What the conversation tests share: comments said in a fake discussion and delivered as the
Hub delivers them, and the jobs they made, read from the store's file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.botprocess import eventually
from tests.conftest import deliver, load_payload
from tests.fakes import FakeHub
from tests.fakes.hub_common import user_id

THREAD = "/api/models/some-user/some-repo/discussions/4"


def payload_for(event: dict[str, Any], *, pull_request: bool = False) -> dict[str, Any]:
    """The webhook payload the Hub sends for a comment put into the fake discussion."""
    payload = load_payload("comment_create_mention")
    payload["comment"]["id"] = event["id"]
    payload["comment"]["author"]["id"] = user_id(event["author"]["name"])
    payload["comment"]["content"] = event["data"]["latest"]["raw"]
    payload["discussion"]["isPullRequest"] = pull_request
    return payload


def say(
    hub: FakeHub, client: httpx.Client, author: str, text: str, **more: Any
) -> tuple[str, httpx.Response]:
    """`author` writes `text` in the discussion; the Hub delivers it. The comment's id, and
    the bot's answer to the delivery."""
    event = hub.add_comment(THREAD, author, text, created=more.pop("created", None))
    return event["id"], deliver(client, payload_for(event, **more))


def job_of(database: Path, comment_id: str) -> tuple[str, str, str]:
    """(status, kind, reason) of the comment's job, once it is finished."""
    found: list[tuple[str, str, str]] = []

    def finished() -> bool:
        with sqlite3.connect(database, timeout=5) as db:
            row = db.execute(
                "SELECT status, kind, reason FROM jobs WHERE comment_id = ?", (comment_id,)
            ).fetchone()
        if row and row[0] in ("done", "dead"):
            found.append((str(row[0]), str(row[1]), str(row[2] or "")))
            return True
        return False

    eventually(finished, what=f"the job of comment {comment_id} to finish")
    return found[-1]
