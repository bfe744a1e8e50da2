"""The Dockerfile, replayed without Docker: no engine runs here and base images cannot be pulled,
so its steps are played out on this machine, as the image would, in a folder that stands for
the image's root.

- COPY takes files from a clean copy of what git tracks (the build context), so a file the
  image forgets to copy is missing here too;
- ENV and WORKDIR are followed, `/home/user/...` standing for the image's folder;
- RUN steps after USER run as an unprivileged user (uid 1000) with a fresh virtualenv made by
  the Dockerfile's own `python -m venv`; the RUN before USER (useradd) is the base image's
  business, not replayed;
- pip installs offline, from the wheels `.ci/run` downloads for requirements.lock
  (`python -m pip download -r requirements.lock setuptools -d .wheels`), so the image's lock is
  what is installed;
- CMD runs with PORT set against the fake Hub and model, until /health answers.

The base image's Python is stood for by Debian's /usr/bin/python3.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.botprocess import ROOT, WEBHOOK_SECRET, Fakes, eventually
from tests.fakes import TOKEN, free_port

WHEELS = ROOT / ".wheels"
BASE_PYTHON = Path("/usr/bin/python3")
IMAGE_HOME = "/home/user"


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comments left out."""
    found, pending = [], ""
    for line in dockerfile.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            found.append((word.upper(), rest.strip()))
            pending = ""
    return found


class Image:
    """The image's root as a folder; paths in the Dockerfile are mapped into it."""

    def __init__(self, root: Path, context: Path, wheels: Path) -> None:
        self.root = root
        self.context = context
        shims = root / "base-image-bin"  # the base image's `python`
        shims.mkdir(parents=True)
        (shims / "python").symlink_to(BASE_PYTHON)
        self.env = {
            "PATH": f"{shims}:/usr/bin:/bin",
            "PIP_CONFIG_FILE": os.devnull,  # this machine's pip settings are not the image's
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheels),
        }
        self.workdir = root
        self.user: str | None = None

    def path(self, text: str) -> str:
        return text.replace(IMAGE_HOME, str(self.root / IMAGE_HOME.lstrip("/")))

    def follow(self, instruction: str, args: str) -> None:
        if instruction == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                self.env[name] = self.path(value.replace("$PATH", self.env["PATH"]))
        elif instruction == "WORKDIR":
            self.workdir = Path(self.path(args))
            self.workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "USER":
            self.user = args
        elif instruction == "COPY":
            *sources, target = [w for w in shlex.split(args) if not w.startswith("--")]
            self.copy(sources, target)
        elif instruction == "RUN" and self.user is not None:
            self.run(args)

    def copy(self, sources: list[str], target: str) -> None:
        into = self.workdir / target if not target.startswith("/") else Path(self.path(target))
        for source in sources:
            found = self.context / source
            assert found.exists(), f"COPY {source}: not in the build context"
            if found.is_dir():
                shutil.copytree(found, into, dirs_exist_ok=True)
            else:
                into.mkdir(parents=True, exist_ok=True) if target.endswith("/") else None
                shutil.copy(found, into / source if into.is_dir() else into)

    def run(self, command: str) -> None:
        own(self.root.parent)
        done = subprocess.run(
            ["sh", "-c", self.path(command)], cwd=self.workdir, env=self.env, **as_user(),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"RUN {command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def as_user() -> dict[str, int]:
    """Run as uid 1000 when the tests run as root; otherwise as whoever runs them."""
    return {"user": 1000, "group": 1000} if os.geteuid() == 0 else {}


def own(root: Path) -> None:
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.lchown(path, 1000, 1000)


@pytest.fixture
def image() -> Iterator[Image]:
    if not WHEELS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(".wheels is missing: .ci/run downloads it")
        pytest.skip("run: python -m pip download -r requirements.lock setuptools -d .wheels")
    if not BASE_PYTHON.exists():
        pytest.skip("Debian's python3 stands for the base image's Python; it is missing")
    root = Path(tempfile.mkdtemp(prefix="bot-image-"))  # not under pytest's root-only folder
    os.chmod(root, 0o755)  # noqa: S103 - uid 1000 must reach the folder inside
    context = root / "context"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, tracked.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, context / name)
    shutil.copytree(WHEELS, root / "wheels")
    try:
        yield Image(root / "image", context, root / "wheels")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_image_built_from_the_dockerfile_serves_health(image: Image, fakes: Fakes) -> None:
    steps = instructions((ROOT / "Dockerfile").read_text())
    for instruction, args in steps:
        if instruction != "CMD":
            image.follow(instruction, args)
    [command] = [json.loads(args) for instruction, args in steps if instruction == "CMD"]

    port = free_port()
    env = {
        **image.env,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "HF_TOKEN": TOKEN,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HF_ENDPOINT": fakes.hub_url,
        "INFERENCE_URL": f"{fakes.model_url}/models/bigscience/bloom",
    }
    own(image.root.parent)
    log = image.root / "cmd.log"
    with log.open("w") as out:
        served = subprocess.Popen(
            command, cwd=image.workdir, env=env, stdout=out, stderr=out, **as_user()
        )
    try:

        def healthy() -> bool:
            assert served.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        eventually(healthy, timeout=60, what="the image's /health")
    finally:
        served.kill()
        served.wait()
    banner = log.read_text()
    assert "Listening for: @hub-bot" in banner
    assert f"State: SQLite at {image.workdir}/data/bot.sqlite3" in banner
