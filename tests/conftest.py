from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Secret, Settings
from bot.events import Identity
from bot.inference.routing import Route
from bot.services.parts import load_prompts
from bot.upstream import RetryPolicy
from bot.web.app import create_app
from tests.botprocess import NO_VIEWER, ROOT, WEBHOOK_SECRET, BotProcess, Fakes
from tests.fakes import BOT_ID, BOT_NAME, TOKEN, FakeHub, FakeModel, serve_in_thread
from tests.postgres import PostgresServer, running_server

PAYLOADS = Path(__file__).parent / "fixtures" / "payloads"
BOT = Identity(id=BOT_ID, name=BOT_NAME)


def load_payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def mention_in(num: int, comment: int | None = None) -> dict[str, Any]:
    """The fixture mention, moved to discussion `num`, as comment `comment` (default `num`)."""
    serial = comment if comment is not None else num
    payload = load_payload("comment_create_mention")
    payload["discussion"]["num"] = num
    payload["comment"]["id"] = f"{serial:024x}"
    payload["comment"]["content"] = f"@hub-bot question {serial}"
    return payload


class RecordedSleep:
    """Stands in for asyncio.sleep in the retry policy: notes each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run; each test takes a database of its own."""
    with running_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The settings that put the store on each backend, in turn."""
    if request.param == "sqlite":
        return {"DATA_DIR": str(tmp_path / "data")}
    server: PostgresServer = request.getfixturevalue("postgres")
    return {"DATABASE_URL": server.new_database(), "DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        hf_token=Secret(TOKEN),
        webhook_secret=Secret(WEBHOOK_SECRET),
        hf_endpoint="http://hub.test",
        dataset_viewer_url=NO_VIEWER,
        inference_url="http://model.test/models/bigscience/bloom",
        data_dir=tmp_path / "data",
        prompts_dir=ROOT / "prompts",
        retry_budget=60,
        shutdown_grace=5,
    )


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    yield fake
    assert fake.violations == [], "the fake Hub drifted from the Hub's OpenAPI description"


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    """A fake Hub and a fake model, each on its own port on 127.0.0.1."""
    hub, model = FakeHub(), FakeModel()
    with serve_in_thread(hub.app) as hub_url, serve_in_thread(model.app) as model_url:
        yield Fakes(hub, hub_url, model, model_url)
    assert hub.violations == [], "the fake Hub drifted from the Hub's OpenAPI description"


@pytest.fixture
def bots() -> Iterator[list[BotProcess]]:
    """Bot processes a test starts; whatever is still running at the end is killed."""
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.stop()


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def retry(sleeps: RecordedSleep) -> RetryPolicy:
    return RetryPolicy(budget=60, sleep=sleeps)


@pytest.fixture
def make_client(
    settings: Settings, hub: FakeHub, model: FakeModel, retry: RetryPolicy
) -> Iterator[Callable[..., httpx.Client]]:
    """Serve the bot app on 127.0.0.1 against the fakes; `changes` tweak the settings."""
    with contextlib.ExitStack() as stack:

        def start(
            bot: Identity | None = BOT, retry: RetryPolicy = retry, **changes: Any
        ) -> httpx.Client:
            tuned = settings.model_copy(update=changes)
            app = create_app(
                tuned,
                bot,
                load_prompts(tuned),
                hub_transport=httpx.ASGITransport(app=hub.app),
                model_transport=httpx.ASGITransport(app=model.app),
                retry=retry,
                route=Route("text-generation", str(tuned.inference_url), "bigscience/bloom"),
            )
            url = stack.enter_context(serve_in_thread(app))
            return stack.enter_context(httpx.Client(base_url=url, timeout=10))

        yield start


@pytest.fixture
def client(make_client: Callable[..., httpx.Client]) -> httpx.Client:
    return make_client()


def deliver(
    client: httpx.Client, payload: Any, *, path: str = "/webhook", **headers: str
) -> httpx.Response:
    """POST a payload the way the Hub does: JSON with the secret header."""
    sent = {"X-Webhook-Secret": WEBHOOK_SECRET, **headers}
    return client.post(path, content=json.dumps(payload), headers=sent)
