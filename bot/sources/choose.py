"""Which lookups a question asks for, by the phrasings in phrasings.toml (data a maintainer
extends, not code): the kinds whose words it contains, for the repo's type, and the files it
names by path, base name or a common name ("the tokenizer config")."""

from __future__ import annotations

import posixpath
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("phrasings.toml")
KINDS = ("config", "weights", "evaluation", "viewer", "space")
MAX_NAMED_FILES = 2


@dataclass(frozen=True)
class Phrasings:
    kinds: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # kind -> (repo types, phrasings)
    aliases: dict[str, str]  # a phrase -> the file it names


@dataclass(frozen=True)
class Choice:
    kinds: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


@cache
def phrasings(path: Path = TABLE) -> Phrasings:
    table: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    kinds = {}
    for kind in KINDS:
        entry = table.get(kind, {})
        words = [w.casefold() for key, value in entry.items() if key != "repo_types" for w in value]
        kinds[kind] = (tuple(entry.get("repo_types", ())), tuple(words))
    aliases = {k.casefold(): v for k, v in table.get("file", {}).get("aliases", {}).items()}
    return Phrasings(kinds, aliases)


def choose(
    question: str, repo_type: str, files: tuple[str, ...], table: Phrasings | None = None
) -> Choice:
    table = table or phrasings()
    text = question.casefold()
    kinds = tuple(
        kind
        for kind, (types, words) in table.kinds.items()
        if repo_type in types and any(w in text for w in words)
    )
    return Choice(kinds, named_files(text, files, table))


def named_files(text: str, files: tuple[str, ...], table: Phrasings) -> tuple[str, ...]:
    """The repo's files the (lower-cased) question names, at most MAX_NAMED_FILES."""
    named: list[str] = []
    for name in files:
        base = posixpath.basename(name).casefold()
        if "." not in base or len(base) < 4 or base == "readme.md":
            continue  # the card is read anyway; "a" or "LICENSE" match too much
        if _mentions(text, name.casefold()) or _mentions(text, base):
            named.append(name)
    for phrase, target in table.aliases.items():
        if phrase in text:
            wanted = target.casefold()
            named += [
                f for f in files if wanted in (f.casefold(), posixpath.basename(f).casefold())
            ]
    return tuple(dict.fromkeys(named))[:MAX_NAMED_FILES]


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w-])", text) is not None
