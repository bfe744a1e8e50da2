"""The words automations post, from `prompts/automations/` (Jinja2, strict: a variable the
template uses but is not given is an error, not an empty string). Operators add their own
templates there for `do: {comment: {template: NAME}}`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from bot.automations.rule import CommentOn
from bot.automations.rules import Rules
from bot.errors import PromptError

FOLDER = "automations"
BUILT_IN = ("run_job_report", "card_review")


class AutomationTemplates:
    def __init__(self, prompts_dir: Path) -> None:
        self.folder = prompts_dir / FOLDER
        self._env = Environment(
            loader=FileSystemLoader(self.folder),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - Markdown for the Hub, which escapes it itself
            keep_trailing_newline=False,
        )

    def render(self, name: str, **values: Any) -> str:
        try:
            return self._env.get_template(f"{name}.j2").render(**values).strip()
        except TemplateError as exc:
            raise PromptError(f"{self.folder / name}.j2: {exc}") from None

    def missing(self, rules: Rules) -> list[str]:
        """The templates the rules need that are not in the folder."""
        names = [*BUILT_IN, *(r.do.template for r in rules.rules if isinstance(r.do, CommentOn))]
        return [name for name in names if not (self.folder / f"{name}.j2").is_file()]
