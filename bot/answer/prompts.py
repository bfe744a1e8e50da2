"""Prompt templates from PROMPTS_DIR (Jinja2), checked at startup.

A prompt set is a folder of the templates in `TEMPLATES`; the default set is PROMPTS_DIR itself,
and a named set is a subfolder whose missing templates fall back to the default ones.
PROMPT_SETS picks a set per repo (`org/*=formal`). Templates are strict: a variable that is not
in `PROMPT_VARIABLES` is refused when the bot starts, not at the first mention. They are plain
text for a model, so nothing is HTML-escaped; comment text is only ever a value, never itself
rendered as a template.

Everything other people wrote is fenced (`material`, bot/answer/fence.py) wherever it goes, and
the system message of a chat model holds only the bot's and the operator's words: a
chat_system.j2 that uses anything else (`SYSTEM_VARIABLES`), itself or through an include, is
refused at startup like an unknown variable.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
    nodes,
)

from bot.answer.fence import material as material  # also for bot.sources.tools
from bot.answer.fence import material_filter
from bot.answer.prompt_context import (
    PROMPT_VARIABLES,
    SAMPLE_CONTEXT,
    SAMPLE_PR_CONTEXT,
    SYSTEM_VARIABLES,
    PromptContext,
)
from bot.answer.prompt_folders import prompt_folders
from bot.errors import PromptError

TEMPLATES = (
    "completion.j2", "chat_system.j2", "chat_user.j2", "reply.j2", "failure.j2", "repo.j2"
)  # fmt: skip


@dataclass(frozen=True)
class PromptSet:
    """One set of templates, rendered for one mention."""

    name: str
    templates: dict[str, Template] = field(repr=False)

    def render(self, template: str, context: PromptContext) -> str:
        return self.templates[template].render(context.variables()).strip()

    def completion(self, context: PromptContext) -> str:
        return self.render("completion.j2", context)

    def chat_messages(self, context: PromptContext) -> list[dict[str, str]]:
        """System prompt, the thread as turns (the bot's own replies as the assistant's), then
        the mention. Consecutive turns of one role are merged: some chat templates insist on
        alternation."""
        speakers = context.speakers()
        turns = [("system", self.render("chat_system.j2", context))]
        for comment in context.thread:
            text = material(comment.text, lines=True, turns=speakers)
            if comment.by_bot:
                turns.append(("assistant", text))
            else:
                turns.append(("user", f"{material(comment.author)}: {text}"))
        turns.append(("user", self.render("chat_user.j2", context)))
        messages: list[dict[str, str]] = []
        for role, content in turns:
            if messages and messages[-1]["role"] == role and role != "system":
                messages[-1]["content"] += "\n\n" + content
            else:
                messages.append({"role": role, "content": content})
        return messages

    def reply(self, context: PromptContext, answer: str) -> str:
        return self.render("reply.j2", replace(context, answer=answer))

    def failure(self, context: PromptContext) -> str:
        return self.render("failure.j2", context)


class Prompts:
    """Every prompt set, checked once; `for_repo` picks the one a repo speaks with."""

    def __init__(self, directory: Path, routes: tuple[tuple[str, str], ...] = ()) -> None:
        self._routes = routes
        self._sets = {
            name: self._load_set(folder, name, directory)
            for name, folder in prompt_folders(directory, routes).items()
        }

    def for_repo(self, repo_name: str) -> PromptSet:
        for glob, name in self._routes:
            if fnmatchcase(repo_name.lower(), glob.lower()):
                return self._sets[name]
        return self._sets["default"]

    @staticmethod
    def _load_set(directory: Path, name: str, default: Path) -> PromptSet:
        loaders = [FileSystemLoader(directory)]
        if directory != default:
            loaders.append(FileSystemLoader(default))
        checked = _CheckedLoader(ChoiceLoader(loaders))
        env = Environment(
            loader=checked,
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text for a model, not HTML
        )
        env.filters["material"] = material_filter
        # All compiled first, then each tried on the samples: an include finds its template
        # compiled already, instead of compiling it again on the first render.
        files = {t: _compiled(env, t, directory, checked.compiled) for t in TEMPLATES}
        for template, where in files.items():
            with _named(where):
                for sample in (SAMPLE_CONTEXT, SAMPLE_PR_CONTEXT):
                    checked.compiled[template].render(sample.variables())
        return PromptSet(name, dict(checked.compiled))


class _CheckedLoader(BaseLoader):
    """A prompt set's loader: a template compiled (and checked) already is handed out as it is,
    to `{% include %}` as to anyone."""

    def __init__(self, files: BaseLoader) -> None:
        self.files = files
        self.compiled: dict[str, Template] = {}

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Any]:
        return self.files.get_source(environment, template)

    def load(
        self,
        environment: Environment,
        name: str,
        globals: MutableMapping[str, Any] | None = None,
    ) -> Template:
        return self.compiled.get(name) or super().load(environment, name, globals)


@contextmanager
def _named(where: Path) -> Iterator[None]:
    """A template's mistake as one PromptError naming its file (and line)."""
    try:
        yield
    except PromptError:
        raise
    except TemplateNotFound:
        raise PromptError(f"{where} does not exist: check PROMPTS_DIR") from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        at = f" line {line}" if line else ""
        raise PromptError(f"{where}{at}: {exc.message or type(exc).__name__}") from None
    except OSError as exc:
        raise PromptError(f"{where} cannot be read: {exc.strerror}") from None


def _compiled(env: Environment, name: str, directory: Path, into: dict[str, Template]) -> Path:
    """Compile and check one template of the set into `into`; the file it came from."""
    with _named(directory / name):
        source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    where = Path(filename or directory / name)
    with _named(where):
        parsed = env.parse(source, name, filename)
        unknown = meta.find_undeclared_variables(parsed) - PROMPT_VARIABLES
        if unknown:
            raise PromptError(
                f"{where} uses {', '.join(sorted(unknown))}, which is not a prompt variable"
                f" (known: {', '.join(sorted(PROMPT_VARIABLES))})"
            )
        others = _used(env, parsed, {name}) - SYSTEM_VARIABLES if name == "chat_system.j2" else ()
        if others:
            raise PromptError(
                f"{where} uses {', '.join(sorted(others))}, which other people wrote: the system"
                " message holds only the bot's and the operator's words; use them in"
                " chat_user.j2, fenced with `material`"
            )
        # Compiled from the tree already parsed: parsing again would double a part of the start.
        code = env.compile(parsed, name, filename)
        into[name] = env.template_class.from_code(env, code, env.make_globals(None))
    return where


def _used(env: Environment, parsed: nodes.Template, seen: set[str]) -> set[str]:
    """The variables a template uses, with those of the templates it includes."""
    used = set(meta.find_undeclared_variables(parsed))
    for included in meta.find_referenced_templates(parsed):
        if included is None:
            used.add("(a template chosen at render time)")
        elif included not in seen:
            seen.add(included)
            source, _, _ = env.loader.get_source(env, included)  # type: ignore[union-attr]
            used |= _used(env, env.parse(source), seen)
    return used


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
