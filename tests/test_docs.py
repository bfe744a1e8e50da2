"""Every setting the code reads is documented, with its name, in the order the code defines it."""

from __future__ import annotations

import re

from bot.config import Settings
from tests.botprocess import ROOT

IN_CODE = [name.upper() for name in Settings.model_fields]


def test_env_example_lists_every_setting_in_order() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)

    assert listed == IN_CODE


def test_readme_table_lists_every_setting_in_order() -> None:
    text = (ROOT / "README.md").read_text()
    listed = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.MULTILINE)

    assert listed == IN_CODE


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.+?)\n```", readme)
    ci = (ROOT / ".ci" / "run").read_text()

    assert commands[:2] == [
        "python -m pip install -e . && python -m bot",
        "python -m pip install -e '.[test]' && python -m pytest",
    ]
    assert commands[1] in ci.splitlines()
