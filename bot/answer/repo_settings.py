"""A repo's own settings: `.hub-bot.yaml` at the root of its default branch.

The file is read at the revision the Hub's repo facts name (the default branch's head), never
from a pull request's ref, so a pull request cannot change how the bot treats it; it is parsed
once per revision and kept. Its keys narrow what the operator allows, never widen it:

    enabled: false               the bot stays silent in this repo
    instructions: "..."          the owner's guidance (at most 1,000 characters), fenced
    language: French             the reply language (default: the question's)
    follow_ups: false            no follow-ups here (FOLLOW_UPS is the ceiling)
    commands: [help, summarize]  the commands allowed here (`resume` always is)
    answer_pull_requests: false  stay out of pull requests (ANSWER_PULL_REQUESTS is the ceiling)

An invalid file is ignored as a whole, its reason kept for the job and for `help`; unknown keys
are named, and a value that would widen what the operator allows is named and not applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.answer.context import Kept
from bot.errors import NotFound
from bot.events import DiscussionRef
from bot.hub.client import HubClient

FILE_NAME = ".hub-bot.yaml"
MAX_FILE_BYTES = 16 * 1024
MAX_INSTRUCTIONS = 1000
CACHED_REVISIONS = 256
ALWAYS_ALLOWED = ("resume",)  # so that a pause can always be undone
_LANGUAGE = re.compile(r"[A-Za-z][A-Za-z .()-]{0,39}")
_FLAGS = ("enabled", "follow_ups", "answer_pull_requests")
_KEYS = (*_FLAGS, "instructions", "language", "commands")
_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass(frozen=True)
class Ceiling:
    """What the operator allows: a repo may narrow it, never widen it."""

    follow_ups: bool
    answer_pull_requests: bool
    commands: tuple[str, ...]


@dataclass(frozen=True)
class RepoSettings:
    """What a repo's file says, checked; None: the key is not set. `problem`: why the file was
    ignored; `unknown`: keys the bot does not know."""

    found: bool = False
    enabled: bool | None = None
    instructions: str = ""
    language: str = ""
    follow_ups: bool | None = None
    commands: tuple[str, ...] | None = None
    answer_pull_requests: bool | None = None
    problem: str | None = None
    unknown: tuple[str, ...] = ()

    def in_force(self, ceiling: Ceiling) -> InForce:
        notes = []
        if self.problem:
            notes.append(f"{FILE_NAME} was ignored: {self.problem}")
        if self.unknown:
            notes.append(f"{FILE_NAME} has unknown keys: {', '.join(self.unknown)}")
        follow_ups = ceiling.follow_ups and self.follow_ups is not False
        if self.follow_ups and not ceiling.follow_ups:
            notes.append("follow_ups: true is not applied: the operator has follow-ups off")
        pulls = ceiling.answer_pull_requests and self.answer_pull_requests is not False
        if self.answer_pull_requests and not ceiling.answer_pull_requests:
            notes.append(
                "answer_pull_requests: true is not applied: the operator keeps the bot out of"
                " pull requests"
            )
        commands = ceiling.commands
        if self.commands is not None:
            wanted = set(self.commands) | set(ALWAYS_ALLOWED)
            commands = tuple(name for name in ceiling.commands if name in wanted)
            if extra := [name for name in self.commands if name not in ceiling.commands]:
                notes.append(f"commands not offered here, so not applied: {', '.join(extra)}")
        return InForce(
            enabled=self.enabled is not False,
            instructions=self.instructions,
            language=self.language,
            follow_ups=follow_ups,
            commands=commands,
            answer_pull_requests=pulls,
            notes=tuple(notes),
        )


@dataclass(frozen=True)
class InForce:
    """The settings that apply in one repo: the operator's, narrowed by the repo's file."""

    enabled: bool
    instructions: str
    language: str
    follow_ups: bool
    commands: tuple[str, ...]
    answer_pull_requests: bool
    notes: tuple[str, ...] = ()


def parse(text: str) -> RepoSettings:
    """The settings a file's text holds; an invalid file gives `problem` and nothing else."""
    import yaml  # here, not at the top: most repos have no such file, and PyYAML costs a start

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return RepoSettings(found=True, problem=f"it is not valid YAML{where}")
    if data is None:
        return RepoSettings(found=True)
    if not isinstance(data, dict):
        return RepoSettings(found=True, problem="it must be a mapping of keys to values")
    try:
        return _checked(data)
    except ValueError as exc:
        return RepoSettings(found=True, problem=str(exc))


def _checked(data: dict[Any, Any]) -> RepoSettings:
    for key in _FLAGS:
        if key in data and not isinstance(data[key], bool):
            raise ValueError(f"{key} must be true or false")
    instructions = data.get("instructions", "")
    if not isinstance(instructions, str):
        raise ValueError("instructions must be text")
    if len(instructions) > MAX_INSTRUCTIONS:
        raise ValueError(f"instructions are longer than {MAX_INSTRUCTIONS} characters")
    language = data.get("language", "")
    if not isinstance(language, str) or (language and not _LANGUAGE.fullmatch(language)):
        raise ValueError("language must be a language's name, such as French (40 letters at most)")
    commands = data.get("commands")
    if commands is not None and (
        not isinstance(commands, list) or not all(isinstance(c, str) for c in commands)
    ):
        raise ValueError("commands must be a list of command names")
    unknown = tuple(sorted(str(key)[:40] for key in data if key not in _KEYS))
    return RepoSettings(
        found=True,
        enabled=data.get("enabled"),
        instructions=instructions.strip(),
        language=language.strip(),
        follow_ups=data.get("follow_ups"),
        commands=tuple(c.strip().lower() for c in commands) if commands is not None else None,
        answer_pull_requests=data.get("answer_pull_requests"),
        unknown=unknown,
    )


class RepoSettingsReader:
    """Reads `.hub-bot.yaml` at a revision of the default branch, once per revision: mentions
    in one repo that are answered at once share one read."""

    def __init__(self, hub: HubClient) -> None:
        self._hub = hub
        self._kept = Kept(size=CACHED_REVISIONS)

    async def read(self, where: DiscussionRef, revision: str | None) -> RepoSettings:
        """The file at `revision` (a sha of the default branch; None when the Hub's facts could
        not be read: the file is then unknown, and the operator's settings apply). A failed
        read (other than a missing file) raises, so the job is tried again."""
        if not revision:  # the facts are unread, which the job's reason already says
            return RepoSettings()
        key = (where.repo_type, where.repo_name, revision)
        return await self._kept.get(key, lambda: self._read(where, revision))

    async def _read(self, where: DiscussionRef, revision: str) -> RepoSettings:
        path = (
            f"/{_PREFIX.get(where.repo_type, '')}{quote(where.repo_name, safe='/')}"
            f"/resolve/{quote(revision, safe='')}/{FILE_NAME}"
        )
        try:
            text = await self._hub.read_text(path, f"read {FILE_NAME}", MAX_FILE_BYTES + 1)
        except NotFound:
            return RepoSettings()
        if len(text.encode()) > MAX_FILE_BYTES:
            return RepoSettings(found=True, problem=f"it is larger than {MAX_FILE_BYTES} bytes")
        return parse(text)
