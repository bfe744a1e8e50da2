"""The bot's errors, all in one tree.

    BotError
    ├── ConfigError          (bot.config) a setting is missing or malformed
    ├── PromptError          a template in PROMPTS_DIR cannot be used
    ├── NotServed            (bot.inference.routing) no provider serves the model: say so at startup
    ├── StoreUnavailable     the database cannot be used right now (locked, down, disk full)
    └── UpstreamError        the Hub or the model answered badly or not at all
        ├── TransientError   worth retrying: timeout, connection error, 429, 424, 5xx
        ├── TooLarge         the answer was larger than MAX_UPSTREAM_BYTES
        ├── NotFound         the Hub says the repo or discussion is not there (deleted,
        │                    gated or private to the token): nothing to retry
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
    message, `hint` what an operator can do about it. `code` is the upstream's error code
    (the Hub's `X-Error-Code`: RepoNotFound, GatedRepo, ...) and `request_id` its id for the
    request (`X-Request-Id`), which the upstream's support asks for: both are in `summary`,
    so every log line and stored reason about the failure carries them.
    """

    def __init__(
        self,
        service: str,
        status: int | None,
        detail: str,
        hint: str = "",
        *,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.detail = detail
        self.hint = hint
        self.code = code
        self.request_id = request_id
        super().__init__(self.summary())

    def summary(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        if self.code:
            status = f"{status} {self.code}"
        text = f"{self.service}: {status}: {self.detail}"
        text = f"{text} ({self.hint})" if self.hint else text
        return f"{text} [request {self.request_id}]" if self.request_id else text


class TransientError(UpstreamError):
    """A failure that may pass; `retry_after` is the upstream's own estimate in seconds."""

    def __init__(
        self,
        service: str,
        status: int | None,
        detail: str,
        hint: str = "",
        retry_after: float | None = None,
        *,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(service, status, detail, hint, code=code, request_id=request_id)


class ModelNotServed(UpstreamError):
    """The endpoint answered that it does not serve the model (404, 410, "not supported"):
    not worth retrying there, but worth asking the Hub again which provider does."""


class NotFound(UpstreamError):
    """The Hub answered that the repo or discussion is not there for this token: a 404, or a
    401 on a repo's route that is not about the token (the Hub answers so for repos that are
    missing, gated or private). Not worth retrying: it was deleted, or it is not visible."""


class TooLarge(UpstreamError):
    """The answer was larger than the cap on what is read (MAX_UPSTREAM_BYTES)."""
