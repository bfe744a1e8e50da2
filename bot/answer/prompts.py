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

from dataclasses import dataclass, field, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
)

from bot.answer.changes import FileChange, PullRequest
from bot.answer.context import RepoFacts
from bot.answer.fence import material as material  # also for bot.sources.tools
from bot.answer.fence import material_filter, speakers
from bot.answer.thread import ThreadComment
from bot.errors import PromptError
from bot.events import DiscussionRef, Mention
from bot.sources.found import Found, Toolbox

TEMPLATES = (
    "completion.j2", "chat_system.j2", "chat_user.j2", "reply.j2", "failure.j2", "repo.j2"
)  # fmt: skip


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
    author: str = "User"
    thread: tuple[ThreadComment, ...] = ()
    model: str = ""
    answer: str = ""
    # What the Hub says of the repo (`repo.license`, ...): for_mention fills it in.
    repo: RepoFacts = field(default_factory=lambda: RepoFacts("", ""))
    card: str = ""  # the repo's card, without its front matter, within CARD_BUDGET_CHARS
    files: tuple[str, ...] = ()  # the repo's files, at most FILES_LISTED of them
    diff: str = ""  # a pull request's diff, within DIFF_BUDGET_CHARS
    pull_request: PullRequest | None = None  # its base, conflicts and files changed
    sheet: tuple[str, ...] = ()  # the facts sheet (context length, parameters, formats, ...)
    lookups: tuple[Found, ...] = ()  # what the question asked to be read (bot.sources)
    sources: tuple[Found, ...] = ()  # what the model was given, cited under the reply
    tools: Toolbox | None = None  # the lookups offered to a chat model as tools (TOOLS=auto)
    # A command's task (prompts/commands/<name>.j2, rendered: the operator's words only), and
    # what the repo's .hub-bot.yaml asks (its owner's words: fenced wherever they go).
    task: str = ""
    instructions: str = ""
    language: str = ""

    @classmethod
    def for_mention(cls, mention: Mention, bot_name: str, **more: Any) -> PromptContext:
        more.setdefault("repo", RepoFacts(mention.where.repo_name, mention.where.repo_type))
        return cls(
            comment=mention.text,
            title=mention.title,
            repo_name=mention.where.repo_name,
            repo_type=mention.where.repo_type,
            discussion_num=mention.where.num,
            is_pull_request=mention.is_pull_request,
            bot_name=bot_name,
            **more,
        )

    def speakers(self) -> tuple[str, ...]:
        """Whose turns the completion transcript has: a fenced line cannot start one."""
        return speakers(self.variables())

    def variables(self) -> dict[str, Any]:
        """As templates see them: repo, thread and pull_request stay objects."""
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}


