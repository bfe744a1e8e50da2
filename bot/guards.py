"""Rules that stop a reply on purpose. Each is a setting with a safe default, and each says why.

Rules about who, where and what kind of discussion are checked when the webhook arrives, so the
Hub's Activity tab shows the reason. Rate limits are checked just before a job runs, against the
replies actually posted, so a burst of queued mentions cannot slip past them.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase

from bot.config import Settings
from bot.events import Ignore, Mention
from bot.store import Store

HOUR = 3600.0
DAY = 24 * HOUR


class Guards:
    def __init__(self, settings: Settings) -> None:
        self._s = settings

    def refuse(self, mention: Mention) -> Ignore | None:
        """Why this mention must not be answered at all, or None.

        Reasons never name the repo: they are shown on the status page, where a private
        repo's name must not appear.
        """
        s, repo = self._s, mention.where.repo_name.lower()
        if not any(fnmatchcase(repo, glob.lower()) for glob in s.allow_repos):
            return Ignore("repo is not in ALLOW_REPOS", "allow_repos")
        if any(fnmatchcase(repo, glob.lower()) for glob in s.deny_repos):
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

    def over_limit(self, store: Store, mention: Mention) -> str | None:
        """Which rate limit a reply now would break, or None. A limit of 0 means none."""
        s, now = self._s, time.time()
        limits = (
            (
                s.replies_per_discussion_hour,
                store.replies_since(now - HOUR, discussion_key=mention.where.key),
                "REPLIES_PER_DISCUSSION_HOUR",
            ),
            (
                s.replies_per_author_hour,
                store.replies_since(now - HOUR, author_id=mention.author_id),
                "REPLIES_PER_AUTHOR_HOUR",
            ),
            (s.replies_per_day, store.replies_since(now - DAY), "REPLIES_PER_DAY"),
        )
        for limit, used, name in limits:
            if limit and used >= limit:
                return f"rate limit: {used} replies already ({name}={limit})"
        return None
