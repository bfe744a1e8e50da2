"""The documentation agrees with the code: every setting, in the order the code defines it and
with its default; every file of the package; every link; the two commands a newcomer runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

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


def _shown(default: object) -> str:
    """A default as the settings table writes it."""
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, Path):
        return f"./{default}"
    if isinstance(default, tuple):
        return " ".join(default)
    return str(default)


def test_the_settings_reference_lists_every_setting_in_order_with_its_default() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|", text, re.MULTILINE)

    assert [name for name, _ in rows] == IN_CODE
    for (name, written), spec in zip(rows, Settings.model_fields.values(), strict=True):
        assert written.strip(), f"docs/settings.md: {name} has no default written"
        if spec.default not in (None, ()):  # derived defaults are said in words
            assert f"`{_shown(spec.default)}`" in written, f"docs/settings.md: {name}"


def test_the_layout_names_every_file_of_the_package_and_nothing_else() -> None:
    text = (ROOT / "docs" / "layout.md").read_text()
    [tree] = re.findall(r"^```\n(bot/.+?)^```", text, re.MULTILINE | re.DOTALL)
    listed, package = set(), ""
    for line in tree.splitlines():
        if folder := re.match(r"(bot/(?:\S+/)?)\s", line + " "):
            package = folder[1]
        elif entry := re.match(r"  (\S+)\s", line + " "):
            listed.add(package + entry[1])
    code = ROOT / "bot"
    present = {
        path.relative_to(ROOT).as_posix()
        for path in code.rglob("*")
        if path.is_file()
        and path.name != "__init__.py"
        and "__pycache__" not in path.parts
        and not path.name.endswith(".pyc")
    }

    assert sorted(listed - present) == [], "docs/layout.md names files that are gone"
    assert sorted(present - listed) == [], "docs/layout.md does not name these files"


def test_every_relative_link_in_the_readme_and_docs_leads_to_a_file() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} links to {target}"


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