PROMPT_VARIABLES = frozenset(spec.name for spec in fields(PromptContext))
# What chat_system.j2 may use: the bot's and the operator's words, and what the Hub numbers.
SYSTEM_VARIABLES = frozenset(
    {"bot_name", "repo_type", "discussion_num", "is_pull_request", "model", "tools", "task"}
)
_SAMPLE_MENTION = Mention(
    comment_id="0" * 24,
    author_id="1" * 24,
    text="@bot What does this model do?",
    where=DiscussionRef("model", "org/name", 1),
    title="A question",
    is_pull_request=False,
    repo_private=False,
)
_SAMPLE_FOUND = Found(
    "config",
    "config.json",
    f"https://huggingface.co/org/name/blob/{'a' * 40}/config.json",
    "config.json: model type: vit",
)
SAMPLE_CONTEXT = PromptContext.for_mention(
    _SAMPLE_MENTION,
    bot_name="bot",
    author="someone",
    thread=(ThreadComment("2" * 24, "someone", "Hello", False, None, None, False),),
    model="org/model",
    answer="It classifies images.",
    repo=RepoFacts(
        "org/name",
        "model",
        sha="a" * 40,
        license="apache-2.0",
        known=True,
        pipeline_tag="image-classification",
        library_name="transformers",
        base_models=("org/base",),
        datasets=("org/data",),
        languages=("en",),
        tags=("vision",),
        gated="no",
        downloads=10,
        likes=2,
        parameters=86_000_000,
        files=("README.md", "config.json", "model.safetensors"),
    ),
    card="# Name\n\nClassifies images.",
    files=("README.md", "config.json", "model.safetensors"),
    sheet=("Context length: 512 tokens (config.json max_position_embeddings)",),
    lookups=(_SAMPLE_FOUND,),
    sources=(_SAMPLE_FOUND,),
)
# Templates are checked on a pull request too, so the branches for one render at startup.
SAMPLE_PR_CONTEXT = replace(
    SAMPLE_CONTEXT,
    is_pull_request=True,
    diff='diff --git a/config.json b/config.json\n-  "size": 1\n+  "size": 2',
    pull_request=PullRequest(
        "refs/heads/main",
        ("config.json",),
        (FileChange("config.json", 1, 1, "text", "all").describe(),),
        "",
    ),
)


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
        self._sets = {"default": self._load_set(directory, "default", directory)}
        for _, name in routes:
            if name not in self._sets:
                self._sets[name] = self._load_set(directory / name, name, directory)

    def for_repo(self, repo_name: str) -> PromptSet:
        for glob, name in self._routes:
            if fnmatchcase(repo_name.lower(), glob.lower()):
                return self._sets[name]
        return self._sets["default"]

    @staticmethod
    def _load_set(directory: Path, name: str, default: Path) -> PromptSet:
        if not directory.is_dir():
            if directory == default:
                raise PromptError(
                    f"PROMPTS_DIR {directory.resolve()} is not a folder: set PROMPTS_DIR to the"
                    " folder of prompt templates (the repository's prompts/)"
                )
            raise PromptError(
                f"PROMPT_SETS names {name!r}, but {directory.resolve()} is not a folder: make it,"
                " or change PROMPT_SETS"
            )
        loaders = [FileSystemLoader(directory)]
        if directory != default:
            loaders.append(FileSystemLoader(default))
        env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text for a model, not HTML
        )
        env.filters["material"] = material_filter
        return PromptSet(name, {t: _checked(env, t, directory) for t in TEMPLATES})


def _checked(env: Environment, name: str, directory: Path) -> Template:
    where = directory / name
    try:
        source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        where = Path(filename or where)
        parsed = env.parse(source, name, filename)
        unknown = meta.find_undeclared_variables(parsed) - PROMPT_VARIABLES
        if unknown:
            raise PromptError(
                f"{where} uses {', '.join(sorted(unknown))}, which is not a prompt variable"
                f" (known: {', '.join(sorted(PROMPT_VARIABLES))})"
            )
        others = _used(env, name, set()) - SYSTEM_VARIABLES if name == "chat_system.j2" else ()
        if others:
            raise PromptError(
                f"{where} uses {', '.join(sorted(others))}, which other people wrote: the system"
                " message holds only the bot's and the operator's words; use them in"
                " chat_user.j2, fenced with `material`"
            )
        # Compiled from the tree already parsed: parsing again would double a part of the start.
        code = env.compile(parsed, name, filename)
        template = env.template_class.from_code(env, code, env.make_globals(None))
        for sample in (SAMPLE_CONTEXT, SAMPLE_PR_CONTEXT):
            template.render(sample.variables())
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
    return template


def _used(env: Environment, name: str, seen: set[str]) -> set[str]:
    """The variables a template uses, with those of the templates it includes."""
    seen.add(name)
    source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    parsed = env.parse(source)
    used = set(meta.find_undeclared_variables(parsed))
    for included in meta.find_referenced_templates(parsed):
        if included is None:
            used.add("(a template chosen at render time)")
        elif included not in seen:
            used |= _used(env, included, seen)
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
