"""Settings, read once from the environment and `.env`, validated at the edge.

settings.py  `Settings`: each field one setting (its name in capitals), with its type,
             range, default, and in words what a valid value looks like
loading.py   `load_settings`: the environment over `.env`, every problem at once
"""

from bot.config.loading import load_settings
from bot.config.settings import DEFAULT_MODEL, SETTING_NAMES, ConfigError, Secret, Settings

__all__ = ["DEFAULT_MODEL", "SETTING_NAMES", "ConfigError", "Secret", "Settings", "load_settings"]
