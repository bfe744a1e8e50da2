"""For one mention: the facts sheet (small, in every prompt) and the bigger reads the question
asks for, within LOOKUP_BUDGET_CHARS, each source within its own cap and deadline.

Every source degrades the same way: what cannot be read is left out and named in `missing`
("config.json (HTTP 404)"), and the reply is still written. The sheet is best-effort and
silent: it only adds to the facts that are in every prompt anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.answer.context import RepoFacts, as_dict
from bot.errors import UpstreamError
from bot.events import Mention
from bot.hub.client import HubClient
from bot.sources import evaluation, space, weights
from bot.sources.choose import choose
from bot.sources.config import ConfigSource, context_length
from bot.sources.files import RepoFiles
from bot.sources.found import Found, Unread, Where
from bot.sources.viewer import Viewer

SHEET_CHARS = 600
CAPS = {
    "config": 1500,
    "weights": 1200,
    "evaluation": 1500,
    "viewer": 2500,
    "space": 1500,
    "file": 3000,
}
_CONTENT = ("config", "file", "viewer")  # what a gated repo keeps behind its gate


@dataclass(frozen=True)
class LookupOptions:
    budget_chars: int = 6000
    max_tool_calls: int = 4
    tools: bool = True
    private_allowed: bool = False  # ANSWER_PRIVATE_REPOS: gated content may be read
    deadline: float = 15.0  # seconds, per source


@dataclass(frozen=True)
class Looked:
    sheet: tuple[str, ...] = ()
    found: tuple[Found, ...] = ()
    missing: tuple[str, ...] = ()
    seconds: float = 0.0
    where: Where | None = None
    facts: RepoFacts | None = None
    budget_left: int = 0


def where_of(mention: Mention, facts: RepoFacts) -> Where:
    """The revision a reply is about: a pull request's head, else the repo's sha."""
    ref = mention.where
    revision = f"refs/pr/{ref.num}" if mention.is_pull_request else (facts.sha or "main")
    return Where(ref.repo_type, ref.repo_name, revision)


class Lookups:
    def __init__(
        self, hub: HubClient, files: RepoFiles, viewer: Viewer | None, options: LookupOptions
    ) -> None:
        self._hub = hub
        self._files = files
        self._config = ConfigSource(files)
        self._viewer = viewer
        self.options = options

    async def look(self, mention: Mention, facts: RepoFacts) -> Looked:
        started = time.perf_counter()
        where = where_of(mention, facts)
        choice = choose(mention.text, where.repo_type, facts.files)
        reads = [(kind, kind) for kind in choice.kinds] + [("file", f) for f in choice.files]
        sheet_read = asyncio.ensure_future(self.sheet(where, facts))
        results = await asyncio.gather(*(self.read(kind, arg, where, facts) for kind, arg in reads))
        sheet = await sheet_read
        found, missing = [], []
        left = self.options.budget_chars - sum(len(line) for line in sheet)
        for result in results:
            if isinstance(result, Unread):
                missing.append(str(result))
            elif left > 0:
                cut = result.cut(min(CAPS[result.kind], left))
                found.append(cut)
                left -= len(cut.text)
            else:
                missing.append(f"{result.label} (over LOOKUP_BUDGET_CHARS)")
        seconds = time.perf_counter() - started
        return Looked(tuple(sheet), tuple(found), tuple(missing), seconds, where, facts, left)

    async def read(self, kind: str, arg: str, where: Where, facts: RepoFacts) -> Found | Unread:
        """One source, within its deadline; never raises for an unreadable answer."""
        try:
            self._allowed(kind, arg, facts)
            async with asyncio.timeout(self.options.deadline):
                return await self._read(kind, arg, where, facts)
        except Unread as exc:
            return exc
        except TimeoutError:
            return Unread(arg if kind == "file" else f"the {kind} lookup", "timed out")

    def _allowed(self, kind: str, arg: str, facts: RepoFacts) -> None:
        if (
            kind in _CONTENT
            and facts.gated not in (None, "no")
            and not self.options.private_allowed
        ):
            what = arg if kind == "file" else f"the {kind} lookup"
            raise Unread(what, "the repo is gated and ANSWER_PRIVATE_REPOS is off")

    async def _read(self, kind: str, arg: str, where: Where, facts: RepoFacts) -> Found:
        readers: dict[str, Callable[[], Awaitable[Found]]] = {
            "config": lambda: self._config.read(where, facts.files),
            "weights": lambda: _now(weights.read(facts, where)),
            "evaluation": lambda: _now(evaluation.read(facts, where)),
            "viewer": lambda: self._read_viewer(where),
            "space": lambda: space.read(self._hub, where),
            "file": lambda: self._files.named(where, arg, facts.files),
        }
        if where.repo_type != "model" and kind in ("config", "weights", "evaluation"):
            raise Unread(f"the {kind} lookup", f"only models have one, this is a {where.repo_type}")
        if kind not in readers:
            raise Unread(kind, "no such lookup")
        return await readers[kind]()

    async def _read_viewer(self, where: Where) -> Found:
        if where.repo_type != "dataset":
            raise Unread(
                "the dataset viewer", f"only datasets have one, this is a {where.repo_type}"
            )
        if self._viewer is None:
            raise Unread("the dataset viewer", "DATASET_VIEWER_URL is not set")
        return await self._viewer.read(where.repo_name)

    async def sheet(self, where: Where, facts: RepoFacts) -> list[str]:
        """The compact facts for the repo's type: context length, parameters and dtype,
        formats, viewer status, Space stage. Best-effort; at most SHEET_CHARS."""
        lines: list[str] = []
        try:
            async with asyncio.timeout(self.options.deadline):
                lines = await self._sheet(where, facts)
        except (Unread, UpstreamError, TimeoutError):
            pass  # the sheet is an extra: a reply never waits or fails for it
        kept, size = [], 0
        for line in lines:
            size += len(line)
            if size > SHEET_CHARS:
                break
            kept.append(line)
        return kept

    async def _sheet(self, where: Where, facts: RepoFacts) -> list[str]:
        lines = []
        if where.repo_type == "model":
            gated = facts.gated not in (None, "no") and not self.options.private_allowed
            if "config.json" in facts.files and not gated:
                try:
                    config = await self._config.config(where)
                except Unread:
                    config = {}
                if found := context_length(config):
                    lines.append(f"Context length: {found[1]:,} tokens (config.json {found[0]})")
                if isinstance(dtype := config.get("torch_dtype"), str):
                    lines.append(f"torch_dtype: {dtype}")
            gguf = as_dict(facts.details.get("gguf")).get("context_length")
            if isinstance(gguf, int) and not lines:
                lines.append(f"Context length: {gguf:,} tokens (GGUF)")
            if shown := weights.parameters(facts):
                lines.append(f"Parameters by dtype: {shown}")
            if kinds := weights.formats(facts):
                lines.append(f"Weight formats: {'; '.join(kinds)}")
        elif where.repo_type == "dataset" and self._viewer is not None:
            gated = facts.gated not in (None, "no") and not self.options.private_allowed
            if not gated and (status := await self._viewer_status(where)):
                lines.append(f"Dataset viewer: {status}")
        elif where.repo_type == "space":
            runtime = as_dict(facts.details.get("runtime"))
            hardware = as_dict(runtime.get("hardware")).get("current")
            if hardware:
                lines.append(f"Space hardware: {hardware}")
            if runtime.get("errorMessage"):
                lines.append("The Space's runtime reports an error (ask about it to see it)")
        return lines

    async def _viewer_status(self, where: Where) -> str | None:
        if self._viewer is None:
            return None
        try:
            return await self._viewer.status(where.repo_name)
        except (UpstreamError, Unread):
            return None  # the sheet says nothing rather than guess


async def _now(found: Found) -> Found:
    return found
