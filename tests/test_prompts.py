"""Templates in prompts/ render; broken ones are refused at load; the echo is stripped."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import PromptError
from bot.prompts import SAMPLE_CONTEXT, PromptContext, Prompts, strip_echo
from tests.conftest import ROOT


@pytest.mark.parametrize("template", sorted(p.name for p in (ROOT / "prompts").glob("*.j2")))
def test_every_shipped_template_renders_with_every_variable(template: str) -> None:
    context = PromptContext(
        comment="@hub-bot Is this model fine-tuned on medical text?",
        title="Training data",
        repo_name="acme/med-llm",
        repo_type="model",
        discussion_num=12,
        is_pull_request=True,
        bot_name="hub-bot",
    )

    rendered = Prompts(ROOT / "prompts", template).completion(context)

    assert "Is this model fine-tuned on medical text?" in rendered
    assert "acme/med-llm" in rendered
    assert "Pull request #12: Training data" in rendered
    assert rendered.rstrip().endswith("hub-bot:")


def test_unknown_variable_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("{{ comment }} {{ author_name }}")

    with pytest.raises(PromptError, match="author_name"):
        Prompts(tmp_path, "bad.j2")


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("line one\n{% if comment %}unclosed")

    with pytest.raises(PromptError, match=r"bad\.j2 line 2"):
        Prompts(tmp_path, "bad.j2")


def test_bad_attribute_use_is_caught_by_the_trial_render(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("{{ comment.author }}")

    with pytest.raises(PromptError, match=r"bad\.j2"):
        Prompts(tmp_path, "bad.j2")


def test_missing_template_says_which_settings_to_check(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="PROMPT_TEMPLATE"):
        Prompts(tmp_path, "nope.j2")


def test_comment_text_is_never_rendered_as_a_template() -> None:
    prompts = Prompts(ROOT / "prompts", "completion.j2")
    hostile = PromptContext(**{**SAMPLE_CONTEXT.__dict__, "comment": "{{ 7 * 7 }} {% raw %}"})

    assert "{{ 7 * 7 }} {% raw %}" in prompts.completion(hostile)


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        ("PROMPT: Q\nbot: The answer.", "The answer."),
        ("  The answer.  \n", "The answer."),
        ("\nPROMPT: Q\nbot:  The answer.", "The answer."),
        ("PROMPT: Q\nbot:", ""),
    ],
)
def test_strip_echo_keeps_only_the_continuation(generated: str, expected: str) -> None:
    assert strip_echo("PROMPT: Q\nbot:", generated) == expected
