"""`do: comment`: an operator's template (`prompts/automations/<name>.j2`), rendered with the
repo's facts and the push's refs, posted once per run on a discussion of the repo that changed
(found by its title, opened the first time)."""

from __future__ import annotations

from typing import Any

from bot.automations.discussions import Discussions, Spoken
from bot.automations.rule import CommentOn, Place, Rule
from bot.automations.templates import AutomationTemplates
from bot.events import Identity
from bot.store.records import AutomationRun


def template_values(run: AutomationRun, endpoint: str) -> dict[str, Any]:
    """What a comment template may use."""
    prefix = {"dataset": "datasets/", "space": "spaces/"}.get(run.repo_type, "")
    return {
        "rule": run.rule,
        "event": run.event,
        "repo": run.repo,
        "repo_type": run.repo_type,
        "repo_url": f"{endpoint}/{prefix}{run.repo}",
        "revision": run.revision,
        "pull_request": run.pull_request,
        "refs": [{"ref": ref, "old": old, "new": new} for ref, old, new in run.refs],
    }


class Commenter:
    def __init__(
        self, discussions: Discussions, templates: AutomationTemplates, endpoint: str
    ) -> None:
        self._discussions = discussions
        self._templates = templates
        self._endpoint = endpoint

    def text(self, rule: Rule, run: AutomationRun) -> str:
        action = rule.do
        assert isinstance(action, CommentOn)
        return self._templates.render(action.template, **template_values(run, self._endpoint))

    async def run(self, rule: Rule, run: AutomationRun, bot: Identity) -> Spoken:
        action = rule.do
        assert isinstance(action, CommentOn)
        place = Place(run.repo_type, run.repo, action.title)
        return await self._discussions.say_once(place, bot, run.key, self.text(rule, run))
