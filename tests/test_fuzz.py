"""Generated requests against POST /webhook: never a 5xx, never an unhandled exception.

Four families, 2,200 requests a run: arbitrary headers (non-ASCII and large values included)
with arbitrary bytes, arbitrary JSON, the real payload fixtures with one field mutated or
removed, and unknown scopes and actions. The app is served on 127.0.0.1 for the whole test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PAYLOADS, WEBHOOK_SECRET

EXAMPLES = 550  # per family; four families
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same 2,200 requests every run, so a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIXTURES = [json.loads(p.read_text()) for p in sorted(PAYLOADS.glob("*.json"))]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
header_names = st.sampled_from(
    ["X-Webhook-Secret", "Webhook-Id", "Content-Type", "Content-Length", "X-Anything"]
)
# Any byte a client can put in a header value: no control characters, nothing to trim, but
# non-ASCII welcome.
header_values = st.binary(max_size=4096).map(
    lambda raw: bytes(c for c in raw if c >= 0x20 and c != 0x7F).strip(b" ")
)


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in leaf_paths(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in leaf_paths(v, (*path, i))]
    return [path]


@pytest.fixture
def fuzz_client(
    make_client: Callable[..., httpx.Client], caplog: pytest.LogCaptureFixture
) -> Iterator[httpx.Client]:
    client = make_client(replies_per_author_hour=0, replies_per_discussion_hour=0)
    caplog.set_level(logging.WARNING)
    yield client
    unhandled = [r for r in caplog.records if r.exc_info]
    assert unhandled == [], [r.getMessage() for r in unhandled]


def send(client: httpx.Client, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    try:
        status = client.post("/webhook", content=body, headers=headers).status_code
    except httpx.RemoteProtocolError:
        return 400  # the server refused malformed HTTP and closed the connection: not a 5xx
    assert status < 500, (status, body[:200], headers)
    return status


def with_secret(headers: list[tuple[bytes, bytes]] | None = None) -> list[tuple[bytes, bytes]]:
    return [(b"X-Webhook-Secret", WEBHOOK_SECRET.encode()), *(headers or [])]


@FUZZ
@given(
    headers=st.lists(st.tuples(header_names, header_values), max_size=4),
    body=st.binary(max_size=2048),
)
def test_arbitrary_headers_and_bytes(
    fuzz_client: httpx.Client, headers: list[tuple[str, bytes]], body: bytes
) -> None:
    raw = [(name.encode(), value) for name, value in headers if name != "Content-Length"]
    send(fuzz_client, body, raw)


@FUZZ
@given(value=json_values)
def test_arbitrary_json(fuzz_client: httpx.Client, value: Any) -> None:
    send(fuzz_client, json.dumps(value).encode(), with_secret())


@FUZZ
@given(data=st.data())
def test_real_payloads_with_one_field_mutated_or_removed(
    fuzz_client: httpx.Client, data: st.DataObject
) -> None:
    payload = json.loads(json.dumps(data.draw(st.sampled_from(FIXTURES))))
    path = data.draw(st.sampled_from(leaf_paths(payload)[1:]))
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(json_values)
    elif isinstance(parent, dict):
        del parent[path[-1]]
    send(fuzz_client, json.dumps(payload).encode(), with_secret())


@FUZZ
@given(scope=st.text(max_size=40), action=st.text(max_size=20), data=st.data())
def test_unknown_scopes_and_actions_are_ignored(
    fuzz_client: httpx.Client, scope: str, action: str, data: st.DataObject
) -> None:
    payload = json.loads(json.dumps(data.draw(st.sampled_from(FIXTURES))))
    payload["event"] = {"scope": scope, "action": action}

    status = send(fuzz_client, json.dumps(payload).encode(), with_secret())

    known = scope in ("discussion", "discussion.comment") and action == "create"
    assert known or status == 200
