"""What a prompt template is given: `PromptContext`, the names templates may use, and the
sample contexts every template is rendered with when the bot starts (a template that fails on
them is refused then, not at the first mention).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from bot.answer.changes import FileChange, PullRequest
from bot.answer.context import RepoFacts
from bot.answer.fence import speakers
from bot.answer.thread import ThreadComment
from bot.events import DiscussionRef, Mention
from bot.sources.found import Found, Toolbox


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
