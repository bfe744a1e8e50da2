"""`Models`: the model in use, built from the route `bot.inference.routing` found, on the
backend that speaks its API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from bot.inference.chat import ChatModel
from bot.inference.completions import CompletionsModel
from bot.inference.endpoint import (
    MODEL_LIMITS,
    Endpoint,
    GenerationParameters,
    Model,
    ModelRequest,
)
from bot.inference.routing import Route
from bot.inference.text_generation import TextGenerationModel
from bot.upstream import CallLimits, Observer, RetryPolicy, ignore_call

__all__ = ["GenerationParameters", "Model", "ModelRequest", "Models", "model_for"]

_BACKENDS: dict[str, type[Endpoint]] = {
    "text-generation": TextGenerationModel,
    "completions": CompletionsModel,
    "chat": ChatModel,
}


def model_for(
    route: Route,
    http: httpx.AsyncClient,
    parameters: GenerationParameters,
    retry: RetryPolicy,
    observe: Observer = ignore_call,
    limits: CallLimits = MODEL_LIMITS,
    bill_to: str | None = None,
) -> Model:
    return _BACKENDS[route.api](http, route, parameters, retry, observe, limits, bill_to)


class Models:
    """The model on the current route. The route is found at startup; when the Hub could not
    be asked then, it is asked before the first reply instead (a failure there is transient,
    so the job is retried). A model that turns out not to be served makes the route be asked
    for again, since providers come and go."""

    def __init__(
        self,
        build: Callable[[Route], Model],
        resolve: Callable[[], Awaitable[Route]],
        route: Route | None,
    ) -> None:
        self._build = build
        self._resolve = resolve
        self._model = build(route) if route else None

    @property
    def route(self) -> Route | None:
        return self._model.route if self._model else None

    @property
    def label(self) -> str:
        return self._model.label if self._model else "(model not resolved yet)"

    async def current(self) -> Model:
        if self._model is None:
            self._model = self._build(await self._resolve())
        return self._model

    def forget(self) -> None:
        self._model = None
