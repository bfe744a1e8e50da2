"""The only part of the bot that knows HTTP serving (Starlette, uvicorn).

app.py       routes, and the lifespan that runs the worker and the store's upkeep
receiver.py  POST /webhook: secret, size, parse, decide, enqueue, acknowledge
delivery.py  a delivery as HTTP: its headers in one pass, its body within the cap, its answer
batching.py  group commit: mentions arriving together share one transaction
status.py    GET / (the status page, templates/status.html) and GET /metrics
verdict.py   the status page's first line: is it answering, and what stands in the way
server.py    uvicorn (uvloop + httptools) with header and body deadlines
"""
