"""The automations file, once parsed, read into rules: every key checked, every problem noted
with the rule and the key it is about, instead of stopping at the first
(bot.automations.rules reports them together).
"""

from __future__ import annotations

import re
from fnmatch import translate
from typing import Any

from bot.automations.rule import (
    DEFAULT_MAX_PER_DAY,
    EVENTS,
    FLAVORS,
    SPACE_IMAGE,
    Action,
    CardReview,
    CommentOn,
    Place,
    Rule,
    RunJob,
    Trigger,
)
from bot.events import REPO_TYPES

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")  # goes into Job labels and file names
_ENV_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]+")  # the Hub's rule for environment names
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
_GLOB = re.compile(r"[A-Za-z0-9_.*?\[\]!-]+(/[A-Za-z0-9_.*?\[\]!-]+)?")


class RuleReader:
    """Reads the parsed YAML into rules, noting every problem instead of stopping at one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, where: str, given: dict[Any, Any], known: tuple[str, ...]) -> None:
        for key in given:
            if key not in known:
                self.bad(where, f"unknown key {str(key)!r} (known: {', '.join(known)})")

    def file(self, raw: Any) -> list[Rule]:
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.bad("file", "expected a mapping with a `rules` list")
            return []
        self.keys("file", raw, ("rules",))
        listed = raw.get("rules") or []
        if not isinstance(listed, list):
            self.bad("rules", "expected a list")
            return []
        rules = [self.rule(n, entry) for n, entry in enumerate(listed, start=1)]
        names = [rule.name for rule in rules if rule]
        for name in {name for name in names if names.count(name) > 1}:
            self.bad(f"rule {name}", "the name is used twice")
        return [rule for rule in rules if rule is not None]

    def rule(self, number: int, raw: Any) -> Rule | None:
        where = f"rule {number}"
        if not isinstance(raw, dict):
            self.bad(where, "expected a mapping with name, on and do")
            return None
        raw = {("on" if key is True else key): value for key, value in raw.items()}
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            self.bad(where, "name: 1-60 letters, digits, '.', '_' or '-', starting alphanumeric")
        else:
            where = f"rule {name}"
        self.keys(where, raw, ("name", "on", "do", "max_per_day"))
        trigger = self.trigger(where, raw.get("on"))
        action, limit = self.action(where, raw.get("do"))
        limit = self.count(where, "max_per_day", raw.get("max_per_day", limit))
        if not isinstance(name, str) or trigger is None or action is None or self.problems:
            return None
        return Rule(name, trigger, action, limit)

    def trigger(self, where: str, raw: Any) -> Trigger | None:
        where = f"{where}: on"
        if not isinstance(raw, dict):
            self.bad(where, "expected a mapping with repo_type, repos and event")
            return None
        self.keys(where, raw, ("repo_type", "repos", "event"))
        repo_type, repos, event = raw.get("repo_type"), raw.get("repos"), raw.get("event")
        ok = True
        if repo_type not in REPO_TYPES:
            self.bad(where, f"repo_type: one of {', '.join(REPO_TYPES)}")
            ok = False
        if event not in EVENTS:
            self.bad(where, f"event: one of {', '.join(EVENTS)}")
            ok = False
        if not isinstance(repos, list) or not repos:
            self.bad(where, 'repos: a list of globs, such as ["acme/*"]')
            return None
        for glob in repos:
            if not isinstance(glob, str) or not _good_glob(glob):
                self.bad(where, f"repos: {str(glob)[:80]!r} is not a glob of repo ids (ns/name)")
                ok = False
        return Trigger(str(repo_type), tuple(str(g) for g in repos), str(event)) if ok else None

    def action(self, where: str, raw: Any) -> tuple[Action | None, int]:
        where = f"{where}: do"
        if raw == "card_review":
            return CardReview(), DEFAULT_MAX_PER_DAY
        if not isinstance(raw, dict) or len(raw) != 1:
            self.bad(where, "one of run_job: {...}, card_review, comment: {...}")
            return None, DEFAULT_MAX_PER_DAY
        ((kind, body),) = raw.items()
        if kind == "run_job":
            return self.run_job(f"{where}.run_job", body)
        if kind == "card_review":
            body = body or {}
            self.keys(f"{where}.card_review", body, ("title",))
            title = self.title(f"{where}.card_review", body.get("title", CardReview.title))
            return CardReview(title), DEFAULT_MAX_PER_DAY
        if kind == "comment":
            return self.comment(f"{where}.comment", body), DEFAULT_MAX_PER_DAY
        self.bad(where, f"unknown action {str(kind)!r} (known: run_job, card_review, comment)")
        return None, DEFAULT_MAX_PER_DAY

    def run_job(self, where: str, raw: Any) -> tuple[RunJob | None, int]:
        known = ("image", "command", "flavor", "timeout", "namespace", "env", "secrets")
        self.keys(where, raw if isinstance(raw, dict) else {}, (*known, "report", "max_per_day"))
        if not isinstance(raw, dict):
            self.bad(where, "expected a mapping")
            return None, DEFAULT_MAX_PER_DAY
        limit = self.count(where, "max_per_day", raw.get("max_per_day", DEFAULT_MAX_PER_DAY))
        image, command = raw.get("image"), raw.get("command")
        if not isinstance(image, str) or not image.strip():
            self.bad(where, "image: a Docker image (python:3.12) or hf.co/spaces/ns/name")
        elif image.startswith(SPACE_IMAGE) and not _REPO_ID.fullmatch(image[len(SPACE_IMAGE) :]):
            self.bad(where, "image: hf.co/spaces/ must be followed by a Space id (ns/name)")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) and part for part in command)
        ):
            self.bad(where, 'command: a list of strings, such as ["python", "train.py"]')
        flavor = raw.get("flavor", "cpu-basic")
        if flavor not in FLAVORS:
            self.bad(where, f"flavor: {str(flavor)[:40]!r} is not a Hub flavor (cpu-basic, ...)")
        timeout = self.count(where, "timeout", raw.get("timeout", 1800))
        namespace = raw.get("namespace")
        if namespace is not None and not (
            isinstance(namespace, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", namespace)
        ):
            self.bad(where, "namespace: a user or organisation name")
        env = raw.get("env") or {}
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and _ENV_NAME.fullmatch(k) and isinstance(v, str | int | float)
            for k, v in env.items()
        ):
            self.bad(where, 'env: a mapping of NAME: "value" (names: letters, digits, _)')
            env = {}
        secrets = raw.get("secrets") or []
        if not isinstance(secrets, list) or not all(
            isinstance(s, str) and _ENV_NAME.fullmatch(s) for s in secrets
        ):
            self.bad(where, "secrets: a list of environment variable names")
            secrets = []
        report = self.place(f"{where}.report", raw.get("report"))
        if self.problems or report is None:
            return None, limit
        job = RunJob(
            image=str(image),
            command=tuple(command),  # type: ignore[arg-type]  # checked above: list of str
            flavor=str(flavor),
            timeout=timeout,
            report=report,
            namespace=namespace,
            env={str(k): str(v) for k, v in env.items()},
            secrets=tuple(secrets),
        )
        return job, limit

    def comment(self, where: str, raw: Any) -> CommentOn | None:
        if not isinstance(raw, dict):
            self.bad(where, "expected a mapping with template and title")
            return None
        self.keys(where, raw, ("template", "title"))
        template = raw.get("template")
        if not isinstance(template, str) or not _NAME.fullmatch(template):
            self.bad(where, "template: a name (prompts/automations/<name>.j2)")
            return None
        title = self.title(where, raw.get("title"))
        return CommentOn(template, title) if title else None

    def place(self, where: str, raw: Any) -> Place | None:
        if not isinstance(raw, dict):
            self.bad(where, 'expected {repo: ns/name, title: "..."}')
            return None
        self.keys(where, raw, ("repo", "title"))
        repo = raw.get("repo")
        repo_type, _, name = str(repo).rpartition(":")
        repo_type = repo_type or "model"
        if not isinstance(repo, str) or repo_type not in REPO_TYPES or not _REPO_ID.fullmatch(name):
            self.bad(where, "repo: ns/name, or dataset:ns/name or space:ns/name")
            return None
        title = self.title(where, raw.get("title"))
        return Place(repo_type, name, title) if title else None

    def title(self, where: str, raw: Any) -> str:
        if not isinstance(raw, str) or not 3 <= len(raw.strip()) <= 200:
            self.bad(where, "title: 3 to 200 characters")
            return ""
        return raw.strip()

    def count(self, where: str, key: str, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            self.bad(where, f"{key}: a whole number, at least 1")
            return DEFAULT_MAX_PER_DAY
        return raw


def _good_glob(glob: str) -> bool:
    """A glob of repo ids: the characters of a repo id and *, ?, [...], one `/` at most, and
    balanced brackets."""
    if not _GLOB.fullmatch(glob) or glob.count("[") != glob.count("]"):
        return False
    try:
        re.compile(translate(glob))
    except re.error:
        return False
    return True
