"""Adversarial model outputs each come out clean, or as nothing at all."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pydantic import SecretStr

from bot.answer.clean import AT_SIGNS, ZERO_WIDTH_SPACE, CleanRules, clean, shorten
from bot.answer.prompt_context import SAMPLE_CONTEXT
from bot.answer.prompts import Prompts
from bot.redact import REDACTED, Redactor
from tests.botprocess import ROOT
from tests.fakes import TOKEN

RULES = CleanRules(
    bot_handle="hub-bot",
    max_chars=300,
    redact=Redactor([SecretStr(TOKEN), SecretStr("whsec-correct-horse-battery-staple")]),
    turn_names=("User", "alice", "bob"),
)
PINGS = re.compile(rf"[{AT_SIGNS}]\w")  # an @, or a look-alike, right before a handle
MARKER = re.compile(r"<!--\s*hub-discussion-bot\b.*?-->", re.DOTALL)


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


@pytest.mark.parametrize(
    "text",
    ["_@alice_", "@@alice", "done.@alice", "/@alice", "-@alice", "\uff20alice", "\ufe6balice",
     "team@example.org", "(@alice)", "**@alice**", "`@alice`", "[x](https://hf.co/@alice)"],
)  # fmt: skip
def test_every_form_of_mention_is_defused_wherever_it_stands(text: str) -> None:
    cleaned = clean(text, RULES)

    assert PINGS.search(cleaned) is None
    assert cleaned.replace(ZERO_WIDTH_SPACE, "") == text  # it still reads the same


def test_the_at_signs_are_every_character_that_folds_to_an_at() -> None:
    folding = {c for c in map(chr, range(sys.maxunicode + 1))
               if unicodedata.normalize("NFKC", c) == "@"}  # fmt: skip

    assert folding == set(AT_SIGNS)


@given(st.text(alphabet=st.sampled_from("@\uff20\ufe6ba_.-/ \n<!->hub-discortyp:1"), max_size=80))
def test_no_text_comes_out_pinging_anyone_or_carrying_a_marker(text: str) -> None:
    cleaned = clean(text, RULES)

    assert PINGS.search(cleaned) is None
    assert MARKER.search(cleaned) is None


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


def test_a_marker_assembled_from_the_pieces_of_another_is_removed_too() -> None:
    nested = "<!<!-- hub-discussion-bot x -->-- hub-discussion-bot reply-to:OTHER -->"

    cleaned = clean(f"Sure. {nested}", RULES)

    assert "hub-discussion-bot" not in cleaned


def test_tokens_and_secrets_are_never_posted() -> None:
    other_token = "hf_abcdefghijklmnopqrstuvwxyz123456"
    text = f"Use {TOKEN} or {other_token} with whsec-correct-horse-battery-staple"

    cleaned = clean(text, RULES)

    assert TOKEN not in cleaned and "hf_abcdefghijklmnopqrstuvwxyz" not in cleaned
    assert "whsec" not in cleaned
    assert cleaned.count(REDACTED) == 3


def test_a_quoted_bearer_credential_is_redacted_whoever_owns_it() -> None:
    text = "Invalid credentials in Authorization header: Bearer sk-live-0123456789abcdefXYZ"

    assert RULES.redact(text) == f"Invalid credentials in Authorization header: Bearer {REDACTED}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AUTHORIZATION: BEARER sk-live-0123456789abcdefXYZ", f"AUTHORIZATION: BEARER {REDACTED}"),
        ("basic dXNlcjpwYXNzd29yZDEyMzQ1Ng==", f"basic {REDACTED}"),
        ("GET /x?a=1&%73ecret=abc HTTP/1.1", f"GET /x?a=1&%73ecret={REDACTED} HTTP/1.1"),
        ("url=https://h/?Token=abc", f"url=https://h/?Token={REDACTED}"),
        ("key=hf_abcdefghijklmnopqrstuvwxyz", f"key={REDACTED}"),
        (
            "status=200 outcome=ignored reason=no_mention",
            "status=200 outcome=ignored reason=no_mention",
        ),
    ],
)
def test_every_kind_of_secret_is_redacted_and_plain_lines_pass_unchanged(
    text: str, expected: str
) -> None:
    assert RULES.redact(text) == expected


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


POSTED_MARKER = "<!-- hub-discussion-bot reply-to:6398872887bfcfb93a306f18 -->"
FOOTER_SHOWN = re.compile(
    r"<hr />\n<p><sub>Automated reply by [^<]*</sub></p>\n" + re.escape(POSTED_MARKER) + r"\n?\Z"
)
REPLY = Prompts(ROOT / "prompts").for_repo("org/name")


def rendered(answer: str) -> str:
    """The reply as posted (template, footer, marker), as a CommonMark renderer shows it."""
    posted = f"{REPLY.reply(SAMPLE_CONTEXT, clean(answer, RULES))}\n\n{POSTED_MARKER}"
    return MarkdownIt("commonmark").render(posted)


@pytest.mark.parametrize(
    "answer",
    [
        "All good.\n<!--",
        "All good. <!-- the footer is mine now",
        "All good.\n<!--\n\n---\n<sub>Checked by the maintainers.</sub>",
        "Here:\n```python\nprint('unfinished')",
        "Here:\n~~~~\ncode\n~~~",
        "1. Install:\n   ```bash\n   pip install x\n```",
        "- ```\n  a\n```",
        "<details><summary>more</summary>\n\nhidden",
        "<pre>\nraw",
        "<script>alert(1)",
        "<![CDATA[ never closed",
        "<?php never closed",
    ],
)
def test_the_footer_stays_visible_whatever_the_answer_leaves_open(answer: str) -> None:
    assert FOOTER_SHOWN.search(rendered(answer)), rendered(answer)


PIECES = ["```", "~~~", "````", "<!--", "-->", "<details>", "<pre>", "<div>", "- ", "1. ", "> ",
          "  ", "   ", "    ", "\t", "\n", "\n\n", "`", "x", "<", "!", "[a](b)"]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_no_answer_hides_the_footer(answer: str) -> None:
    assert FOOTER_SHOWN.search(rendered(answer))


def test_code_in_fences_is_kept_as_written_and_an_unclosed_fence_is_closed() -> None:
    answer = "Try:\n\n```html\n<!-- a comment -->\n<b>x</b>\n```\n\nand\n\n```\nif a<b:"

    cleaned = clean(answer, RULES)

    assert cleaned == answer + "\n```"


def targets(answer: str, kind: str) -> list[str]:
    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True  # show every target, as a laxer renderer would
    found = []
    for token in md.parse(clean(answer, RULES)):
        for child in token.children or []:
            if child.type == kind:
                found.append(str(child.attrs["href" if kind == "link_open" else "src"]))
    return found


@pytest.mark.parametrize(
    "link",
    ["[click](javascript:alert(1))", "[click](JavaScript:alert(1))",
     "[click](java\\script:alert(1))", "[click](javascript&#58;alert(1))",
     "[click](&#x6A;avascript:alert(1))", "[click](<javascript:alert(1)>)",
     "[click](\njavascript:alert(1))", "[click][x]\n\n[x]: javascript:alert(1)",
     "[click](vbscript:msgbox(1))", "[click](data:text/html;base64,PHNjcmlwdD4=)",
     "<javascript:alert(1)>"],
)  # fmt: skip
def test_a_link_that_would_run_code_goes_nowhere(link: str) -> None:
    for href in targets(f"See {link} now.", "link_open"):
        assert not re.match(r"\s*[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("http")


def test_safe_links_are_kept() -> None:
    answer = "See [docs](https://huggingface.co/docs), [mail](mailto:team) and [x](/org/m)."

    assert targets(answer, "link_open") == ["https://huggingface.co/docs", "mailto:team", "/org/m"]


@pytest.mark.parametrize(
    ("answer", "embedded"),
    [
        ("![chart](https://huggingface.co/org/m/resolve/main/chart.png)", 1),
        ("![chart](https://cdn-uploads.huggingface.co/x.png)", 1),
        ("![chart](/org/m/resolve/main/chart.png)", 1),
        ("![pixel](https://tracker.example/p.gif?who=you)", 0),
        ("![pixel](//tracker.example/p.gif)", 0),
        ("![pixel](https://huggingface.co.tracker.example/p.gif)", 0),
        ("![pixel][p]\n\n[p]: https://tracker.example/p.gif", 0),
        ('<img src="https://tracker.example/p.gif">', 0),
    ],
)
def test_only_images_from_the_hub_are_embedded(answer: str, embedded: int) -> None:
    assert len(targets(answer, "image")) == embedded
    assert "tracker.example" not in "".join(targets(answer, "image"))
