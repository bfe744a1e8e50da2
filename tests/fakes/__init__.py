"""Fakes of the Hub and of the model servers, as ASGI apps shaped after ../shared/HUB_API.md.

The same fake serves unit tests (through `httpx.ASGITransport`) and end-to-end tests (on a real
socket on 127.0.0.1, via `serve_in_thread`), so there is one copy of each upstream to keep
faithful. Each records every request it receives and can be scripted to fail.
"""

from tests.fakes.hub import BOT_ID, BOT_NAME, TOKEN, FakeHub, author
from tests.fakes.model import FakeModel
from tests.fakes.recorder import Received, Scripted
from tests.fakes.serving import free_port, serve_in_thread

__all__ = [
    "BOT_ID",
    "BOT_NAME",
    "TOKEN",
    "FakeHub",
    "FakeModel",
    "Received",
    "Scripted",
    "author",
    "free_port",
    "serve_in_thread",
]
