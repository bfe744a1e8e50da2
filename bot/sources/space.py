"""A Space's runtime: its stage, hardware, and the error of a failed build or run, from
`GET /api/spaces/{ns}/{name}/runtime`. Logs are not read: they need rights on the Space that
a bot's token rarely has."""

from __future__ import annotations

from bot.answer.context import as_dict
from bot.errors import UpstreamError
from bot.hub.client import HubClient
from bot.sources.files import why
from bot.sources.found import Found, Unread, Where

SPACE_CHARS = 1500


def runtime_lines(runtime: dict[str, object]) -> list[str]:
    lines = []
    if isinstance(stage := runtime.get("stage"), str):
        lines.append(f"Stage: {stage}")
    hardware = as_dict(runtime.get("hardware"))
    current, requested = hardware.get("current"), hardware.get("requested")
    if current or requested:
        lines.append(f"Hardware: {current or 'none'} (requested: {requested or 'none'})")
    if isinstance(error := runtime.get("errorMessage"), str) and error:
        lines.append(f"Error message: {error[:1200]}")
    return lines


async def read(hub: HubClient, where: Where) -> Found:
    try:
        body = await hub.read_json(f"{where.api}/runtime", "read Space runtime")
    except UpstreamError as exc:
        raise Unread("the Space's runtime", why(exc)) from None
    lines = runtime_lines(as_dict(body))
    if not lines:
        raise Unread("the Space's runtime", "an empty answer")
    return Found("space", "Space status", where.page, "\n".join(lines))
