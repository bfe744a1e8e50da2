"""`python -m tests.fakes`: the test suite's fake Hub and fake model, served on 127.0.0.1 for
trying the bot locally, with no account, token or GPU.

The fake Hub accepts one token, knows every repo (with a small card), and says BLOOM is served
by a text-generation provider on the fake router. `--write-env .env` writes the settings that
point the bot at both.
"""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

import uvicorn

from tests.fakes import TOKEN, FakeHub, FakeModel

SECRET = "local-webhook-secret"


def settings_for(hub_url: str, model_url: str) -> str:
    return (
        "# Written by python -m tests.fakes: the bot against a fake Hub and a fake model.\n"
        f"HF_TOKEN={TOKEN}\n"
        f"WEBHOOK_SECRET={SECRET}\n"
        f"HF_ENDPOINT={hub_url}\n"
        f"INFERENCE_ROUTER_URL={model_url}\n"
    )


def serve(app: object, port: int) -> threading.Thread:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--hub-port", type=int, default=int(os.environ.get("FAKE_HUB_PORT", 7861)))
    parser.add_argument(
        "--model-port", type=int, default=int(os.environ.get("FAKE_MODEL_PORT", 7862))
    )
    parser.add_argument("--write-env", metavar="PATH", help="write the bot's settings there")
    args = parser.parse_args()
    hub_url = f"http://127.0.0.1:{args.hub_port}"
    model_url = f"http://127.0.0.1:{args.model_port}"
    if args.write_env:
        target = Path(args.write_env)
        if target.exists():
            parser.exit(1, f"error: {target} exists: remove it, or give another --write-env\n")
        target.write_text(settings_for(hub_url, model_url))
    hub = FakeHub()
    hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    threads = [serve(hub.app, args.hub_port), serve(FakeModel().app, args.model_port)]
    print(f"fake Hub on {hub_url}, fake model router on {model_url}", flush=True)
    print(settings_for(hub_url, model_url), end="", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
