"""`preview --discussion URL`: the discussion read from the Hub as the running bot reads it, and
the comment to answer found in it (or in the bot's store). Nothing is posted, and no store is
created.
"""

from __future__ import annotations

from dataclasses import replace

from bot.answer.gather import Gathered
from bot.answer.thread import parse_events
from bot.config import Settings
from bot.decide import Decider
from bot.errors import BotError, UpstreamError
from bot.events import DiscussionRef, Identity, Mention
from bot.hub.client import HubClient
from bot.services.clients import viewer_http_client
from bot.services.options import store_options
from bot.services.parts import gatherer
from bot.store import StoreUnavailable, open_store


async def read_discussion(
    settings: Settings, hub: HubClient, bot: Identity, where: DiscussionRef, comment: str | None
) -> tuple[Mention, Gathered]:
    """The mention to answer in the discussion `where` (`comment`, else the latest comment
    that mentions the bot, else the latest mention the store recorded there) and what the
    running bot would read for it."""
    try:
        details = await hub.discussion(where)
    except UpstreamError as exc:
        raise BotError(f"cannot read that discussion ({exc.summary()})") from None
    comments = parse_events(details, bot.id)
    info = details if isinstance(details, dict) else {}
    base = Mention(
        comment_id="0" * 24,
        author_id="preview",
        text=comment or "",
        where=where,
        title=str(info.get("title", "")),
        is_pull_request=bool(info.get("isPullRequest")),
        repo_private=False,
        discussion_status=str(info.get("status", "open")),
    )
    if comment is None:
        decider = Decider(bot)
        mentioning = [c for c in comments if not c.by_bot and decider.mentions_bot(c.text)]
        if mentioning:
            base = replace(base, comment_id=mentioning[-1].id, text=mentioning[-1].text)
        else:
            recorded = await _recorded_mention(settings, where)
            if recorded is None:
                raise BotError(
                    f"no comment in that discussion mentions @{bot.handle} ({len(comments)}"
                    f" read), and the bot's store has none from it: give --comment"
                    f' "@{bot.handle} ..." to preview an answer'
                )
            base = replace(base, comment_id=recorded.comment_id, text=recorded.text)
    try:
        async with viewer_http_client(settings) as viewer_http:
            read = await gatherer(settings, hub, viewer_http).gather(base, bot)
    except UpstreamError as exc:
        raise BotError(f"cannot read that discussion ({exc.summary()})") from None
    return base, read


async def _recorded_mention(settings: Settings, where: DiscussionRef) -> Mention | None:
    """The latest mention the bot's store holds for the discussion; None when there is none or
    no store (a preview never creates one)."""
    options = store_options(settings)
    if options.database_url is None and not options.sqlite_path.exists():
        return None
    try:
        store = await open_store(options)
    except StoreUnavailable:
        return None
    try:
        return await store.latest_mention(where.key)
    except StoreUnavailable:
        return None
    finally:
        await store.close()
