"""The automations' rules and the matcher the receiver asks, read only when there is an
AUTOMATIONS_FILE: most deployments have none, and these modules (with PyYAML) are a tenth of
the start and a MiB of memory. The handler that runs automation jobs is built with the replies
(automation_flow.py).

Imported by bot/services/receiving.py inside `open_receiving`, and by the commands that read
the file (preview --automation); nothing imports it at the top of a module.
"""

from __future__ import annotations

from bot.automations.matching import Matcher
from bot.automations.rules import Rules, load_rules
from bot.config import Settings
from bot.services.options import guard_rules


def automation_rules(settings: Settings) -> Rules:
    """The rules of AUTOMATIONS_FILE (none without one); AutomationsError when unusable."""
    return load_rules(settings.automations_path)


def matcher(settings: Settings, rules: Rules) -> Matcher:
    return Matcher(rules, guard_rules(settings))
