"""Templates in prompts/ render; broken ones are refused at load; sets are chosen per repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer.progress import TEMPLATE as PROGRESS_TEMPLATE
from bot.answer.prompt_context import SAMPLE_CONTEXT, PromptContext
from bot.answer.prompts import TEMPLATES, Prompts, strip_echo
from bot.answer.thread import ThreadComment
from bot.errors import PromptError
from tests.conftest import ROOT

CONTEXT = PromptContext(
    comment="@hub-bot Is this model fine-tuned on medical text?",
    title="Training data",
    repo_name="acme/med-llm",
    repo_type="model",
    discussion_num=12,
    is_pull_request=True,
    bot_name="hub-bot",
    author="alice",
    thread=(
        ThreadComment("1", "bob", "Which data was it trained on?", False, None, None, False),
        ThreadComment("2", "hub-bot", "The card lists PubMed abstracts.", True, None, None, False),
    ),
    model="acme/chat-7b",
    answer="It was fine-tuned on PubMed abstracts.",
)
DEFAULT = Prompts(ROOT / "prompts").for_repo("acme/med-llm")


def test_every_shipped_template_is_rendered_here() -> None:
    shipped = sorted(p.name for p in (ROOT / "prompts").glob("*.j2"))

    # progress.j2 is checked by its own reader (bot.answer.progress, tests/test_progress.py).
    assert shipped == sorted((*TEMPLATES, PROGRESS_TEMPLATE))


def test_completion_prompt_is_a_transcript_ending_where_the_bot_speaks() -> None:
    rendered = DEFAULT.completion(CONTEXT)

    assert 'Hugging Face Hub model "acme/med-llm"' in rendered
    assert "Pull request #12: Training data" in rendered
    assert "bob: Which data was it trained on?\n\nhub-bot: The card lists PubMed" in rendered
    assert rendered.endswith(
        "alice: @hub-bot Is this model fine-tuned on medical text?\n\nhub-bot:"
    )


def test_chat_messages_carry_the_thread_with_the_bots_replies_as_the_assistants() -> None:
    messages = DEFAULT.chat_messages(CONTEXT)

    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "You are hub-bot" in messages[0]["content"]
    assert "pull request #12" in messages[0]["content"]
    assert messages[1]["content"] == "bob: Which data was it trained on?"
    assert messages[2]["content"] == "The card lists PubMed abstracts."
    assert messages[3]["content"].startswith("Model acme/med-llm, pull request #12: Training data")
    assert messages[3]["content"].endswith(
        "\n\nalice: @hub-bot Is this model fine-tuned on medical text?"
    )


def test_consecutive_turns_of_one_role_are_merged() -> None:
    two_users = PromptContext(
        **{
            **CONTEXT.__dict__,
            "thread": (ThreadComment("1", "bob", "First.", False, None, None, False),),
        }
    )

    roles = [m["role"] for m in DEFAULT.chat_messages(two_users)]

    assert roles == ["system", "user"]


def test_reply_wrapper_adds_a_footer_naming_the_bot_and_the_model() -> None:
    rendered = DEFAULT.reply(CONTEXT, "Short answer.")

    assert rendered.startswith("Short answer.\n\n---\n")
    assert "Automated reply by hub-bot, written by acme/chat-7b" in rendered


def test_failure_notice_has_no_internals() -> None:
    rendered = DEFAULT.failure(CONTEXT)

    assert rendered.startswith("Sorry, I could not answer this one")
    for internal in ("http", "HTTP", "error", "acme/chat-7b", "Traceback"):
        assert internal not in rendered


def test_a_set_is_chosen_by_repo_glob_and_falls_back_to_the_default_templates(
    tmp_path: Path,
) -> None:
    for name in TEMPLATES:
        (tmp_path / name).write_text((ROOT / "prompts" / name).read_text())
    (tmp_path / "formal").mkdir()
    (tmp_path / "formal" / "reply.j2").write_text("Dear reader,\n\n{{ answer }}")

    prompts = Prompts(tmp_path, (("Acme/*", "formal"),))

    assert prompts.for_repo("acme/model").reply(CONTEXT, "Yes.") == "Dear reader,\n\nYes."
    assert prompts.for_repo("other/model").reply(CONTEXT, "Yes.").startswith("Yes.\n\n---")
    assert prompts.for_repo("acme/model").completion(CONTEXT) == DEFAULT.completion(CONTEXT)


def test_a_set_that_does_not_exist_is_refused_at_load() -> None:
    with pytest.raises(PromptError, match="PROMPT_SETS"):
        Prompts(ROOT / "prompts", (("acme/*", "nope"),))


def broken_set(tmp_path: Path, name: str, source: str) -> Path:
    for template in TEMPLATES:
        (tmp_path / template).write_text((ROOT / "prompts" / template).read_text())
    (tmp_path / name).write_text(source)
    return tmp_path


def test_unknown_variable_is_refused_at_load(tmp_path: Path) -> None:
    directory = broken_set(tmp_path, "reply.j2", "{{ answer }} {{ author_email }}")

    with pytest.raises(PromptError, match="author_email"):
        Prompts(directory)


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    directory = broken_set(tmp_path, "completion.j2", "line one\n{% if comment %}unclosed")

    with pytest.raises(PromptError, match=r"completion\.j2 line 2"):
        Prompts(directory)


def test_bad_attribute_use_is_caught_by_the_trial_render(tmp_path: Path) -> None:
    directory = broken_set(tmp_path, "chat_user.j2", "{{ comment.author.name }}")

    with pytest.raises(PromptError, match=r"chat_user\.j2"):
        Prompts(directory)


def test_missing_template_names_it(tmp_path: Path) -> None:
    directory = broken_set(tmp_path, "reply.j2", "{{ answer }}")
    (directory / "failure.j2").unlink()

    with pytest.raises(PromptError, match=r"failure\.j2 does not exist"):
        Prompts(directory)


def test_comment_text_is_never_rendered_as_a_template() -> None:
    hostile = PromptContext(**{**SAMPLE_CONTEXT.__dict__, "comment": "{{ 7 * 7 }} {% raw %}"})

    assert "{{ 7 * 7 }} {% raw %}" in DEFAULT.completion(hostile)


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
