"""Rules that stop a reply on purpose. Each is a setting with a safe default, and each says why.

Rules about who, where and what kind of discussion are checked when the webhook arrives, so the
Hub's Activity tab shows the reason. Reply limits are counted, and each reply reserved, when a
job is claimed (bot.store.jobs), so jobs running at once cannot overshoot a limit together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate

from bot.events import Ignore, Mention


def _any_of(globs: Iterable[str]) -> re.Pattern[str]:
    """One pattern for a list of globs, compiled once: this runs for every mention."""
    return re.compile("|".join(translate(glob.lower()) for glob in globs) or "(?!)")


@dataclass(frozen=True)
class GuardRules:
    """The settings the guards apply (ALLOW_REPOS, DENY_REPOS, ...); empty lists allow all."""

    allow_repos: tuple[str, ...] = ("*",)
    deny_repos: tuple[str, ...] = ()
    allow_authors: tuple[str, ...] = ()
    deny_authors: tuple[str, ...] = ()
    answer_private_repos: bool = False
    answer_closed: bool = False
    answer_pull_requests: bool = True


class Guards:
    def __init__(self, rules: GuardRules) -> None:
        self._s = rules
        self._allowed = _any_of(rules.allow_repos)
        self._denied = _any_of(rules.deny_repos)

    def refuse(self, mention: Mention) -> Ignore | None:
        """Why this mention must not be answered at all, or None.

        Reasons never name the repo: they are shown on the status page, where a private
        repo's name must not appear.
        """
        s, repo = self._s, mention.where.repo_name.lower()
        if not self._allowed.match(repo):
            return Ignore("repo is not in ALLOW_REPOS", "allow_repos")
        if self._denied.match(repo):
            return Ignore("repo matches DENY_REPOS", "deny_repos")
        if s.allow_authors and mention.author_id not in s.allow_authors:
            return Ignore("author is not in ALLOW_AUTHORS", "allow_authors")
        if mention.author_id in s.deny_authors:
            return Ignore("author is in DENY_AUTHORS", "deny_authors")
        if mention.repo_private and not s.answer_private_repos:
            return Ignore("repo is private and ANSWER_PRIVATE_REPOS is off", "private_repo")
        if mention.discussion_status in ("closed", "merged") and not s.answer_closed:
            status = mention.discussion_status
            return Ignore(f"discussion is {status} and ANSWER_CLOSED is off", "closed")
        if mention.is_pull_request and not s.answer_pull_requests:
            return Ignore("pull requests are off (ANSWER_PULL_REQUESTS)", "pull_request")
        return None
