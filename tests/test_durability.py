"""Replays, ordering, backpressure and attempts, against the app served on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from bot.config import Settings
from bot.upstream import RetryPolicy
from tests.botprocess import eventually
from tests.conftest import WEBHOOK_SECRET, deliver, load_payload, mention_in
from tests.fakes import FakeHub, FakeModel, Scripted

MENTION = load_payload("comment_create_mention")
Start = Callable[..., httpx.Client]


def test_ten_concurrent_and_ten_sequential_replays_make_one_reply(
    client: httpx.Client, hub: FakeHub
) -> None:
    body = json.dumps(MENTION)
    headers = {"X-Webhook-Secret": WEBHOOK_SECRET, "Content-Type": "application/json"}

    def replay(_: int) -> int:
        with httpx.Client(base_url=str(client.base_url), timeout=10) as own:
            return own.post("/webhook", content=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        concurrent = list(pool.map(replay, range(10)))
    sequential = [replay(n) for n in range(10)]

    assert sorted(concurrent) == [200] * 9 + [202]
    assert sequential == [200] * 10
    assert hub.wait_until(lambda: len(hub.comments) == 1)
    assert not hub.wait_until(lambda: len(hub.comments) > 1, timeout=1.5)


def test_a_webhook_id_seen_before_is_a_duplicate_of_its_first_job(
    client: httpx.Client,
) -> None:
    first = deliver(client, MENTION, **{"Webhook-Id": "whk-1"})
    other = mention_in(9)  # the Webhook-Id decides, not the comment inside

    again = deliver(client, other, **{"Webhook-Id": "whk-1"})

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"]}


def test_a_replay_after_a_failure_is_tried_again(
    client: httpx.Client, hub: FakeHub, model: FakeModel, settings: Settings
) -> None:
    model.enqueue(Scripted(400, {"error": "Input validation error"}))
    first = deliver(client, MENTION, **{"Webhook-Id": "whk-2"})
    assert first.status_code == 202
    assert model.wait_until(lambda: len(model.requests) == 1)

    def status() -> str:
        with sqlite3.connect(settings.database_path) as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (first.json()["id"],))
            return str(row.fetchone()[0])

    eventually(lambda: status() == "dead", what="the job to be given up")

    replay = deliver(client, MENTION, **{"Webhook-Id": "whk-2"})

    assert replay.status_code == 202
    assert replay.json() == {"status": "queued", "id": first.json()["id"]}

    def replies() -> list[str]:
        return [c.body["comment"] for c in hub.comments if "reply-to:" in c.body["comment"]]

    assert hub.wait_until(lambda: len(replies()) == 1)
    assert [c for c in hub.comments if "notice-for:" in c.body["comment"]]  # the first failure


def test_one_discussion_is_answered_in_order_while_another_runs_alongside(
    make_client: Start, hub: FakeHub, model: FakeModel
) -> None:
    client = make_client(concurrency=4)
    model.hold()
    for comment in (1, 2, 3):
        assert deliver(client, mention_in(7, comment)).status_code == 202
    assert deliver(client, mention_in(8, 9)).status_code == 202

    # Two requests in flight at once: the first of discussion 7, and discussion 8's.
    assert model.wait_until(lambda: len(model.requests) == 2)
    in_flight = sorted(r.body["inputs"].rsplit("question ", 1)[1][:1] for r in model.requests)
    assert in_flight == ["1", "9"]
    model.release()

    assert hub.wait_until(lambda: len(hub.comments) == 4)
    thread_7 = [c.body["comment"] for c in hub.comments if "/discussions/7/" in c.path]
    order = [text.split("reply-to:")[1][:24] for text in thread_7]
    assert order == [f"{n:024x}" for n in (1, 2, 3)]


def test_past_the_queue_cap_new_mentions_get_503_with_retry_after(
    make_client: Start, model: FakeModel
) -> None:
    client = make_client(max_queue=2, concurrency=1)
    model.hold()
    try:
        assert deliver(client, mention_in(1)).status_code == 202
        assert deliver(client, mention_in(2)).status_code == 202

        refused = deliver(client, mention_in(3))
        replayed = deliver(client, mention_in(1))
    finally:
        model.release()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "60"
    assert "queue is full" in refused.json()["error"]
    assert replayed.json()["status"] == "duplicate"


def test_transient_failures_are_retried_as_new_attempts_until_the_budget_then_dead(
    make_client: Start, hub: FakeHub, model: FakeModel, settings: Settings
) -> None:
    # No retries inside an attempt, so each 503 costs one whole attempt.
    client = make_client(max_attempts=3, attempt_backoff=0, retry=RetryPolicy(budget=0))
    model.enqueue(*[Scripted(503, {"error": "Service Unavailable"})] * 3)

    job = deliver(client, MENTION).json()["id"]

    def reason() -> tuple[str, str]:
        with sqlite3.connect(settings.database_path) as db:
            row = db.execute("SELECT status, reason FROM jobs WHERE id = ?", (job,)).fetchone()
            return str(row[0]), str(row[1])

    eventually(lambda: reason()[0] == "dead", what="the job to be given up")
    assert "HTTP 503" in reason()[1]
    assert len(model.requests) == 3
    assert hub.wait_until(lambda: len(hub.comments) == 1)
    assert hub.comments[0].body["comment"].startswith("Sorry, I could not answer")


def test_without_its_identity_the_bot_records_comments_and_decides_when_it_knows(
    make_client: Start, hub: FakeHub, settings: Settings
) -> None:
    # The Hub cannot say who the bot is yet (and no BOT_USERNAME is set): a 503 to the Hub
    # would count towards suspending the webhook, so every new comment is recorded instead.
    hub.enqueue(*[Scripted(503, {"error": "unavailable"}, on="whoami")] * 100)
    client = make_client(bot=None, retry=RetryPolicy(budget=0), attempt_backoff=0.2)

    no_mention = load_payload("comment_create_no_mention")
    no_mention["comment"]["id"] = "6398872887bfcfb93a306f77"
    answers = [
        deliver(client, payload)
        for payload in (MENTION, load_payload("comment_create_by_bot"), no_mention)
    ]

    assert [a.status_code for a in answers] == [202, 202, 202], [a.json() for a in answers]
    hub.script.clear()  # the Hub answers whoami again

    def outcomes() -> list[tuple[str, str | None]]:
        with sqlite3.connect(settings.database_path) as db:
            found = db.execute("SELECT status, reason FROM jobs ORDER BY id").fetchall()
            return [(str(status), reason) for status, reason in found]

    eventually(lambda: [s for s, _ in outcomes()] == ["done"] * 3, what="all three decided")
    [reply] = hub.comments
    assert "reply-to:6398872887bfcfb93a306f18" in reply.body["comment"]
    assert [reason for _, reason in outcomes()] == [
        "replied",
        "not answered: comment was written by the bot itself (decided once the bot knew who it is)",
        "not answered: the bot is not mentioned (it answers @hub-bot, outside quotes, code and"
        " links) (decided once the bot knew who it is)",
    ]
    assert client.get("/health").json()["bot"] == "hub-bot"
