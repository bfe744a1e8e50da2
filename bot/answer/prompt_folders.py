"""Where the prompt sets live: PROMPTS_DIR, and a subfolder for each set PROMPT_SETS names,
each checked to be a folder. Apart from the templates (and jinja2) so that `python -m bot`
says a wrong folder before it serves; the templates themselves are checked right after."""

from __future__ import annotations

from pathlib import Path

from bot.errors import PromptError


def prompt_folders(directory: Path, routes: tuple[tuple[str, str], ...] = ()) -> dict[str, Path]:
    """Each prompt set's folder by name ("default": PROMPTS_DIR itself); PromptError for one
    that is not a folder."""
    if not directory.is_dir():
        raise PromptError(
            f"PROMPTS_DIR {directory.resolve()} is not a folder: set PROMPTS_DIR to the"
            " folder of prompt templates (the repository's prompts/)"
        )
    folders = {"default": directory}
    for _, name in routes:
        folder = directory / name
        if not folder.is_dir():
            raise PromptError(
                f"PROMPT_SETS names {name!r}, but {folder.resolve()} is not a folder: make it,"
                " or change PROMPT_SETS"
            )
        folders[name] = folder
    return folders
