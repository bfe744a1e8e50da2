"""Every way an upstream call can fail ends as a transient or a permanent upstream error with a
plain reason, and no answer is decoded without a limit on its depth."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.answer.prompt_context import SAMPLE_CONTEXT
from bot.answer.prompts import Prompts
from bot.errors import ModelNotServed, TransientError, UpstreamError
from bot.inference.models import GenerationParameters, model_for
from bot.inference.routing import Route
from bot.upstream import CallLimits, RetryPolicy, fetch
from bot.upstream_json import MAX_JSON_DEPTH, NotJson, json_body, parse_json
from tests.botprocess import (
    ROOT,
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    routed_environment,
    start_bot,
    wait_healthy,
)
from tests.conftest import RecordedSleep, mention_in
from tests.fakes import Scripted

LIMITS = CallLimits(deadline=5.0, max_bytes=1024 * 1024)
BROKEN_GZIP = {"Content-Encoding": "gzip"}
PROMPTS = Prompts(ROOT / "prompts").for_repo("org/name")
Handler = Callable[[httpx.Request], httpx.Response]


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def loop(request: httpx.Request) -> httpx.Response:
    return httpx.Response(302, headers={"Location": str(request.url)})


@pytest.mark.parametrize(
    ("handler", "url", "expected", "says"),
    [
        (lambda r: httpx.Response(200, headers=BROKEN_GZIP, content=b"not gzip"),
         "http://up.test/x", TransientError, "could not be decoded"),
        (loop, "http://up.test/x", UpstreamError, "redirect loop"),
        (None, "http://up.test/a\tb", UpstreamError, "could not be made (InvalidURL"),
        (None, "ftp://up.test/x", UpstreamError, "could not be made (UnsupportedProtocol"),
        (raising(httpx.RemoteProtocolError("peer closed")), "http://up.test/x",
         TransientError, "connection failed (RemoteProtocolError: peer closed)"),
        (raising(httpx.ReadError("reset")), "http://up.test/x", TransientError,
         "connection failed (ReadError)"),
        (raising(httpx.ProxyError("proxy said no")), "http://up.test/x", TransientError,
         "connection failed (ProxyError)"),
        (raising(httpx.ReadTimeout("slow")), "http://up.test/x", TransientError, "timed out"),
    ],
    ids=["broken-gzip", "redirect-loop", "tab-in-url", "unknown-scheme", "protocol",
         "read-error", "proxy", "timeout"],
)  # fmt: skip
@pytest.mark.anyio
async def test_every_httpx_failure_becomes_an_upstream_error_with_a_plain_reason(
    handler: Handler | None, url: str, expected: type[UpstreamError], says: str
) -> None:
    # Without a handler: httpx's own transport, which refuses these before connecting.
    transport = httpx.MockTransport(handler) if handler else httpx.AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
        with pytest.raises(UpstreamError) as raised:
            await fetch(http, "GET", url, LIMITS, "Hub", "check HF_ENDPOINT")

    assert type(raised.value) is expected
    assert says in raised.value.summary()


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 5_000, 1_000_000])
def test_json_nested_too_deep_is_refused_before_it_is_decoded(levels: int) -> None:
    with pytest.raises(NotJson, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        parse_json(f'{{"facts": {deep(levels)}}}'.encode())


def test_json_within_the_limit_is_read_and_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": deep(MAX_JSON_DEPTH - 1), "b": "[" * 10_000 + '\\"{'})
    body = f'{{"x": {deep(MAX_JSON_DEPTH - 1)}, "y": {text}}}'

    assert parse_json(body.encode())["y"]["b"].startswith("[[[")


@pytest.mark.parametrize(
    ("content", "says"),
    [(deep(5_000).encode(), "deeper than"), (b"{not json", "not JSON"), (b"\xff\xfe", "UTF-8")],
)
def test_a_malformed_answer_is_a_transient_error_saying_what_was_wrong(
    content: bytes, says: str
) -> None:
    response = httpx.Response(200, content=content)

    with pytest.raises(TransientError, match=says):
        json_body(response, "Hub")


@pytest.mark.anyio
async def test_a_model_route_that_cannot_be_requested_is_not_served_and_says_so() -> None:
    route = Route("chat", "http://model.test/hf-inference/models/big\tscience/v1/chat", "m", "m")
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as http:
        retry = RetryPolicy(budget=60, sleep=RecordedSleep())
        model = model_for(route, http, GenerationParameters(8, 0.5, 0.9), retry)
        with pytest.raises(ModelNotServed) as raised:
            await model.generate(model.build(PROMPTS, SAMPLE_CONTEXT))

    assert "could not be made (InvalidURL" in raised.value.summary()
    assert "INFERENCE_PROVIDER" in raised.value.hint


def test_odd_failures_of_optional_reads_leave_the_reply_and_a_garbled_answer_is_retried(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    card = "/some-user/some-repo/resolve/main/README.md"  # main: the facts are unreadable
    fakes.hub.enqueue(
        Scripted(200, text=f'{{"sha": {deep(5_000)}}}', content_type="application/json",
                 on="repo", sticky=True),
        Scripted(302, text="", headers={"Location": card}, on="card", sticky=True),
    )  # fmt: skip
    fakes.model.enqueue(Scripted(200, text="garbled", headers=BROKEN_GZIP))
    env = bot_environment(tmp_path, fakes, RETRY_BUDGET="0", ATTEMPT_BACKOFF="0")
    bot = start_bot(tmp_path, env)
    bots.append(bot)
    wait_healthy(bot)

    assert bot.deliver(mention_in(1)).status_code == 202
    eventually(lambda: bot.job_status(f"{1:024x}") == "done", what="the reply", timeout=30)

    assert len(fakes.hub.comments) == 1
    output = bot.output()
    failed = [line for line in output.splitlines() if "outcome=failed" in line]
    assert len(failed) == 1 and "the answer could not be decoded" in failed[0]
    replied = next(line for line in output.splitlines() if "outcome=replied" in line)
    assert f"the repo's facts (answer is JSON nested deeper than {MAX_JSON_DEPTH}" in replied
    assert "the card (redirected too many times (a redirect loop))" in replied
    assert "internal error" not in output and "Traceback" not in output


def test_a_garbled_whoami_answer_at_startup_only_warns_and_the_bot_serves(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.enqueue(Scripted(200, text="garbled", headers=BROKEN_GZIP, on="whoami"))
    bot = start_bot(tmp_path, bot_environment(tmp_path, fakes, RETRY_BUDGET="0"))
    bots.append(bot)
    wait_healthy(bot)

    assert bot.deliver(mention_in(1)).status_code == 202
    eventually(lambda: bot.job_status(f"{1:024x}") == "done", what="the reply", timeout=30)
    output = bot.output()
    assert "cannot identify the bot yet" in output and "could not be decoded" in output
    assert "unexpected" not in output


def test_a_provider_id_that_makes_no_url_ends_the_job_with_a_reason_and_a_notice(
    tmp_path: Path, fakes: Fakes, bots: list[BotProcess]
) -> None:
    fakes.hub.serve_model(
        "bigscience/bloom", "hf-inference", "text-generation", provider_id="bigscience/\tbloom"
    )
    bot = start_bot(tmp_path, routed_environment(tmp_path, fakes, RETRY_BUDGET="0"))
    bots.append(bot)
    wait_healthy(bot)

    assert bot.deliver(mention_in(1)).status_code == 202
    eventually(lambda: bot.job_status(f"{1:024x}") == "dead", what="the job's end", timeout=30)
    eventually(lambda: len(fakes.hub.comments) == 1, what="the failure notice")
    dead = next(line for line in bot.output().splitlines() if "outcome=dead" in line)
    assert "the request could not be made (InvalidURL" in dead and "INFERENCE_PROVIDER" in dead
    assert "\t" not in bot.output()
