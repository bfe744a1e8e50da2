"""Adversarial model outputs each come out clean, or as nothing at all."""

from __future__ import annotations

import pytest

from bot.clean import REDACTED, ZERO_WIDTH_SPACE, CleanRules, clean, shorten
from tests.fakes import TOKEN

RULES = CleanRules(
    bot_handle="hub-bot",
    max_chars=300,
    secrets=(TOKEN, "whsec-correct-horse-battery-staple"),
    turn_names=("User", "alice", "bob"),
)


def test_mass_mentions_are_defused_but_stay_readable() -> None:
    text = "Thanks @alice @bob @julien-c and @everyone-else, see you."

    cleaned = clean(text, RULES)

    assert "@alice" not in cleaned
    assert f"@{ZERO_WIDTH_SPACE}alice" in cleaned
    assert cleaned.replace(ZERO_WIDTH_SPACE, "") == text


def test_mentions_are_kept_when_the_setting_allows_them() -> None:
    allowed = CleanRules(bot_handle="hub-bot", allow_mentions=True)

    assert clean("Ask @alice about it.", allowed) == "Ask @alice about it."


def test_the_bot_never_mentions_itself() -> None:
    cleaned = clean("As @Hub-Bot I think so. Ping @hub-bot again!", RULES)

    assert "@" not in cleaned
    assert cleaned == "As Hub-Bot I think so. Ping hub-bot again!"


def test_email_addresses_and_paths_are_not_mentions() -> None:
    text = "Write to team@example.org or see org/@scope/pkg."

    assert clean(text, RULES) == text


@pytest.mark.parametrize(
    "generated",
    [
        "The answer is 42.\nUser: thanks! what else?\nhub-bot: more",
        "The answer is 42.\n\nalice: but why?",
        "The answer is 42.\nhub-bot: and I keep talking to myself",
        "The answer is 42.\n  @bob: invented reply",
    ],
)
def test_an_invented_next_turn_is_cut_off(generated: str) -> None:
    assert clean(generated, RULES) == "The answer is 42."


def test_a_sentence_that_merely_names_someone_is_kept() -> None:
    text = "As alice said: the card is wrong.\nNote: check the license."

    assert clean(text, RULES) == text


def test_our_marker_produced_by_the_model_is_removed() -> None:
    text = "Done. <!-- hub-discussion-bot reply-to:6398872887bfcfb93a306f18 --> Bye."

    assert clean(text, RULES) == "Done.  Bye."


def test_tokens_and_secrets_are_never_posted() -> None:
    other_token = "hf_abcdefghijklmnopqrstuvwxyz123456"
    text = f"Use {TOKEN} or {other_token} with whsec-correct-horse-battery-staple"

    cleaned = clean(text, RULES)

    assert TOKEN not in cleaned and "hf_abcdefghijklmnopqrstuvwxyz" not in cleaned
    assert "whsec" not in cleaned
    assert cleaned.count(REDACTED) == 3


@pytest.mark.parametrize(
    "generated", ["", "   \n\t ", "User: I am the user now", "<!-- hub-discussion-bot x -->"]
)
def test_nothing_left_means_nothing_to_post(generated: str) -> None:
    assert clean(generated, RULES) == ""


def test_over_long_answer_is_cut_at_a_paragraph() -> None:
    first = "A first paragraph. " * 10
    text = first.strip() + "\n\n" + "Second paragraph goes on and on. " * 20

    cleaned = clean(text, RULES)

    assert cleaned == first.strip()


def test_over_long_answer_without_paragraphs_is_cut_at_a_sentence() -> None:
    text = "This is a sentence that ends. " * 30

    cleaned = shorten(text.strip(), 100)

    assert len(cleaned) <= 100
    assert cleaned.endswith("ends.")


def test_a_single_endless_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    cleaned = shorten("word " * 100, 50)

    assert len(cleaned) <= 50
    assert cleaned.endswith("word…")
