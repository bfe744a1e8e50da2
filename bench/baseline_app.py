"""The limit: the least a webhook receiver can do on the bot's stack: read the body, answer 202."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def receive(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"status": "queued"}, status_code=202)


app = Starlette(routes=[Route("/webhook", receive, methods=["POST"])])
