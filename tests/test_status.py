"""The status page and /metrics: what an operator sees, and what a stranger must not."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bot.config import Secret
from tests.conftest import deliver, load_payload
from tests.fakes import FakeHub, FakeModel

Start = Callable[..., httpx.Client]


def private_mention() -> dict[str, object]:
    payload = load_payload("comment_create_mention")
    payload["repo"]["name"] = "secret-org/stealth-model"
    payload["repo"]["private"] = True
    payload["comment"]["id"] = "1" * 24
    return payload


def test_status_page_shows_health_and_deliveries_but_no_comment_text_or_private_repos(
    client: httpx.Client, hub: FakeHub
) -> None:
    assert deliver(client, load_payload("comment_create_mention")).status_code == 202
    assert deliver(client, private_mention()).json()["status"] == "ignored"
    assert deliver(client, load_payload("repo_content_update")).status_code == 200
    assert hub.wait_until(lambda: len(hub.comments) == 1)

    page = client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Account <strong>hub-bot</strong>" in html
    assert "http://localhost:7860/webhook" in html
    assert "bigscience/bloom via INFERENCE_URL (text-generation)" in html
    assert "some-user/some-repo" in html
    assert "private repo" in html
    assert "repo is private and ANSWER_PRIVATE_REPOS is off" in html
    assert "stealth" not in html and "secret-org" not in html
    assert "license covers these weights" not in html  # the comment's text
    assert html.count("<tr>") == 4  # a header and three deliveries


def test_status_and_metrics_can_be_put_behind_a_token(make_client: Start) -> None:
    client = make_client(status_token=Secret("let-me-see"))

    for path in ("/", "/metrics"):
        assert client.get(path).status_code == 401
        assert client.get(path, params={"token": "wrong"}).status_code == 401
        assert client.get(path, params={"token": "let-me-see"}).status_code == 200
        bearer = {"Authorization": "Bearer let-me-see"}
        assert client.get(path, headers=bearer).status_code == 200
    assert client.get("/health").status_code == 200


def test_metrics_count_deliveries_jobs_queue_and_latency(
    client: httpx.Client, hub: FakeHub, model: FakeModel
) -> None:
    deliver(client, load_payload("comment_create_mention"))
    assert hub.wait_until(lambda: len(hub.comments) == 1)
    deliver(client, load_payload("comment_create_mention"))
    deliver(client, load_payload("comment_create_no_mention"))
    client.post("/webhook", content=b"{}")

    text = client.get("/metrics").text

    assert 'bot_deliveries_total{outcome="queued",reason=""} 1.0' in text
    assert 'bot_deliveries_total{outcome="duplicate",reason=""} 1.0' in text
    assert 'bot_deliveries_total{outcome="ignored",reason="no_mention"} 1.0' in text
    assert 'bot_deliveries_total{outcome="unauthorised",reason="unauthorised"} 1.0' in text
    assert 'bot_jobs_total{outcome="replied"} 1.0' in text
    assert "bot_queue_depth 0.0" in text
    assert "bot_oldest_job_age_seconds 0.0" in text
    assert 'bot_upstream_call_seconds_count{service="model"} 1.0' in text
    # Thread, facts, card, post.
    assert 'bot_upstream_call_seconds_count{service="Hub"} 4.0' in text
