"""Which rules a delivery sets off: a repo event (bot.automations.events) matched against the
rules' triggers, after the repo guards (ALLOW_REPOS, DENY_REPOS, ANSWER_PRIVATE_REPOS).

Each match is one run to record: (rule, repo, revision) is its key, so however often the Hub
delivers the event, and however many replicas receive it, it makes one job.
"""

from __future__ import annotations

from bot.automations.events import NotForAutomations, RepoEvent, repo_event
from bot.automations.rules import Rules
from bot.events import Ignore
from bot.guards import GuardRules, Guards
from bot.store.records import AutomationRun, run_as_mention


class Matcher:
    def __init__(self, rules: Rules, guard_rules: GuardRules) -> None:
        self.rules = rules
        # The repo guards only: a repo event has no comment author to hold to the author rules.
        self._guards = Guards(
            GuardRules(
                allow_repos=guard_rules.allow_repos,
                deny_repos=guard_rules.deny_repos,
                answer_private_repos=guard_rules.answer_private_repos,
            )
        )

    def match(self, body: bytes, delivery: str = "") -> list[AutomationRun] | Ignore:
        """The runs a delivery's body calls for, or why there are none."""
        found = repo_event(body)
        if isinstance(found, NotForAutomations):
            return Ignore(found.reason, "automation")
        return self.runs(found, delivery)

    def runs(self, event: RepoEvent, delivery: str = "") -> list[AutomationRun] | Ignore:
        made = [
            AutomationRun(
                rule=rule.name,
                repo_type=event.repo_type,
                repo=event.repo,
                revision=event.revision,
                event=event.event,
                private=event.private,
                refs=event.refs,
                pull_request=event.pull_request,
                max_per_day=rule.max_per_day,
                delivery=delivery,
            )
            for rule in self.rules.rules
            if rule.on.matches(event.repo_type, event.repo, event.event)
        ]
        if not made:
            return Ignore(f"no automation rule matches this {event.event}", "automation")
        if refusal := self._guards.refuse(run_as_mention(made[0])):
            return refusal
        return made
