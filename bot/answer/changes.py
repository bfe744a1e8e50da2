"""A pull request's changes as the model sees them: its base, the files in conflict, and its
diff (`GET .../discussions/{num}?diff=1`) cut per file within DIFF_BUDGET_CHARS.

Binary files and files stored with Git LFS are named, never shown; a text file whose part of
the diff is huge (a regenerated tokenizer, say) is named with its line counts, so a 50 MB
diff costs one line; the others are shown in order, each cut short when long, until the budget
is spent, and the rest are named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PER_FILE_SHARE = 2  # one file shows at most half the budget
HUGE_FILE_CHARS = 100_000  # a file's part of the diff past this is named, not shown
_FILE_HEADER = re.compile(r"^diff --git a/(.*?) b/(.*)$", re.MULTILINE)
_LFS_SIZE = re.compile(r"^\+size (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    removed: int
    kind: str  # "text", "binary" or "lfs"
    shown: str  # "all", "part" or "none"
    size: int | None = None  # for an LFS file, its size in bytes

    def describe(self) -> str:
        if self.kind == "binary":
            return f"{self.path}: binary, not shown"
        if self.kind == "lfs":
            size = f" ({self.size:,} bytes)" if self.size is not None else ""
            return f"{self.path}: large file stored with Git LFS{size}, not shown"
        shown = {"all": "", "part": ", shown in part", "none": ", not shown"}[self.shown]
        return f"{self.path}: +{self.added} -{self.removed}{shown}"


@dataclass(frozen=True)
class PullRequest:
    base: str | None
    conflicts: tuple[str, ...]
    changed: tuple[str, ...]  # one line per file changed, at most FILES_LISTED of them
    diff: str  # the parts shown, within the budget


def pull_request_of(details: object, budget: int, listed: int) -> PullRequest | None:
    """The changes of a pull request's details (read with ?diff=1), or None for a discussion;
    at most `listed` files changed (or in conflict) are named."""
    if not isinstance(details, dict) or not details.get("isPullRequest"):
        return None
    changes = details.get("changes")
    base = changes.get("base") if isinstance(changes, dict) else None
    base = base if isinstance(base, str) else None
    found = details.get("filesWithConflicts")
    conflicts = tuple(c for c in found if isinstance(c, str)) if isinstance(found, list) else ()
    diff = details.get("diff")
    files, shown = cut_diff(diff if isinstance(diff, str) else "", budget)
    changed = shown_files(tuple(change.describe() for change in files), listed)
    return PullRequest(base, shown_files(conflicts, listed), changed, shown)


def cut_diff(diff: str, budget: int) -> tuple[tuple[FileChange, ...], str]:
    """Each file's change, and the diff text that fits the budget."""
    files, parts, left = [], [], budget
    per_file = max(budget // PER_FILE_SHARE, 200)
    for path, section in _sections(diff):
        added, removed = _counts(section)
        kind, size = _kind(section)
        if kind != "text" or len(section) > HUGE_FILE_CHARS or left < 200:
            files.append(FileChange(path, added, removed, kind, "none", size))
            continue
        room = min(left, per_file)
        if len(section) <= room:
            text, shown = section, "all"
        else:
            text, shown = _cut(section, room), "part"
        parts.append(text)
        left -= len(text)
        files.append(FileChange(path, added, removed, kind, shown, size))
    return tuple(files), "\n".join(parts)


def _sections(diff: str) -> list[tuple[str, str]]:
    starts = list(_FILE_HEADER.finditer(diff))
    found = []
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(diff)
        found.append((start.group(2), diff[start.start() : end].rstrip("\n")))
    return found


def _counts(section: str) -> tuple[int, int]:
    added = removed = 0
    for line in section.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def _kind(section: str) -> tuple[str, int | None]:
    if "GIT binary patch" in section or re.search(r"^Binary files .* differ$", section, re.M):
        return "binary", None
    if "version https://git-lfs.github.com/spec/v1" in section:
        size = _LFS_SIZE.search(section)
        return "lfs", int(size.group(1)) if size else None
    return "text", None


def _cut(section: str, room: int) -> str:
    kept, used = [], 0
    lines = section.splitlines()
    for line in lines:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, f"[... {len(lines) - len(kept)} more lines of this file not shown]"])


def shown_files(files: tuple[str, ...], listed: int) -> tuple[str, ...]:
    """At most `listed` names, and a last line saying how many more there are."""
    if len(files) <= listed:
        return files
    return (*files[:listed], f"... and {len(files) - listed} more files")
