"""The bot's errors, all in one tree.

    BotError
    ├── ConfigError          (bot.config) a setting is missing or malformed
    ├── PromptError          a template in PROMPTS_DIR cannot be used
    ├── NotServed            (bot.inference.routing) no provider serves the model: say so at startup
    ├── StoreUnavailable     the database cannot be used right now (locked, down, disk full)
    └── UpstreamError        the Hub or the model answered badly or not at all
        ├── TransientError   worth retrying: timeout, connection error, 429, 424, 5xx
        ├── TooLarge         the answer was larger than MAX_UPSTREAM_BYTES
        └── ModelNotServed   the model's endpoint says it does not serve the model

Messages say what happened and what to do; none ever contains a token or a secret.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class PromptError(BotError):
    """A prompt template is missing, does not parse, or uses an unknown variable."""


class StoreUnavailable(BotError):
    """A store call failed or timed out; the message says which database and why (never a
    password). Whoever called decides: a delivery is refused with 503, a loop tries later."""


class UpstreamError(BotError):
    """A call to the Hub or the model failed for good.

    `status` is the HTTP status (None when no answer came), `detail` the upstream's own
    message, `hint` what an operator can do about it.
    """

    def __init__(self, service: str, status: int | None, detail: str, hint: str = "") -> None:
        self.service = service
        self.status = status
        self.detail = detail
        self.hint = hint
        super().__init__(self.summary())

    def summary(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        text = f"{self.service}: {status}: {self.detail}"
        return f"{text} ({self.hint})" if self.hint else text


class TransientError(UpstreamError):
    """A failure that may pass; `retry_after` is the upstream's own estimate in seconds."""

    def __init__(
        self,
        service: str,
        status: int | None,
        detail: str,
        hint: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(service, status, detail, hint)


class ModelNotServed(UpstreamError):
    """The endpoint answered that it does not serve the model (404, 410, "not supported"):
    not worth retrying there, but worth asking the Hub again which provider does."""


class TooLarge(UpstreamError):
    """The answer was larger than the cap on what is read (MAX_UPSTREAM_BYTES)."""
