"""Commands written as templates: `prompts/commands/<name>.j2` defines the command `<name>`.

The shipped ones are `summarize` and `describe`; an operator adds their own by adding a file.
Its first line is a Jinja comment, `{# ... #}`, the command's help text. What it renders is the
command's task, given to the model beside the bot's own rules (the system message of a chat
model), so a command template holds the operator's words only: like chat_system.j2, it may use
no variable but those in SYSTEM_VARIABLES (others are refused when the bot starts, or by
`python -m bot check`). The discussion itself reaches the model as it does for any answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError, meta

from bot.answer.prompt_context import (
    SAMPLE_CONTEXT,
    SAMPLE_PR_CONTEXT,
    SYSTEM_VARIABLES,
    PromptContext,
)
from bot.errors import PromptError

FOLDER = "commands"
BUILT_IN = ("help", "pause", "resume")  # written in code: no template may take their names
_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
_HELP_LINE = re.compile(r"\{#-?\s*(.+?)\s*-?#\}\s*$")


@dataclass(frozen=True)
class CommandTemplate:
    name: str
    help: str
    template: Template = field(repr=False, compare=False)

    def task(self, context: PromptContext) -> str:
        return self.template.render(context.variables()).strip()


class CommandTemplates:
    """Every command template of PROMPTS_DIR/commands, checked once."""

    def __init__(self, prompts_dir: Path) -> None:
        self.folder = prompts_dir / FOLDER
        self.commands: dict[str, CommandTemplate] = {}
        if not self.folder.is_dir():
            return
        env = Environment(
            loader=FileSystemLoader(self.folder),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text for a model, not HTML
        )
        for path in sorted(self.folder.glob("*.j2")):
            command = _checked(env, path)
            self.commands[command.name] = command

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.commands)

    def get(self, name: str) -> CommandTemplate | None:
        return self.commands.get(name)


def _checked(env: Environment, path: Path) -> CommandTemplate:
    name = path.name.removesuffix(".j2")
    if not _NAME.fullmatch(name):
        raise PromptError(
            f"{path}: a command's name is lowercase letters, digits and '-' (at most 31),"
            " starting with a letter: rename the file"
        )
    if name in BUILT_IN:
        raise PromptError(f"{path}: {name} is a built-in command: give the file another name")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"{path} cannot be read: {exc}") from None
    first = source.splitlines()[0] if source else ""
    described = _HELP_LINE.fullmatch(first.strip())
    if not described:
        raise PromptError(
            f"{path}: its first line must be a Jinja comment with the command's help text,"
            " such as {# summarize the discussion so far #}"
        )
    try:
        used = meta.find_undeclared_variables(env.parse(source))
        if others := used - SYSTEM_VARIABLES:
            raise PromptError(
                f"{path} uses {', '.join(sorted(others))}: a command template holds the"
                f" operator's words only (it may use {', '.join(sorted(SYSTEM_VARIABLES))})"
            )
        template = env.get_template(path.name)
        for sample in (SAMPLE_CONTEXT, SAMPLE_PR_CONTEXT):
            template.render(sample.variables())
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        at = f" line {line}" if line else ""
        raise PromptError(f"{path}{at}: {exc.message or type(exc).__name__}") from None
    return CommandTemplate(name, described.group(1)[:200], template)
