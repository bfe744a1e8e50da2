"""The status page and /metrics: what an operator sees, and what a stranger must not."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from bot.config import Secret
from bot.metrics import Metrics
from bot.upstream import RetryPolicy
from tests.botprocess import eventually
from tests.conftest import deliver, load_payload, mention_in
from tests.fakes import FakeHub, FakeModel, Scripted

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
    html = page.text.replace("<wbr>", "")  # where long URLs may wrap
    assert (
        "<strong>hub-bot</strong>" in html
        and "answers mentions of <strong>@hub-bot</strong>" in html
    )
    assert "http://localhost:7860/webhook" in html
    assert "a local address the Hub cannot reach: set PUBLIC_URL" in html
    assert "bigscience/bloom via INFERENCE_URL (text-generation)" in html
    assert "some-user/some-repo" in html
    assert "private repo" in html
    assert "repo is private and ANSWER_PRIVATE_REPOS is off" in html
    assert "stealth" not in html and "secret-org" not in html
    assert "license covers these weights" not in html  # the comment's text
    assert "A model card describes" not in html  # nor the reply's
    assert html.count("<tr>") == 1 + 1 + 1 + 3  # two headers, one job, three deliveries
    assert '<meta http-equiv="refresh" content="30">' in html and "updated at" in html
    assert client.get("/favicon.ico").status_code == 204


def test_the_page_says_what_happened_to_each_job_and_whether_each_part_works(
    make_client: Start, hub: FakeHub, model: FakeModel
) -> None:
    client = make_client(
        retry=RetryPolicy(budget=0), max_attempts=2, attempt_backoff=600, failure_notice=False
    )
    model.enqueue(Scripted(400, {"error": "Input validation error"}))  # the first: dead
    model.enqueue(Scripted(503, {"error": "overloaded"}))  # the second: tried again later
    assert deliver(client, mention_in(1)).status_code == 202
    assert model.wait_until(lambda: len(model.requests) == 1)
    assert deliver(client, mention_in(2)).status_code == 202
    assert model.wait_until(lambda: len(model.requests) == 2)
    wrong = client.post("/webhook", json={}, headers={"X-Webhook-Secret": "nope"})
    assert wrong.status_code == 403

    def page() -> str:
        return client.get("/").text

    eventually(lambda: '<span class="badge failed">failed</span>' in page(), what="the retry")
    html = page()

    assert '<span class="badge dead">dead</span>' in html
    assert "model: HTTP 400: Input validation error" in html
    assert "model: HTTP 503: overloaded" in html
    assert re.search(r"in \d{3} s \(\d\d:\d\d:\d\d UTC\)", html)  # the next attempt, jittered
    assert 'href="http://hub.test/some-user/some-repo/discussions/1"' in html
    assert "Refused for a wrong or missing secret since the bot started: <strong>1</strong>" in html
    assert "wrong webhook secret" in html  # the refused delivery, in the table too
    assert 'job 1, now <span class="badge dead">dead</span>' in html
    assert '<span class="bad-text">Failing</span>' in html  # the model's last call failed
    assert '<span class="ok-text">Working</span>: the last call succeeded' in html  # the Hub
    # One verdict first; the 24-hour counts leave the refused ones to the metric's count.
    assert html.index('id="verdict"') < html.index('class="cards"')
    assert '<strong class="bad-text">Not working: the model&#39;s last call failed</strong>' in html
    [today] = re.findall(r'id="deliveries-today">(.*?)</section>', html, re.S)
    assert "unauthorised" not in today and "queued: 2" in today


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
    assert "bot_reply_own_seconds_count 1.0" in text
    assert "bot_queue_depth 0.0" in text
    assert "bot_oldest_job_age_seconds 0.0" in text
    assert 'bot_upstream_call_seconds_count{service="model"} 1.0' in text
    # Thread, facts, card, the repo's .hub-bot.yaml, post.
    assert 'bot_upstream_call_seconds_count{service="Hub"} 5.0' in text


def test_the_first_view_shows_the_webhook_and_an_idle_bot_says_what_it_lacks(
    client: httpx.Client, hub: FakeHub
) -> None:
    html = client.get("/").text

    assert "Asking the Hub" not in html  # the first look-up is waited for, briefly
    assert "none of the bot account&#39;s webhooks sends here" in html
    assert '<meta http-equiv="refresh" content="30">' in html
    assert "Working, with 1 warning<" in html  # a local URL (which explains no webhook)
    assert "the webhook URL is a local address the Hub cannot reach" in html
    assert "No jobs yet." in html


def test_failing_since_is_when_the_failures_began() -> None:
    metrics = Metrics()
    metrics.observe("model", 0.1, "HTTP 503 on POST")
    first = metrics.health["model"].last_failure
    metrics.observe("model", 0.1, "HTTP 503 on POST")

    assert metrics.health["model"].failing_since == first
    metrics.observe("model", 0.1, None)
    assert metrics.health["model"].failing_since is None
    assert metrics.health["model"].state == "working"
