"""What the Hub knows about the repo a mention is about: its facts, its card and its files, read
from HF_ENDPOINT with the bot's token, each within a budget, and kept per repo and revision.

    facts   GET /api/{type}s/{ns}/{name}?expand[]=sha&expand[]=cardData&...  (only the fields
            the prompts use, and only those the Hub allows for the type)
    card    GET /{""|datasets/|spaces/}{ns}/{name}/resolve/{sha}/README.md, read up to a
            little past CARD_BUDGET_CHARS; its YAML front matter is dropped (its facts are in
            cardData already)

Every part is optional: one that cannot be read (404, 5xx, timeout, too large, gated) is left
out and named in `missing`, and the reply is still written. Facts are kept a minute per repo
and the card per repo and revision, in memory and bounded, and a read already under way is
shared: ten mentions in one repo read its card once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from bot.answer.clean import shorten
from bot.errors import UpstreamError
from bot.events import DiscussionRef
from bot.hub.client import HubClient

T = TypeVar("T")
FACTS_TTL = 60.0
CACHED_REPOS = 256
_FIELDS = {
    "model": ("sha", "cardData", "pipeline_tag", "library_name", "tags", "gated", "downloads",
              "likes", "lastModified", "siblings", "safetensors", "gguf"),
    "dataset": ("sha", "cardData", "tags", "gated", "downloads", "likes", "lastModified",
                "siblings"),
    "space": ("sha", "cardData", "tags", "likes", "lastModified", "siblings", "sdk", "runtime"),
}  # fmt: skip
_FILE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass(frozen=True)
class RepoFacts:
    """What the Hub says of a repo, as prompt templates read it (`repo.license`, ...). Every
    field may be None or empty: a template says what it knows."""

    name: str
    type: str
    sha: str | None = None
    license: str | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    base_models: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    gated: str | None = None
    downloads: int | None = None
    likes: int | None = None
    last_modified: str | None = None
    parameters: int | None = None
    sdk: str | None = None
    runtime_stage: str | None = None
    files: tuple[str, ...] = ()
    known: bool = False  # False: the facts could not be read
    # The parts bot.sources summarises (cardData, safetensors, gguf, runtime), as the Hub gave them.
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{_FILE_PREFIX.get(self.type, '')}{self.name}"


@dataclass(frozen=True)
class Budgets:
    card_chars: int = 2000
    diff_chars: int = 2500
    files_listed: int = 30


@dataclass(frozen=True)
class RepoContext:
    facts: RepoFacts
    card: str = ""
    missing: tuple[str, ...] = ()  # what could not be read, and why, for the job's reason


def parse_facts(body: object, where: DiscussionRef) -> RepoFacts:
    """The expanded fields of a repo-info answer; anything malformed is left out."""
    info = as_dict(body)
    card, safetensors, runtime = (
        as_dict(info.get(k)) for k in ("cardData", "safetensors", "runtime")
    )
    listed = info.get("siblings")
    siblings = listed if isinstance(listed, list) else []
    gated = info.get("gated")
    return RepoFacts(
        name=where.repo_name,
        type=where.repo_type,
        sha=_text(info.get("sha")),
        license=_text(card.get("license")) or _first(card.get("license_name")),
        pipeline_tag=_text(info.get("pipeline_tag")) or _text(card.get("pipeline_tag")),
        library_name=_text(info.get("library_name")) or _text(card.get("library_name")),
        base_models=_texts(card.get("base_model")),
        datasets=_texts(card.get("datasets")),
        languages=_texts(card.get("language")),
        tags=_texts(info.get("tags")),
        gated=None if gated is None else ("no" if gated is False else str(gated)),
        downloads=_count(info.get("downloads")),
        likes=_count(info.get("likes")),
        last_modified=_text(info.get("lastModified")),
        parameters=_count(safetensors.get("total")),
        sdk=_text(info.get("sdk")) or _text(card.get("sdk")),
        runtime_stage=_text(runtime.get("stage")),
        files=tuple(name for s in siblings if isinstance(name := as_dict(s).get("rfilename"), str)),
        known=True,
        details={k: info[k] for k in ("cardData", "safetensors", "gguf", "runtime") if k in info},
    )


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _first(value: object) -> str | None:
    return _texts(value)[0] if _texts(value) else None


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def card_body(markdown: str) -> str:
    """The card without its YAML front matter."""
    if markdown.startswith("---"):
        end = markdown.find("\n---", 3)
        if end == -1:
            return ""  # the front matter goes on past what was read: no body in sight
        markdown = markdown[end + 4 :]
    return markdown.strip()


class Kept:
    """A small bounded cache of awaited values, whose reads already under way are shared."""

    def __init__(self, size: int = CACHED_REPOS, ttl: float | None = None) -> None:
        self._size = size
        self._ttl = ttl
        self._values: OrderedDict[object, tuple[float, asyncio.Future[Any]]] = OrderedDict()

    async def get(self, key: object, read: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        kept = self._values.get(key)
        if kept and (self._ttl is None or now - kept[0] < self._ttl):
            self._values.move_to_end(key)
            return await asyncio.shield(kept[1])
        future: asyncio.Future[T] = asyncio.ensure_future(read())
        future.add_done_callback(_seen)
        self._values[key] = (now, future)
        while len(self._values) > self._size:
            self._values.popitem(last=False)
        try:
            return await asyncio.shield(future)
        except BaseException:
            if self._values.get(key, (0, None))[1] is future:
                del self._values[key]  # a failure is not kept: the next mention asks again
            raise


def _seen(future: asyncio.Future[Any]) -> None:
    """A shared read goes on when everyone waiting for it was cancelled (at shutdown); its
    failure then is nobody's to hear, not an "exception was never retrieved" warning."""
    if not future.cancelled():
        future.exception()


