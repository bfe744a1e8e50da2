"""The decision on a new comment: a mention to answer, or ignore it and say why.

A mention is the bot's handle after an `@`, as a whole word, in what people actually see: not
in a quote, in code, in an HTML comment (the Hub does not show those) or inside a link.

The decision needs the bot's identity (its handle to find a mention, its account id to never
answer itself). When the Hub has not told it yet, the bot does not refuse the delivery (a
non-2xx counts towards the Hub suspending the webhook): it records what it can decide now and
finishes the decision with `recheck` before the job runs.
"""

from __future__ import annotations

import re

from bot.events import REPO_TYPES, Identity, Ignore, Mention, Payload, mention_of

OWN_COMMENT = Ignore("comment was written by the bot itself", "own_comment")
NOT_MENTIONED = "the bot is not mentioned"
_SOMEONE = re.compile(r"(?<![\w@./-])@[A-Za-z0-9][\w.-]*")
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_QUOTE_LINE = re.compile(r"^\s*>.*$", re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_LINK_TARGET = re.compile(
    r"\]\([^)]*\)|<[a-z][a-z0-9+.-]*:[^>\s]*>|\b[a-z][a-z0-9+.-]*://\S+", re.I
)


def visible_prose(markdown: str) -> str:
    """The text a reader sees as prose: without quotes, code, HTML comments and link targets.
    Quoting an earlier mention, or showing one in code, is not asking the bot anything."""
    # Each pattern runs only when the character it needs is there: most comments have none.
    text = _HTML_COMMENT.sub(" ", markdown) if "<!--" in markdown else markdown
    if "`" in text or "~~~" in text:
        text = _INLINE_CODE.sub(" ", _FENCED.sub(" ", text))
    if ">" in text:
        text = _QUOTE_LINE.sub(" ", text)
    return _LINK_TARGET.sub(" ", text) if "](" in text or ":" in text else text


class Decider:
    """Decides whether a new comment is a mention the bot should answer. `bot` may be None (the
    Hub has not said who the bot is yet); `handle` is then BOT_USERNAME, if set."""

    def __init__(self, bot: Identity | None, handle: str | None = None) -> None:
        self.bot = bot
        self.handle = bot.handle if bot else handle
        # A whole handle: not part of an e-mail address, a longer name, a path or a dotted host.
        self._mention = (
            re.compile(rf"(?<![\w@./-])@{re.escape(self.handle)}(?![\w-]|\.\w)", re.IGNORECASE)
            if self.handle
            else None
        )
        # The handle with its `@`, anywhere: without it there is no mention, and most comments
        # are settled by this one search, before the slower reading of what is visible.
        self._handle_anywhere = (
            re.compile(re.escape(f"@{self.handle}"), re.IGNORECASE) if self.handle else None
        )
        # Says what the bot listens for: the first thing to check when it seems deaf.
        where = "outside quotes, code and links"
        self._unmentioned = Ignore(
            f"{NOT_MENTIONED} (it answers @{self.handle}, {where})", "no_mention"
        )

    def mentions_bot(self, markdown: str) -> bool:
        if self._mention is None or self._handle_anywhere is None:
            return False
        # visible_prose only puts spaces in place of what it hides, so it cannot make a
        # handle appear that was not in the text.
        if not self._handle_anywhere.search(markdown):
            return False
        return bool(self._mention.search(visible_prose(markdown)))

    def decide(self, payload: Payload, delivery: str = "") -> Mention | Ignore:
        """`delivery` (its id) is carried by the mention, for tracing its job to it."""
        repo, comment = payload.repo, payload.comment
        if comment.hidden:
            return Ignore("comment is hidden", "hidden")
        if self.bot and comment.author.id == self.bot.id:
            return OWN_COMMENT
        if repo.type not in REPO_TYPES:
            return Ignore(f"repo type {repo.type[:20]!r} is not supported", "repo_type")
        if self._mention is None:  # the handle is not known yet: decided when the job runs
            return mention_of(payload, comment.content or "", undecided=True, delivery=delivery)
        if not comment.content or not self.mentions_bot(comment.content):
            return self._unmentioned
        return mention_of(payload, comment.content, delivery=delivery)

    def follow_up(self, payload: Payload, delivery: str = "") -> Mention | Ignore:
        """A comment without a mention, as a possible follow-up: only what the payload tells is
        decided here (a new comment, not the bot's, mentioning nobody); whether it follows a
        reply to its author is for the handler to read on the Hub (bot.handlers.follow_up)."""
        comment = payload.comment
        if payload.event.scope != "discussion.comment":
            return Ignore("a new discussion's opening post follows no reply", "no_mention")
        if comment.hidden or not comment.content:
            return Ignore("comment is hidden or empty", "hidden")
        if self.bot is None or comment.author.id == self.bot.id:
            return OWN_COMMENT if self.bot else Ignore(NOT_MENTIONED, "no_mention")
        if _SOMEONE.search(visible_prose(comment.content)):
            return Ignore("the comment mentions someone else: not a follow-up", "mentions_other")
        return mention_of(payload, comment.content, delivery=delivery)

    def recheck(self, mention: Mention) -> Ignore | None:
        """What could not be decided when the mention arrived, decided now (the bot's identity
        is known): never answer itself, and answer only if it was mentioned."""
        if self.bot and mention.author_id == self.bot.id:
            return OWN_COMMENT
        if mention.undecided and not self.mentions_bot(mention.text):
            return self._unmentioned
        return None
