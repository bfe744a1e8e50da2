"""What every source shares: where a reply is about, what a source found, and the errors a
source gives instead of raising."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

WEB = "https://huggingface.co"  # citations link to the Hub's web pages, never to an API
_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass(frozen=True)
class Where:
    """The repo a reply is about, at the revision it is about: the repo's sha, or a pull
    request's head (`refs/pr/N`)."""

    repo_type: str
    repo_name: str
    revision: str

    @property
    def prefix(self) -> str:
        return _PREFIX.get(self.repo_type, "")

    @property
    def page(self) -> str:
        return f"{WEB}/{self.prefix}{self.repo_name}"

    def blob(self, path: str) -> str:
        """A file's web page at this revision."""
        return f"{self.page}/blob/{quote(self.revision, safe='')}/{quote(path)}"

    @property
    def api(self) -> str:
        return f"/api/{self.repo_type}s/{quote(self.repo_name, safe='/')}"

    def resolve(self, path: str) -> str:
        """The path (on HF_ENDPOINT) of a file's bytes at this revision."""
        rev = quote(self.revision, safe="")
        return f"/{self.prefix}{quote(self.repo_name, safe='/')}/resolve/{rev}/{quote(path)}"


@dataclass(frozen=True)
class Found:
    """What one source gives the model: a short `text` and its citation (`label`, `url`)."""

    kind: str  # config, weights, evaluation, viewer, space, file
    label: str
    url: str
    text: str

    def cut(self, chars: int) -> Found:
        if len(self.text) <= chars:
            return self
        return Found(
            self.kind, self.label, self.url, self.text[: max(chars - 16, 0)] + "\n[... cut]"
        )


class Unread(Exception):
    """A source could not give its text; `why` says so in a few words for the job's reason
    ("config.json (HTTP 404)") or, for a tool call, for the model."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what} ({why})")
        self.what = what
        self.why = why


class Toolbox(Protocol):
    """The lookups offered to a chat model as tools, for one reply."""

    max_calls: int

    def specs(self) -> list[dict[str, Any]]: ...

    async def call(self, name: str, arguments: str) -> str: ...

    @property
    def given(self) -> tuple[Found, ...]: ...
