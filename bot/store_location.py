"""Where the bot keeps its jobs, and whether they outlive a restart of the process."""

from __future__ import annotations

from bot.config import Settings


def describe_state(settings: Settings) -> tuple[str, str | None]:
    """(where state lives, why it will be lost at a restart or None)."""
    where = f"SQLite at {settings.database_path.resolve()}"
    if settings.space_host:
        return where, "a Space's disk is wiped at every restart, rebuild and wake-up"
    return where, None
