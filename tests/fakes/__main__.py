"""`python -m tests.fakes`: the test suite's fake Hub and fake model, served on 127.0.0.1 for
trying the bot locally, with no account, token or GPU.

The fake Hub accepts one token, knows every repo (with a small card), and says BLOOM is served
by a text-generation provider on the fake router. `--write-env .env` writes the settings that
point the bot at them. The fake dataset viewer is served too.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
from pathlib import Path

import uvicorn

from tests.fakes import TOKEN, FakeHub, FakeModel
from tests.fakes.viewer import FakeViewer

SECRET = "local-webhook-secret"


def settings_for(hub_url: str, model_url: str, viewer_url: str) -> str:
    return (
        "# Written by python -m tests.fakes: the bot against a fake Hub and a fake model.\n"
        f"HF_TOKEN={TOKEN}\n"
        f"WEBHOOK_SECRET={SECRET}\n"
        f"HF_ENDPOINT={hub_url}\n"
        f"INFERENCE_ROUTER_URL={model_url}\n"
        f"DATASET_VIEWER_URL={viewer_url}\n"
    )


def serve(app: object, port: int) -> threading.Thread:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return thread


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--hub-port", type=int, default=int(os.environ.get("FAKE_HUB_PORT", 7861)))
    parser.add_argument(
        "--model-port", type=int, default=int(os.environ.get("FAKE_MODEL_PORT", 7862))
    )
    parser.add_argument(
        "--viewer-port", type=int, default=int(os.environ.get("FAKE_VIEWER_PORT", 7863))
    )
    parser.add_argument("--write-env", metavar="PATH", help="write the bot's settings there")
    args = parser.parse_args()
    ports = (args.hub_port, args.model_port, args.viewer_port)
    if taken := [port for port in ports if not _free(port)]:
        flags = "--hub-port, --model-port or --viewer-port"
        parser.exit(1, f"error: port {taken[0]} is in use: stop what holds it, or give {flags}\n")
    hub_url, model_url, viewer_url = (f"http://127.0.0.1:{port}" for port in ports)
    written = settings_for(hub_url, model_url, viewer_url)
    if args.write_env:
        target = Path(args.write_env)
        if target.exists():
            parser.exit(1, f"error: {target} exists: remove it, or give another --write-env\n")
        target.write_text(written)
    hub = FakeHub()
    hub.serve_model("bigscience/bloom", "featherless-ai", "text-generation")
    apps = (hub.app, FakeModel().app, FakeViewer().app)
    threads = [serve(app, port) for app, port in zip(apps, ports, strict=True)]
    print(f"fake Hub on {hub_url}, model router on {model_url}, viewer on {viewer_url}", flush=True)
    print(written, end="", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
