"""One module per kind of job; the worker runs each claimed job with its kind's handler.

Every handler keeps the same contract, whatever it does:
- The store is the memory, the Hub is the truth. Before it posts or starts anything, a
  handler looks on the Hub for what an earlier attempt already did (its marker in a comment the
  bot wrote; later, the labels of a Hub Job it started) and, when found, records the job done
  without acting again. So a lost store, a replay or a second replica can lose work, never
  double it.
- Every way out records an outcome with a reason an operator can act on (`Store.finish`,
  `Store.retry_later`). An exception that escapes is recorded by the worker as an internal
  error; a job whose outcome could not be recorded is tried again when its lease runs out.
- Guards and rate limits apply: the claim counts them, the handler rechecks what only the
  Hub can tell.
- One posted thing per job, edited rather than duplicated.

    mention.py       a comment that mentions the bot: gather -> compose -> post -> record
                     (outcomes.py: how its job ends, recorded and logged; the notice)
    conversation.py  what a mention or follow-up gets: the repo's settings, pause, a command
    command.py       help, pause, resume and the operators' template commands
    follow_up.py     whether a comment without a mention continues the bot's conversation
    automation.py    a rule set off by a repo event (bot.automations)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.store import Job
from bot.store.records import JobKind

Handler = Callable[[Job], Awaitable[None]]
Handlers = Mapping[JobKind, Handler]
