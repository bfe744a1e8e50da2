"""Files of the repo at the revision a reply is about, read from HF_ENDPOINT within caps.

A path comes from a question or from a model's tool call, so it is someone else's text: it is
taken only as a path inside this repo (no `..`, no absolute path, no URL, nothing that names
another repo's page), and a bare base name ("train.py") is matched against the repo's files.
Before a named file is read, paths-info says whether it is there, its size and whether it is
stored with LFS; LFS files and files over the cap are never downloaded. Small JSON files the
sources know (config.json, ...) are read directly, up to a byte cap, in one round trip.

What was read is kept per repo, revision and path (bounded; a read under way is shared), so a
question asked ten times reads its file once. A failure is kept too, so a missing file is not
asked for again and again.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.answer.context import Kept
from bot.errors import UpstreamError
from bot.hub.client import HubClient
from bot.sources.found import Found, Unread, Where

FILE_CHARS = 3000  # the most of one named file the model sees
MAX_FILE_BYTES = 1024 * 1024  # a named file larger than this is not read at all
JSON_BYTES = 256 * 1024  # config.json and its kin: larger than this is not a config to read
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    lfs: bool


def safe_path(raw: str) -> str:
    """`raw` as a path inside the repo, or Unread saying why it cannot be one."""
    path = raw.strip().removeprefix("./")
    if not path or len(path) > 300 or _UNSAFE.search(path):
        raise Unread(raw[:80] or "(no path)", "not a file path")
    if "://" in path or path.lower().startswith(("http:", "https:", "www.")):
        raise Unread(raw[:80], "a URL; only a path inside this repo can be read")
    if path.startswith("/"):
        raise Unread(raw[:80], "an absolute path; give a path inside this repo")
    if ".." in path.split("/") or posixpath.normpath(path) != path:
        raise Unread(raw[:80], "a path leaving this repo, or not a plain path")
    return path


def match_name(path: str, files: tuple[str, ...]) -> str:
    """The repo's file that `path` names: itself, or, for a bare base name ("train.py"), the
    one file with that base name."""
    if path in files or not files or "/" in path:
        return path
    same = [f for f in files if posixpath.basename(f) == posixpath.basename(path)]
    return same[0] if len(same) == 1 else path


class RepoFiles:
    def __init__(self, hub: HubClient, cached: int = 256) -> None:
        self._hub = hub
        self._texts: Kept = Kept(size=cached)

    async def json_text(self, where: Where, path: str) -> str:
        """A small known file (config.json, ...) read whole, up to JSON_BYTES."""
        return await self._kept(where, path, "whole", lambda: self._read(where, path, JSON_BYTES))

    async def named(self, where: Where, raw_path: str, files: tuple[str, ...]) -> Found:
        """A file a question or a tool call names, checked first, cut to FILE_CHARS."""
        path = match_name(safe_path(raw_path), files)
        text = await self._kept(where, path, "named", lambda: self._checked_read(where, path))
        return Found("file", path, where.blob(path), text).cut(FILE_CHARS)

    async def _kept(
        self, where: Where, path: str, how: str, read: Callable[[], Awaitable[str | Unread]]
    ) -> str:
        key = (where.repo_type, where.repo_name, where.revision, path, how)
        outcome = await self._texts.get(key, read)
        if isinstance(outcome, Unread):
            raise outcome
        return str(outcome)

    async def info(self, where: Where, path: str) -> FileInfo | None:
        rev = where.revision.replace("/", "%2F")
        listed = await self._hub.paths_info(f"{where.api}/paths-info/{rev}", [path])
        for entry in listed if isinstance(listed, list) else []:
            if isinstance(entry, dict) and entry.get("path") == path:
                if entry.get("type") != "file":
                    raise Unread(path, "a folder, not a file")
                size = entry.get("size")
                return FileInfo(path, size if isinstance(size, int) else 0, "lfs" in entry)
        return None

    async def _checked_read(self, where: Where, path: str) -> str | Unread:
        try:
            found = await self.info(where, path)
        except Unread as exc:
            return exc
        except UpstreamError as exc:
            return Unread(path, why(exc))
        if found is None:
            return Unread(path, "no such file in this repo at this revision")
        if found.lfs:
            return Unread(path, f"a {found.size:,}-byte file stored with LFS; not downloaded")
        if found.size > MAX_FILE_BYTES:
            return Unread(path, f"{found.size:,} bytes, over the {MAX_FILE_BYTES:,}-byte cap")
        return await self._read(where, path, MAX_FILE_BYTES, wanted=FILE_CHARS * 4)

    async def _read(
        self, where: Where, path: str, cap: int, wanted: int | None = None
    ) -> str | Unread:
        """The file's text: whole up to `cap` bytes (Unread if larger), or only its first
        `wanted` bytes when a cut is fine."""
        first = wanted or cap + 1
        try:
            text = await self._hub.read_text(where.resolve(path), f"read {path}", first_bytes=first)
        except UpstreamError as exc:
            return Unread(path, why(exc))
        if wanted is None and len(text.encode("utf-8", errors="replace")) > cap:
            return Unread(path, f"larger than {cap:,} bytes; not read")
        if "\x00" in text:
            return Unread(path, "a binary file")
        return text


def why(exc: UpstreamError) -> str:
    if exc.status is None or exc.status == 200:
        return exc.detail[:120]
    return f"HTTP {exc.status}"