class ContextReader:
    def __init__(self, hub: HubClient, budgets: Budgets) -> None:
        self._hub = hub
        self.budgets = budgets
        self._facts = Kept(ttl=FACTS_TTL)
        self._cards = Kept()

    async def facts(self, where: DiscussionRef) -> RepoFacts:
        """The repo's facts, kept a minute; a read under way is shared (raises UpstreamError)."""
        return await self._facts.get(
            (where.repo_type, where.repo_name), lambda: self._read_facts(where)
        )

    async def read(self, where: DiscussionRef) -> RepoContext:
        missing = []
        try:
            facts = await self.facts(where)
        except UpstreamError as exc:
            facts = RepoFacts(where.repo_name, where.repo_type)
            missing.append(f"the repo's facts ({_why(exc)})")
        card = ""
        revision = facts.sha or "main"
        try:
            if self.budgets.card_chars:  # CARD_BUDGET_CHARS=0: the card is not read at all
                card = await self._cards.get(
                    (where.repo_type, where.repo_name, revision),
                    lambda: self._read_card(where, revision),
                )
        except UpstreamError as exc:
            missing.append(f"the card ({_why(exc)})")
        return RepoContext(facts, card, tuple(missing))

    async def _read_facts(self, where: DiscussionRef) -> RepoFacts:
        fields = _FIELDS.get(where.repo_type, ("sha", "cardData", "tags"))
        query = "&".join(f"expand[]={quote(f)}" for f in fields)
        path = f"/api/{where.repo_type}s/{quote(where.repo_name, safe='/')}?{query}"
        return parse_facts(await self._hub.read_json(path, "read repo facts"), where)

    async def _read_card(self, where: DiscussionRef, revision: str) -> str:
        prefix = _FILE_PREFIX.get(where.repo_type, "")
        repo, rev = quote(where.repo_name, safe="/"), quote(revision, safe="")
        path = f"/{prefix}{repo}/resolve/{rev}/README.md"
        # Enough for the body after a long front matter; never the whole of a huge card.
        wanted = self.budgets.card_chars * 4 + 64 * 1024
        text = await self._hub.read_text(path, "read card", first_bytes=wanted)
        return shorten(card_body(text), self.budgets.card_chars)


def _why(exc: UpstreamError) -> str:
    if exc.status is None:
        return exc.detail
    return f"HTTP {exc.status}" if exc.status != 200 else exc.detail
