"""POST /webhook as the Hub (and anyone else) can call it."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from bot.config import Settings
from bot.web.receiver import DELIVERY_LINES_PER_SECOND
from tests.conftest import WEBHOOK_SECRET, deliver, load_payload
from tests.fakes import FakeHub

MENTION = load_payload("comment_create_mention")


def jobs_in(settings: Settings) -> int:
    """Jobs in the bot's database, read as another process would."""
    with contextlib.closing(sqlite3.connect(settings.database_path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def test_mention_is_queued_and_answered_in_the_background(
    client: httpx.Client, hub: FakeHub
) -> None:
    response = deliver(client, MENTION)

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert hub.wait_until(lambda: len(hub.comments) == 1)
    assert hub.comments[0].path == "/api/models/some-user/some-repo/discussions/4/comment"


def test_post_root_is_an_alias_of_webhook(client: httpx.Client) -> None:
    assert deliver(client, MENTION, path="/").status_code == 202


def test_missing_secret_is_401_before_the_body_is_read(client: httpx.Client) -> None:
    response = client.post("/webhook", content=b"\xff not json")

    assert response.status_code == 401
    assert "X-Webhook-Secret" in response.json()["error"]


@pytest.mark.parametrize(
    "secret",
    [b"wrong", WEBHOOK_SECRET.encode() + b"x", WEBHOOK_SECRET.encode()[:-1], b"\xc3\xa9t\xc3\xa9"],
    ids=["other", "longer", "shorter", "non-ascii"],
)
def test_wrong_secret_is_403_and_nothing_is_queued(
    client: httpx.Client, settings: Settings, secret: bytes
) -> None:
    response = client.post(
        "/webhook", content=json.dumps(MENTION), headers=[(b"x-webhook-secret", secret)]
    )

    assert response.status_code == 403
    assert response.json() == {"error": "wrong webhook secret"}
    assert jobs_in(settings) == 0


def test_secret_may_come_in_the_query_string(client: httpx.Client) -> None:
    ok = client.post(f"/webhook?secret={WEBHOOK_SECRET}", content=json.dumps(MENTION))
    wrong = client.post("/webhook?secret=nope", content=json.dumps(MENTION))

    assert ok.status_code == 202
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    ("first", "second", "status"),
    [(b"", WEBHOOK_SECRET.encode(), 202), (b"wrong", WEBHOOK_SECRET.encode(), 403)],
    ids=["empty-then-right", "wrong-then-right"],
)
def test_of_repeated_secret_headers_the_first_with_a_value_counts(
    client: httpx.Client, first: bytes, second: bytes, status: int
) -> None:
    headers = [(b"x-webhook-secret", first), (b"x-webhook-secret", second)]

    response = client.post("/webhook", content=json.dumps(MENTION), headers=headers)

    assert response.status_code == status


def test_header_secret_wins_over_query(client: httpx.Client) -> None:
    response = client.post(
        "/webhook?secret=nope",
        content=json.dumps(MENTION),
        headers={"X-Webhook-Secret": WEBHOOK_SECRET},
    )
    assert response.status_code == 202


def test_declared_oversized_body_is_413(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_body_bytes=2048)
    body = json.dumps({**MENTION, "padding": "x" * 4096})

    response = deliver(client, json.loads(body))

    assert response.status_code == 413
    assert "2048" in response.json()["error"]


def test_chunked_oversized_body_is_413(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_body_bytes=2048)

    def chunks() -> Iterator[bytes]:
        yield b'{"event": {"action": "create", "scope": "discussion.comment"}, "pad": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    response = client.post(
        "/webhook", content=chunks(), headers={"X-Webhook-Secret": WEBHOOK_SECRET}
    )

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{not json", 400, "JSON"),
        (b"\xff\xfe\x00garbage", 400, "JSON"),
        (b"[" * 100_000, 400, "JSON"),
        (b"[1, 2]", 422, "body"),
        (b'"text"', 422, "body"),
        (b'{"repo": {}}', 422, "event"),
        (b'{"event": {"action": "create"}}', 422, "event.scope"),
        (b'{"event": {"action": 3, "scope": "discussion"}}', 422, "event.action"),
    ],
)
def test_bad_bodies_get_a_4xx_that_names_the_problem(
    client: httpx.Client, body: bytes, status: int, names: str
) -> None:
    response = client.post("/webhook", content=body, headers={"X-Webhook-Secret": WEBHOOK_SECRET})

    assert response.status_code == status
    assert names in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("discussion", "num"), "4", "discussion.num"),
        (("comment", "hidden"), "false", "comment.hidden"),
        (("repo", "name"), "../../api/settings", "repo.name"),
        (("comment", "id"), "abc/../def", "comment.id"),
        (("comment", "author"), None, "comment.author"),
    ],
)
def test_fields_of_the_wrong_type_are_422_naming_the_field(
    client: httpx.Client, path: tuple[str, str], value: object, field: str
) -> None:
    payload = json.loads(json.dumps(MENTION))
    payload[path[0]][path[1]] = value

    response = deliver(client, payload)

    assert response.status_code == 422
    assert field in response.json()["error"]


