"""The README's "Try it locally", run as a newcomer would: from a clean copy of the repository,
command by command, up to a posted reply that `jobs show` prints. The virtualenv and install
steps are the only ones skipped (this test runs inside an installed one)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botprocess import ROOT, eventually
from tests.fakes import free_port

INSTALL = ("python3 -m venv", "python -m pip install")  # python3: stock Debian has no python


def try_it_locally() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Try it locally", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.+?)\n```", section, re.DOTALL)
    return block.splitlines()


@pytest.fixture
def clean_copy(tmp_path: Path) -> Path:
    """The files git tracks, and nothing else: no .env, no data, no virtualenv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    copy = tmp_path / "hub-discussion-bot"
    for name in filter(None, listed.split("\0")):
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            target.write_bytes((ROOT / name).read_bytes())
    return copy


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_the_readme_takes_a_newcomer_from_a_clean_copy_to_a_posted_reply(
    clean_copy: Path, background: list[subprocess.Popen[str]]
) -> None:
    commands = try_it_locally()
    assert [c for c in commands if c.startswith(INSTALL)] == commands[:2]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(clean_copy),
        "PORT": str(free_port()),  # instead of 7860 to 7863, which may be taken
        "FAKE_HUB_PORT": str(free_port()),
        "FAKE_MODEL_PORT": str(free_port()),
        "FAKE_VIEWER_PORT": str(free_port()),
    }
    outputs = []
    for line in commands[2:]:
        words = shlex.split(line.split(" #", 1)[0])
        in_background = words[-1] == "&"
        argv = [sys.executable if w == "python" else w for w in words if w != "&"]
        log = clean_copy / f"step{len(outputs)}.log"
        if in_background:
            with log.open("w") as out:
                background.append(
                    subprocess.Popen(
                        argv, cwd=clean_copy, env=env, stdout=out, stderr=out, text=True
                    )
                )
            outputs.append(log)
            if "tests.fakes" in line:  # the bot starts next: let the fakes be up first
                eventually(lambda log=log: "fake Hub on" in log.read_text(), what="the fakes")
            continue
        done = subprocess.run(argv, cwd=clean_copy, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, (
            line,
            done.stdout,
            done.stderr,
            [o.read_text() for o in outputs if isinstance(o, Path)],
        )
        outputs.append(done.stdout)

    sent, shown = outputs[-2], outputs[-1]
    assert sent.startswith("sending: @hub-bot what does this model do?\n202 ")
    assert "done: replied" in sent and "A model card describes what a model does." in sent
    assert "on the Hub: http" in shown and "/your-org/your-model/discussions/1#" in shown
    assert "posted:" in shown and "A model card describes what a model does." in shown
    banner = outputs[1].read_text()  # the bot's own output
    assert "Model: bigscience/bloom via provider featherless-ai" in banner
