"""What every part of the fake Hub shares: the bot's account, the token, authors as the Hub
writes them, and the base that checks the token and hands out scripted answers."""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

from starlette.requests import Request

from tests.fakes.recorder import Recorder, Scripted

BOT_ID = "64b2f00d0000000000000b07"
BOT_NAME = "hub-bot"
TOKEN = "hf_test_token_0123456789abcdef"
UNAUTHORISED = {"error": "Invalid credentials in Authorization header"}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def user_id(name: str) -> str:
    """A stable 24-hex-digit id for a user name, as the Hub gives every account one."""
    return BOT_ID if name == BOT_NAME else hashlib.sha256(name.encode()).hexdigest()[:24]


def author(name: str) -> dict[str, Any]:
    """An event's author as the Hub writes it."""
    return {
        "_id": user_id(name),
        "avatarUrl": "/avatars/0000.svg",
        "fullname": name.title(),
        "name": name,
        "type": "user",
        "isPro": False,
        "isHf": False,
        "isHfAdmin": False,
        "isMod": False,
    }


class HubBase(Recorder):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.token_role = "write"
        # A fine-grained token's `fineGrained` object ({global, scoped}), as whoami-v2 shows it.
        self.fine_grained: dict[str, Any] | None = None
        self.ids = (f"{n:024x}" for n in itertools.count(0xC0FFEE000))
        self.violations: list[str] = []  # of the Hub's OpenAPI description, by either side

    def authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def scripted(self, request: Request, route: str) -> Scripted | None:
        """The next scripted answer for `route`, marked so that it is not checked."""
        found = self.next_scripted(route)
        if found:
            request.scope["scripted"] = True
        return found