def test_comment_event_without_a_comment_is_422(client: httpx.Client) -> None:
    payload = {key: value for key, value in MENTION.items() if key != "comment"}

    response = deliver(client, payload)

    assert response.status_code == 422
    assert "comment" in response.json()["error"]


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("comment_create_no_mention", "not mentioned"),
        ("comment_update_edit", "only new comments"),
        ("comment_update_hidden", "only new comments"),
        ("comment_create_by_bot", "bot itself"),
        ("discussion_create_pull_request", "not mentioned"),
        ("discussion_update_closed", "only new comments"),
        ("repo_content_update", "carries no comment"),
        ("repo_config_dois_update", "carries no comment"),
        ("comment_create_mention_version4", "version"),
    ],
)
def test_authentic_events_we_do_not_answer_are_200_ignored(
    client: httpx.Client, settings: Settings, fixture: str, reason: str
) -> None:
    response = deliver(client, load_payload(fixture))

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert reason in response.json()["reason"]
    assert jobs_in(settings) == 0


def test_unknown_scope_and_action_are_ignored_not_refused(client: httpx.Client) -> None:
    payload = {**MENTION, "event": {"action": "archive", "scope": "collection.item"}}

    response = deliver(client, payload)

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"


def test_redelivery_of_an_answered_comment_is_a_duplicate(
    client: httpx.Client, hub: FakeHub
) -> None:
    first = deliver(client, MENTION)
    assert hub.wait_until(lambda: len(hub.comments) == 1)

    again = deliver(client, MENTION)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
    assert not hub.wait_until(lambda: len(hub.comments) > 1, timeout=0.5)


def test_opening_post_delivered_twice_under_two_scopes_is_one_job(
    client: httpx.Client, hub: FakeHub
) -> None:
    as_discussion = deliver(client, load_payload("discussion_create_mention"))
    as_comment = deliver(client, load_payload("comment_create_mention_opening_post"))

    assert as_discussion.status_code == 202
    assert as_comment.json()["status"] == "duplicate"
    assert hub.wait_until(lambda: len(hub.comments) == 1)
    assert hub.comments[0].path == "/api/datasets/some-org/speech-corpus/discussions/7/comment"


def test_health_reports_the_bot(client: httpx.Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "store": "ok",
        "bot": "hub-bot",
        "unfinished_jobs": 0,
    }


def test_every_delivery_of_a_burst_is_counted_though_not_every_one_gets_a_line(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.webhooks")
    burst = DELIVERY_LINES_PER_SECOND * 3

    for _ in range(burst):
        assert deliver(client, load_payload("comment_create_no_mention")).status_code == 200

    lines = [r for r in caplog.records if r.getMessage().startswith("delivery ")]
    assert 0 < len(lines) <= burst
    metrics = client.get("/metrics").text
    assert f'bot_deliveries_total{{outcome="ignored",reason="no_mention"}} {burst}.0' in metrics
