"""The reply flow inside the process, wired to the fake Hub and the fake model over HTTP
(ASGI): what tests of the reply flow share. Import `harness` into a test module to use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace

import httpx
import pytest

from bot.answer.compose import Composer
from bot.answer.gather import Gatherer
from bot.answer.prompts import Prompts
from bot.config import Settings
from bot.decide import Decider
from bot.events import Ignore, Mention, parse_payload
from bot.handlers.mention import Attempts, ReplyFlow, ReplyOptions
from bot.hub.client import HubClient, Whoami
from bot.inference.routing import Route
from bot.metrics import Metrics
from bot.redact import Redactor
from bot.services.clients import hub_http_client
from bot.services.options import store_options
from bot.services.parts import composer, gatherer, load_prompts, models
from bot.store import Enqueue, JobRecord, Store, open_store
from bot.upstream import CallLimits, RetryPolicy
from tests.conftest import BOT, RecordedSleep, load_payload
from tests.fakes import TOKEN, FakeHub, FakeModel

THREAD = "/api/models/some-user/some-repo/discussions/4"  # where the fixture mention is
COMMENT_ID = "6398872887bfcfb93a306f18"  # the fixture mention's comment


def mention(fixture: str = "comment_create_mention") -> Mention:
    payload = parse_payload(load_payload(fixture))
    assert not isinstance(payload, Ignore)
    decision = Decider(BOT).decide(payload)
    assert isinstance(decision, Mention)
    return decision


Parts = tuple[Gatherer, Composer, HubClient, Store, Whoami, Metrics]


@dataclass
class Harness:
    """`landing` stands in for the wait for a late reply to land (its waits are noted);
    `hub_deadline` rebuilds the Hub's client with another deadline."""

    flow: ReplyFlow
    store: Store
    prompts: Prompts
    parts: Parts
    rebuild: Callable[[float], Parts]
    landing: RecordedSleep = field(default_factory=RecordedSleep)
    options: ReplyOptions = field(default_factory=ReplyOptions)

    def use_options(self, options: ReplyOptions) -> None:
        self.options = replace(options, sleep=self.landing)
        self.flow = ReplyFlow(*self.parts, self.options)

    def hub_deadline(self, seconds: float) -> None:
        self.parts = self.rebuild(seconds)
        self.use_options(self.options)

    async def answer(self, fixture: str = "comment_create_mention") -> JobRecord:
        """Queue the fixture's mention, run it to its end, and return its record."""
        due = mention(fixture)
        await self.store.enqueue(Enqueue(due))
        return await self.run_next(due.comment_id)

    async def run_next(self, comment_id: str = COMMENT_ID) -> JobRecord:
        """Claim the next job, run it, and return the record of the job answering `comment_id`."""
        job = await self.store.claim(lease_seconds=60)
        assert job is not None
        await self.flow.run(job)
        record = await self.store.get(comment_id)
        assert record is not None
        return record


@pytest.fixture
async def harness(
    settings: Settings, hub: FakeHub, model: FakeModel, retry: RetryPolicy
) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as stack:
        hub_http = await stack.enter_async_context(
            hub_http_client(settings, httpx.ASGITransport(app=hub.app))
        )
        model_http = await stack.enter_async_context(
            httpx.AsyncClient(
                headers={"Authorization": f"Bearer {TOKEN}"},
                transport=httpx.ASGITransport(app=model.app),
            )
        )
        store = await open_store(store_options(settings))
        stack.push_async_callback(store.close)
        prompts = load_prompts(settings)
        tuned = settings.model_copy(update={"max_new_tokens": 64})
        route = Route("text-generation", str(settings.inference_url), "bigscience/bloom")

        def parts(deadline: float = 15.0) -> Parts:
            client = HubClient(hub_http, retry, limits=CallLimits(deadline=deadline))
            chosen = models(tuned, client, model_http, retry, route)
            writer = composer(tuned, prompts, chosen, Redactor(settings.secrets))
            read = gatherer(tuned, client)
            return (read, writer, client, store, Whoami(client, None, BOT), Metrics())

        first = parts()
        flow = ReplyFlow(*first, ReplyOptions(attempts=Attempts(max_attempts=1)))
        made = Harness(flow, store, prompts, first, parts)
        made.use_options(ReplyOptions(attempts=Attempts(max_attempts=1)))
        yield made
