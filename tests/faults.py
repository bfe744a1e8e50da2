"""A TCP proxy on 127.0.0.1 that misbehaves on purpose, in front of a fake upstream.

Each new connection takes the next step of `plan`: "drop" closes it as soon as the request
starts arriving, "stall" reads the request and never answers, "pass" forwards both ways.
When the plan runs out, connections pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit


class FaultyProxy:
    def __init__(self, target_url: str, plan: list[str]) -> None:
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self.plan = list(plan)
        self.seen: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stalled: list[asyncio.StreamWriter] = []
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        step = self.plan.pop(0) if self.plan else "pass"
        self.seen.append(step)
        if step == "drop":
            await reader.read(1)
            writer.transport.abort()
            return
        if step == "stall":
            self._stalled.append(writer)
            await reader.read(65536)
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                with contextlib.suppress(ConnectionError):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        for writer in self._stalled:
            writer.transport.abort()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        try:
            yield f"http://127.0.0.1:{self.port}"
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(timeout=10)
