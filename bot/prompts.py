"""Prompt templates from PROMPTS_DIR (Jinja2), checked at startup, and the model's output cleaned.

Templates are strict: a variable that is not one of `PROMPT_VARIABLES` is refused when the bot
starts, not at the first mention. They are plain text for a model, so nothing is HTML-escaped;
comment text is only ever a value, never itself rendered as a template.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
)

from bot.errors import PromptError
from bot.events import DiscussionRef, Mention


@dataclass(frozen=True)
class PromptContext:
    """The variables every template may use."""

    comment: str
    title: str
    repo_name: str
    repo_type: str
    discussion_num: int
    is_pull_request: bool
    bot_name: str

    @classmethod
    def for_mention(cls, mention: Mention, bot_name: str) -> PromptContext:
        return cls(
            comment=mention.text,
            title=mention.title,
            repo_name=mention.where.repo_name,
            repo_type=mention.where.repo_type,
            discussion_num=mention.where.num,
            is_pull_request=mention.is_pull_request,
            bot_name=bot_name,
        )


PROMPT_VARIABLES = frozenset(PromptContext.__dataclass_fields__)
SAMPLE_CONTEXT = PromptContext.for_mention(
    Mention(
        comment_id="0" * 24,
        author_id="1" * 24,
        text="@bot What does this model do?",
        where=DiscussionRef("model", "org/name", 1),
        title="A question",
        is_pull_request=False,
        repo_private=False,
    ),
    bot_name="bot",
)


class Prompts:
    def __init__(self, directory: Path, completion_template: str) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text for a model, not HTML
        )
        self._directory = directory
        self._completion = self._load(completion_template)

    def _load(self, name: str) -> Template:
        where = self._directory / name
        try:
            source, _, _ = self._env.loader.get_source(self._env, name)  # type: ignore[union-attr]
            unknown = meta.find_undeclared_variables(self._env.parse(source)) - PROMPT_VARIABLES
            if unknown:
                raise PromptError(
                    f"{where} uses {', '.join(sorted(unknown))}, which is not a prompt variable"
                    f" (known: {', '.join(sorted(PROMPT_VARIABLES))})"
                )
            template = self._env.get_template(name)
            template.render(asdict(SAMPLE_CONTEXT))
        except PromptError:
            raise
        except TemplateNotFound:
            raise PromptError(
                f"{where} does not exist: check PROMPTS_DIR and PROMPT_TEMPLATE"
            ) from None
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            at = f" line {line}" if line else ""
            raise PromptError(f"{where}{at}: {exc.message or type(exc).__name__}") from None
        except OSError as exc:
            raise PromptError(f"{where} cannot be read: {exc.strerror}") from None
        return template

    def completion(self, context: PromptContext) -> str:
        return self._completion.render(asdict(context))


def strip_echo(prompt: str, generated: str) -> str:
    """The continuation alone, whether or not the API honoured return_full_text=false."""
    if generated.startswith(prompt):
        generated = generated[len(prompt) :]
    else:
        stripped = prompt.strip()
        head = generated.lstrip()
        if stripped and head.startswith(stripped):
            generated = head[len(stripped) :]
    return generated.strip()
