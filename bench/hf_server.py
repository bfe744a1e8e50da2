"""Baseline (c): huggingface_hub's WebhooksServer doing the bot's filter, run in its own venv.

Served on 127.0.0.1 without a share link. It answers like the bot (queued or ignored) but keeps
nothing: it only parses, checks the secret and filters, so it is an upper bound for (c).
"""

import os
import re

from huggingface_hub import WebhookPayload, WebhooksServer

MENTION = re.compile(r"(?<![\w@.-])@hub-bot(?![\w-])", re.IGNORECASE)
app = WebhooksServer(webhook_secret=os.environ["BENCH_SECRET"])


@app.add_webhook("/webhook")
async def webhook(payload: WebhookPayload) -> dict[str, str]:
    event, comment = payload.event, payload.comment
    if (
        event.action == "create"
        and event.scope in ("discussion", "discussion.comment")
        and comment is not None
        and not comment.hidden
        and MENTION.search(comment.content or "")
    ):
        return {"status": "queued"}
    return {"status": "ignored"}


app.launch(server_name="127.0.0.1", server_port=int(os.environ["BENCH_PORT"]), share=False)
