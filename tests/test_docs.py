"""Every setting the code reads is documented, with its name, in the order the code defines it."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
        "python -m pip install -r requirements.lock -e . && python -m bot",
        "python -m pip install -r requirements-test.lock -e . && python -m pytest",
    ]
    assert commands[1] in ci.splitlines()


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        ("requirements.lock", ("dependencies",)),
        ("requirements-test.lock", ("dependencies", "test")),
    ],
)
def test_the_locks_pin_every_dependency_pyproject_names_and_nothing_it_does_not(
    lock: str, groups: tuple[str, ...]
) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    wanted = [Requirement(line) for group in groups for line in listed[group]]
    text = (ROOT / lock).read_text()
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", text, re.MULTILINE))
    pinned = {canonicalize_name(name): version for name, version in pinned.items()}
    direct = {
        canonicalize_name(name)
        for name, via in re.findall(
            r"^([A-Za-z0-9_.-]+)==\S+\n((?:    #.*\n)+)", text, re.MULTILINE
        )
        if "hub-discussion-bot (pyproject.toml)" in via
    }

    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} lacks {name}: regenerate it (see the README)"
        assert requirement.specifier.contains(pinned[name]), f"{lock}: {name}=={pinned[name]}"
    assert direct == {canonicalize_name(r.name) for r in wanted}
