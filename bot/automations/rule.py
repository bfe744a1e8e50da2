"""One automation rule, as data: when it fires (`on`: a Trigger), what it does (`do`: an
Action), and how often a day at most. bot.automations.rules reads them from the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import translate

EVENTS = ("push", "pull_request")
# The Hub's hardware flavors for Jobs (its OpenAPI description, `POST /api/jobs/{namespace}`).
FLAVORS = (
    "cpu-basic", "cpu-upgrade", "cpu-performance", "cpu-xl", "sprx8", "zero-a10g", "t4-small",
    "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8", "a10g-small", "a10g-large",
    "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8", "h200", "h200x2", "h200x4",
    "h200x8", "rtx-pro-6000", "rtx-pro-6000x2", "rtx-pro-6000x4", "rtx-pro-6000x8", "inf2x6",
)  # fmt: skip
DEFAULT_MAX_PER_DAY = 10
SPACE_IMAGE = "hf.co/spaces/"


@dataclass(frozen=True)
class Trigger:
    repo_type: str
    repos: tuple[str, ...]
    event: str  # push | pull_request

    def matches(self, repo_type: str, repo: str, event: str) -> bool:
        if repo_type != self.repo_type or event != self.event:
            return False
        return any(re.fullmatch(translate(glob.lower()), repo.lower()) for glob in self.repos)


@dataclass(frozen=True)
class Place:
    """A discussion by its repo and title (the bot finds it, or opens it the first time)."""

    repo_type: str
    repo: str
    title: str


@dataclass(frozen=True)
class RunJob:
    image: str
    command: tuple[str, ...]
    flavor: str
    timeout: int
    report: Place
    namespace: str | None = None  # None: the bot's own account
    env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # names of the bot's own environment variables

    @property
    def space(self) -> str | None:
        return self.image.removeprefix(SPACE_IMAGE) if self.image.startswith(SPACE_IMAGE) else None


@dataclass(frozen=True)
class CardReview:
    title: str = "Card review"


@dataclass(frozen=True)
class CommentOn:
    """Render `prompts/automations/<template>.j2` into a comment on the discussion `title` of
    the repo that changed."""

    template: str
    title: str


Action = RunJob | CardReview | CommentOn


@dataclass(frozen=True)
class Rule:
    name: str
    on: Trigger
    do: Action
    max_per_day: int = DEFAULT_MAX_PER_DAY
