"""One reply, end to end inside the process: the model and the Hub are fakes spoken to over HTTP."""

from __future__ import annotations

import pytest

from bot.handlers.mention import Attempts, ReplyOptions, reply_marker
from bot.handlers.outcomes import notice_marker
from bot.store import Enqueue
from tests.conftest import RecordedSleep
from tests.fakes import TOKEN, FakeHub, FakeModel, Scripted
from tests.reply_harness import Harness, harness, mention

__all__ = ["harness"]  # the fixture, used by name
pytestmark = pytest.mark.anyio


async def test_reply_is_posted_to_the_discussion_with_the_token_and_a_marker(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    record = await harness.answer()

    assert record.status == "done"
    assert record.reply_id
    [posted] = hub.comments
    assert posted.path == "/api/models/some-user/some-repo/discussions/4/comment"
    assert posted.authorization == f"Bearer {TOKEN}"
    assert posted.body == {
        "comment": f"{model.reply}\n\n---\n<sub>Automated reply by hub-bot, written by"
        " bigscience/bloom. It can be wrong: check before relying on it.</sub>\n\n"
        f"{reply_marker('6398872887bfcfb93a306f18')}"
    }


async def test_model_request_has_the_prompt_and_parameters(
    harness: Harness, model: FakeModel
) -> None:
    await harness.answer()

    [request] = model.requests
    assert request.path == "/models/bigscience/bloom"
    assert request.authorization == f"Bearer {TOKEN}"
    assert "@hub-bot what license covers these weights?" in request.body["inputs"]
    assert request.body["parameters"] == {
        "max_new_tokens": 64,
        "temperature": 0.7,
        "top_p": 0.9,
        "do_sample": True,
        "return_full_text": False,
        "stop": ["\nUser:", "\nhub-bot:"],
    }


async def test_echoed_prompt_is_stripped_when_return_full_text_is_ignored(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    model.echo = True

    await harness.answer()

    assert hub.comments[0].body["comment"].startswith(model.reply)


async def test_tgi_object_answer_is_accepted(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    model.enqueue(Scripted(json={"generated_text": "  From TGI.  "}))

    await harness.answer()

    assert hub.comments[0].body["comment"].startswith("From TGI.\n\n---\n")


@pytest.mark.parametrize("text", ["", "   \n  ", "User: and now I speak for the user"])
async def test_empty_answer_posts_only_the_failure_notice_and_records_why(
    harness: Harness, hub: FakeHub, model: FakeModel, text: str
) -> None:
    model.enqueue(Scripted(json=[{"generated_text": text}]))

    record = await harness.answer()

    assert record.status == "dead"
    assert record.reason is not None and "nothing usable" in record.reason
    [notice] = hub.comments
    assert notice.body["comment"].startswith("Sorry, I could not answer this one")
    assert notice.body["comment"].endswith(notice_marker("6398872887bfcfb93a306f18"))


async def test_loading_model_is_waited_for_about_its_estimated_time(
    harness: Harness, hub: FakeHub, model: FakeModel, sleeps: RecordedSleep
) -> None:
    loading = {"error": "Model bigscience/bloom is currently loading", "estimated_time": 20.5}
    model.enqueue(Scripted(503, loading))

    record = await harness.answer()

    assert record.status == "done"
    assert sleeps.waits == [20.5]
    assert len(model.requests) == 2


async def test_retry_after_header_is_honoured(
    harness: Harness, model: FakeModel, sleeps: RecordedSleep
) -> None:
    model.enqueue(Scripted(429, {"error": "rate limited"}, headers={"Retry-After": "7"}))

    assert (await harness.answer()).status == "done"
    assert sleeps.waits == [7.0]


@pytest.mark.parametrize(
    "failure",
    [
        Scripted(500, {"error": "Incomplete generation", "error_type": "incomplete_generation"}),
        Scripted(424, {"error": "Request failed during generation", "error_type": "generation"}),
        Scripted(502, text="<html>Bad gateway</html>", content_type="text/html"),
        Scripted(200, text="not json"),
    ],
    ids=["500", "424", "502-html", "200-not-json"],
)
async def test_transient_failures_are_retried_with_growing_jittered_waits(
    harness: Harness, model: FakeModel, sleeps: RecordedSleep, failure: Scripted
) -> None:
    model.enqueue(failure, failure, failure)

    assert (await harness.answer()).status == "done"
    assert len(model.requests) == 4
    assert len(sleeps.waits) == 3
    assert all(0 <= wait <= 30 for wait in sleeps.waits)


async def test_total_wait_is_bounded_by_the_budget_and_the_failure_is_recorded(
    harness: Harness, hub: FakeHub, model: FakeModel, sleeps: RecordedSleep
) -> None:
    loading = {"error": "Model bigscience/bloom is currently loading", "estimated_time": 45}
    model.enqueue(*[Scripted(503, loading)] * 10)

    record = await harness.answer()

    assert sleeps.waits == [45, 15]  # the second wait is what is left of the 60 s budget
    assert sum(sleeps.waits) == 60
    assert record.status == "dead"
    assert record.reason is not None
    assert "HTTP 503" in record.reason and "currently loading" in record.reason
    assert [c.body["comment"][:5] for c in hub.comments] == ["Sorry"]


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_client_errors_are_not_retried(
    harness: Harness, model: FakeModel, sleeps: RecordedSleep, status: int
) -> None:
    model.enqueue(Scripted(status, {"error": "Model not supported"}))

    record = await harness.answer()

    assert len(model.requests) == 1
    assert sleeps.waits == []
    assert record.status == "dead"
    assert record.reason is not None
    assert f"HTTP {status}" in record.reason and "Model not supported" in record.reason


@pytest.mark.parametrize("status", [400, 404])
async def test_not_served_model_failure_names_the_url_the_model_and_the_fix(
    harness: Harness, model: FakeModel, hub: FakeHub, status: int
) -> None:
    model.enqueue(Scripted(status, {"error": "Model bigscience/bloom is not supported"}))

    record = await harness.answer()

    assert record.reason is not None
    assert "http://model.test/models/bigscience/bloom does not serve bigscience/bloom" in (
        record.reason
    )
    assert "choose a served INFERENCE_MODEL" in record.reason
    [notice] = hub.comments
    for internal in ("http", "404", "400", "bloom", "INFERENCE", "supported"):
        assert internal not in notice.body["comment"].split("<!--")[0]


async def test_hub_refusing_the_comment_is_recorded_and_not_retried(
    harness: Harness, hub: FakeHub
) -> None:
    hub.enqueue(Scripted(403, {"error": "You don't have the rights to comment"}, on="comment"))

    record = await harness.answer()

    assert len(hub.comments) == 1
    assert record.status == "dead"
    assert record.reason is not None and "HTTP 403" in record.reason


async def test_a_hub_5xx_on_the_comment_post_is_not_blindly_repeated(
    harness: Harness, hub: FakeHub
) -> None:
    hub.enqueue(Scripted(502, text="Bad gateway", on="comment"))

    record = await harness.answer()

    assert len(hub.comments) == 1
    assert record.status == "dead"
    # A gateway's 5xx says nothing of the server behind it: the Hub was looked at again first.
    assert len(harness.landing.waits) == 1
    assert record.reason is not None and "the reply was not on the Hub" in record.reason


async def test_a_reply_already_on_the_hub_is_not_posted_again(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    # Whatever the store remembers (a wiped disk, a restored backup), the Hub has the last word.
    due = mention()
    thread = "/api/models/some-user/some-repo/discussions/4"
    posted = hub.add_comment(thread, "hub-bot", f"Earlier.\n\n{reply_marker(due.comment_id)}")

    record = await harness.answer()

    assert (record.status, record.reply_id) == ("done", posted["id"])
    assert record.reason == "replied (found on the Hub: posted by an earlier attempt)"
    assert hub.comments == [] and model.requests == []


async def test_a_marker_counts_only_in_a_comment_by_the_bots_account_id(
    harness: Harness, hub: FakeHub
) -> None:
    due = mention()
    thread = "/api/models/some-user/some-repo/discussions/4"
    forged = hub.add_comment(thread, "a-troll", reply_marker(due.comment_id))
    forged["author"]["name"] = "hub-bot"  # the bot's name, but not its account

    record = await harness.answer()

    assert record.status == "done" and record.reply_id != forged["id"]
    assert len(hub.comments) == 1


async def test_the_bots_own_reply_is_recognised_after_the_account_is_renamed(
    harness: Harness, hub: FakeHub
) -> None:
    due = mention()
    thread = "/api/models/some-user/some-repo/discussions/4"
    posted = hub.add_comment(thread, "hub-bot", f"Earlier.\n\n{reply_marker(due.comment_id)}")
    posted["author"]["name"] = "hub-bot-renamed"

    record = await harness.answer()

    assert (record.status, record.reply_id) == ("done", posted["id"])
    assert hub.comments == []


async def test_a_forced_round_posts_a_fresh_answer_with_its_own_marker(
    harness: Harness, hub: FakeHub
) -> None:
    first = await harness.answer()
    assert await harness.store.force("6398872887bfcfb93a306f18")
    job = await harness.store.claim(60)
    assert job is not None

    await harness.flow.run(job)

    assert first.status == "done"
    assert len(hub.comments) == 2
    assert hub.comments[1].body["comment"].endswith(reply_marker("6398872887bfcfb93a306f18", 1))


async def test_a_job_whose_process_kept_dying_is_given_up(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    due = mention()
    await harness.store.enqueue(Enqueue(due))
    for _ in range(2):  # Attempts(max_attempts=1): the second claim is one too many
        job = await harness.store.claim(lease_seconds=-1)
    assert job is not None and job.attempts == 2

    await harness.flow.run(job)

    record = await harness.store.get(due.comment_id)
    assert record is not None and record.status == "dead"
    assert record.reason == "gave up after 1 interrupted attempts"
    assert hub.comments == [] and model.requests == []


async def test_an_unreadable_discussion_is_never_answered_blindly(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=2, backoff=0)))
    hub.enqueue(Scripted(403, {"error": "Forbidden"}, on="discussion"))

    record = await harness.answer()

    assert record.status == "failed"  # transient: tried again later
    assert record.reason is not None
    assert record.reason.startswith(
        "Hub: HTTP 403: cannot read the discussion to look for an earlier reply (Forbidden)"
    )
    assert hub.comments == [] and model.requests == []


async def test_the_failure_notice_can_be_switched_off(
    harness: Harness, hub: FakeHub, model: FakeModel
) -> None:
    harness.use_options(ReplyOptions(attempts=Attempts(max_attempts=1), failure_notice=False))
    model.enqueue(Scripted(422, {"error": "Input validation error"}))

    record = await harness.answer()

    assert record.status == "dead"
    assert hub.comments == []
