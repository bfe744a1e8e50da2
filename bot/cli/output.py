"""What the command line prints. Every line a person reads goes through a `Printer`: the
secrets an upstream may quote back (a bearer token in an error) are masked, as in the logs,
and control characters are escaped, so that a model's error or a webhook's name cannot drive
the operator's terminal (ANSI colours, OSC 52 writing to the clipboard). Line breaks stay."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from pydantic import SecretStr

from bot.config import Settings
from bot.redact import Redactor, escape_controls


class Printer:
    def __init__(self, secrets: Iterable[SecretStr] = ()) -> None:
        self._redact = Redactor(secrets)

    def say(self, text: str) -> None:
        """A line (or several) on standard output."""
        print(self.shown(text), flush=True)

    def error(self, text: str) -> None:
        """A line (or several) on standard error."""
        print(self.shown(text), file=sys.stderr, flush=True)

    def shown(self, text: str) -> str:
        return escape_controls(self._redact(text), keep_newlines=True)


def printer(settings: Settings) -> Printer:
    """The printer for a command run with these settings: it knows their secrets."""
    return Printer(settings.secrets)


def one_line(text: str) -> str:
    """Text someone else wrote (a reason, an id), kept to its line: its line breaks escaped."""
    return escape_controls(text)
