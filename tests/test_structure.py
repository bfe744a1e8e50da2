"""The shape issue 17 set for the package, kept: settings read by the assemblies alone, no
import circles, no module past 300 lines. Read from the source (ast); the last two tests import
the package, each in a process of its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bot"
MAX_LINES = 300
# Who may read Settings: the settings themselves, the assembly, the command line, and the web
# app and server, which assemble the receiver, the worker and uvicorn from it.
SETTINGS_READERS = (
    "bot.config", "bot.services", "bot.cli", "bot.web.app", "bot.web.server", "bot.web.replies"
)  # fmt: skip


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(own: str, tree: ast.Module, known: dict[str, Path]) -> set[str]:
    """The bot's modules a module imports when it is imported: at its top level, outside
    `if TYPE_CHECKING:` (imports inside functions run later, when called)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in known and name != own}  # its own submodules


def reads_settings(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module in ("bot.config", "bot.config.settings")
        and any(alias.name == "Settings" for alias in node.names)
        for node in ast.walk(tree)
    )


def test_only_the_assemblies_read_the_settings() -> None:
    readers = [
        name
        for name, path in modules().items()
        if reads_settings(ast.parse(path.read_text()))
        and not any(name == r or name.startswith(f"{r}.") for r in SETTINGS_READERS)
    ]
    assert readers == [], "these take Settings; give them a small options object instead"


def test_no_module_imports_itself_in_a_circle() -> None:
    known = modules()
    edges = {
        name: imported(name, ast.parse(path.read_text()), known) for name, path in known.items()
    }
    circles = []
    for start in known:
        stack, seen = [(start, [start])], set()
        while stack:
            name, trail = stack.pop()
            for nxt in edges[name]:
                if nxt == start:
                    circles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert circles == []


def test_no_module_is_past_300_lines() -> None:
    long = {
        name: lines
        for name, path in modules().items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, "split them where they hold two things (docs/layout.md lists each file)"


REPLY_MACHINERY = (
    "jinja2", "bot.answer.prompts", "bot.answer.compose", "bot.handlers.", "bot.inference.models",
    "bot.sources", "bot.services.parts", "bot.services.assembly",
)  # fmt: skip


def loaded_by(script: str, *args: str) -> list[str]:
    """The modules `script` leaves loaded, run apart, so that nothing this test suite imported
    counts."""
    return subprocess.run(
        [sys.executable, "-c", f"{script}\nimport sys; print(*sys.modules)", *args],
        capture_output=True, text=True, check=True, cwd=PACKAGE.parent,
    ).stdout.split()  # fmt: skip


def reply_machinery(loaded: list[str]) -> list[str]:
    return [name for name in loaded if name.startswith(REPLY_MACHINERY)]


def test_serving_starts_without_the_reply_machinery() -> None:
    # `python -m bot` answers its first deliveries before it loads the prompts, the model's
    # backends, the lookups and the handlers (bot/web/replies.py): what it imports to start
    # must not pull them in.
    assert reply_machinery(loaded_by("import bot.cli.main")) == []


RULES = """
rules:
  - name: review-cards
    on: {repo_type: model, repos: ["acme/*"], event: push}
    do: card_review
"""


def test_the_receiving_half_with_automations_loads_no_reply_machinery(tmp_path: Path) -> None:
    # With rules, the receiver needs their matcher at once; the handler that runs them is
    # built with the replies.
    (tmp_path / "automations.yaml").write_text(RULES)
    script = (
        "import asyncio, sys\n"
        "from bot.config import load_settings\n"
        "from bot.services.receiving import open_receiving\n"
        "settings = load_settings({'AUTOMATIONS_FILE': sys.argv[1], 'DATA_DIR': sys.argv[2]},"
        " env_file=None, required=())\n"
        "async def main():\n"
        "    async with open_receiving(settings, None) as receiving:\n"
        "        assert receiving.matcher is not None\n"
        "asyncio.run(main())"
    )
    loaded = loaded_by(script, str(tmp_path / "automations.yaml"), str(tmp_path))
    assert "bot.automations.matching" in loaded
    assert reply_machinery(loaded) == []
