"""How the Hub's failed answers are read: its own words (`X-Error-Message`, the body's `error`),
its error code (`X-Error-Code`) and its request id (`X-Request-Id`), and what a 401 means where."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.errors import NotFound, TransientError, UpstreamError
from bot.events import DiscussionRef
from bot.hub.client import HubClient
from bot.upstream import RetryPolicy
from tests.conftest import RecordedSleep
from tests.fakes import TOKEN, FakeHub

pytestmark = pytest.mark.anyio
WHERE = DiscussionRef("model", "some-user/some-repo", 4)
BAD_TOKEN = {"error": "Invalid credentials in Authorization header"}


def client_answering(response: httpx.Response) -> HubClient:
    """A Hub client whose every request gets a copy of `response` (httpx MockTransport)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    transport = httpx.MockTransport(answer)
    http = httpx.AsyncClient(base_url="http://hub.test", transport=transport)
    return HubClient(http, RetryPolicy(budget=0, max_attempts=1, sleep=RecordedSleep()))


async def failure(response: httpx.Response, read: str = "facts") -> UpstreamError:
    hub = client_answering(response)
    with pytest.raises(UpstreamError) as caught:
        if read == "facts":
            await hub.read_json("/api/models/some-user/gated-repo", "read repo facts")
        elif read == "card":
            await hub.read_text("/some-user/gated-repo/resolve/main/README.md", "read card", 100)
        elif read == "webhooks":
            await hub.webhooks()
        else:
            await hub.discussion(WHERE)
    return caught.value


async def test_a_401_on_a_repo_read_means_not_found_gated_or_private() -> None:
    answer = httpx.Response(
        401,
        json={"error": "Repository not found"},
        headers={"X-Error-Code": "RepoNotFound", "X-Request-Id": "Root=1-abc"},
    )

    for read in ("facts", "card", "discussion"):
        error = await failure(answer, read)
        assert isinstance(error, NotFound)
        assert "HF_TOKEN" not in error.summary()
        assert error.summary().startswith("Hub: HTTP 401 RepoNotFound: Repository not found")
        assert error.summary().endswith("[request Root=1-abc]")
        if read != "facts":  # the repo's own facts: its caller names the repo instead
            assert "gated or private" in error.hint


async def test_a_401_that_is_about_the_token_says_so() -> None:
    for read in ("facts", "webhooks"):
        error = await failure(httpx.Response(401, json=BAD_TOKEN), read)
        assert not isinstance(error, NotFound)
        assert error.hint == "HF_TOKEN is invalid or expired"


async def test_a_404_is_not_found_and_not_retried() -> None:
    error = await failure(httpx.Response(404, json={"error": "Discussion not found"}), "discussion")

    assert isinstance(error, NotFound) and not isinstance(error, TransientError)
    assert error.detail == "Discussion not found"


async def test_the_error_headers_are_read_beside_the_body() -> None:
    answer = httpx.Response(
        403,
        json={"error": "Forbidden"},
        headers={
            "X-Error-Code": "GatedRepo",
            "X-Error-Message": "Access to model some-user/gated-repo is restricted.",
            "X-Request-Id": "req-42",
        },
    )

    error = await failure(answer)

    assert (error.code, error.request_id) == ("GatedRepo", "req-42")
    assert error.detail == "Access to model some-user/gated-repo is restricted.; Forbidden"
    # Without a body, the header's words are the message; the load balancer's trace id
    # stands in for a missing request id.
    bare = httpx.Response(500, headers={"X-Error-Message": "boom", "X-Amzn-Trace-Id": "Root=1-x"})
    error = await failure(bare)
    assert isinstance(error, TransientError)
    assert (error.detail, error.request_id) == ("boom", "Root=1-x")


async def test_a_header_cannot_break_a_log_line_or_grow_without_bound() -> None:
    answer = httpx.Response(
        400, json={"error": "bad"}, headers={"X-Request-Id": "a\tb  c" + "x" * 500}
    )

    error = await failure(answer)

    assert error.request_id is not None and "\t" not in error.request_id
    assert error.request_id.startswith("a b c") and len(error.request_id) == 100


async def test_the_fake_hub_refuses_a_comment_on_a_locked_discussion_with_a_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = FakeHub()
    thread = "/api/models/some-user/some-repo/discussions/4"
    hub.set_state(thread, locked=True)
    http = httpx.AsyncClient(
        base_url="http://hub.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
        transport=httpx.ASGITransport(app=hub.app),
    )
    client = HubClient(http, RetryPolicy(sleep=RecordedSleep()))

    with pytest.raises(UpstreamError) as caught:
        await client.post_comment(WHERE, "hello")

    assert caught.value.status == 403 and caught.value.request_id
    assert "must not be locked" in caught.value.hint
    assert hub.threads[thread] == []
    details = await client.discussion(WHERE)
    assert isinstance(details, dict) and details["locked"] is True
    hub.deleted.add(thread)
    with caplog.at_level(logging.WARNING), pytest.raises(NotFound):
        await client.discussion(WHERE)  # a 404 is not retried: no "retrying" line
    assert "retrying" not in caplog.text
    assert hub.violations == []
