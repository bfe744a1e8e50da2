"""Which lookups a question asks for, by the table in bot/sources/phrasings.toml: many
phrasings per kind, as people write them, in English, French, Spanish, German and Chinese."""

# ruff: noqa: RUF001 - Chinese questions end with a fullwidth question mark, as people type them

from __future__ import annotations

import pytest

from bot.sources.choose import KINDS, choose, phrasings

MODEL_FILES = ("README.md", "config.json", "tokenizer_config.json", "scripts/train.py",
               "model.safetensors", "requirements.txt")  # fmt: skip
SPACE_FILES = ("README.md", "app.py", "requirements.txt", "Dockerfile")

ASKED = {
    "config": (
        "model",
        [
            "What is the context length of this model?",
            "how long is the context window? can I feed it 32k tokens",
            "Quelle est la longueur de contexte maximale ?",
            "¿Cuál es la longitud del contexto de este modelo?",
            "Wie groß ist das Kontextfenster?",
            "这个模型的上下文长度是多少？",
            "How many layers and attention heads does it have?",
            "Does it ship a chat template?",
        ],
    ),
    "weights": (
        "model",
        [
            "How many parameters, and in what dtype?",
            "is there a GGUF version I can run with llama.cpp?",
            "Which quantization is this, Q4_K_M?",
            "Combien de paramètres a ce modèle ?",
            "¿Hay una versión cuantizada?",
            "Gibt es eine quantisierte Version?",
            "这个模型有多少参数？",
            "How much VRAM do I need for the weights?",
        ],
    ),
    "evaluation": (
        "model",
        [
            "What scores does it report on MMLU?",
            "any benchmark results?",
            "Quels sont les résultats de l'évaluation ?",
            "¿Qué resultados obtiene en los benchmarks?",
            "Welche Ergebnisse erreicht das Modell?",
            "这个模型的评测分数是多少？",
            "How does it perform compared to Llama?",
        ],
    ),
    "viewer": (
        "dataset",
        [
            "Why is the dataset viewer broken?",
            "can you show me a row?",
            "Pourquoi l'aperçu ne marche pas ?",
            "¿Puedes mostrarme una fila de ejemplo?",
            "Warum funktioniert die Vorschau nicht?",
            "数据集查看器为什么报错？",
            "load_dataset fails with an error on the train split",
        ],
    ),
    "space": (
        "space",
        [
            "Why does this Space not start?",
            "it's stuck on building for an hour",
            "Le Space ne démarre pas, une erreur ?",
            "El Space no arranca, ¿qué pasa?",
            "Der Space startet nicht mehr",
            "这个 Space 无法启动",
            "runtime error after the last commit",
        ],
    ),
}


def _cases() -> list[tuple[str, str, str]]:
    return [(kind, repo_type, q) for kind, (repo_type, qs) in ASKED.items() for q in qs]


@pytest.mark.parametrize(("kind", "repo_type", "question"), _cases())
def test_each_phrasing_chooses_its_lookup(kind: str, repo_type: str, question: str) -> None:
    files = SPACE_FILES if repo_type == "space" else MODEL_FILES

    assert kind in choose(f"@hub-bot {question}", repo_type, files).kinds


def test_every_kind_has_five_languages_and_enough_phrasings() -> None:
    table = phrasings()
    for kind in KINDS:
        types, words = table.kinds[kind]
        assert types and len(words) >= 15, kind
    for kind, (_, questions) in ASKED.items():
        assert len(questions) >= 5, kind


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What does train.py do with the learning rate?", ("scripts/train.py",)),
        ("in scripts/train.py, why lr=3e-4?", ("scripts/train.py",)),
        ("Can you check the tokenizer config?", ("tokenizer_config.json",)),
        ("La configuration du tokenizer est-elle correcte ?", ("tokenizer_config.json",)),
        ("¿Qué versión pide requirements.txt?", ("requirements.txt",)),
        ("Welche Abhängigkeiten braucht es?", ("requirements.txt",)),
        ("训练脚本里的学习率是多少？", ("scripts/train.py",)),
        ("what's in config.json?", ("config.json",)),
    ],
)
def test_a_file_is_named_by_path_base_name_or_common_name(
    question: str, named: tuple[str, ...]
) -> None:
    assert choose(question, "model", MODEL_FILES).files == named


@pytest.mark.parametrize(
    "question",
    ["Thanks, that helps!", "Merci beaucoup", "Can you explain LoRA?", "谢谢", "Hello there"],
)
def test_a_question_that_needs_no_lookup_chooses_none(question: str) -> None:
    assert choose(question, "model", MODEL_FILES).kinds == ()
    assert choose(question, "model", MODEL_FILES).files == ()


def test_a_kind_is_only_chosen_for_its_repo_type() -> None:
    assert choose("why is the viewer broken?", "model", MODEL_FILES).kinds == ()
    assert choose("how many parameters?", "dataset", ()).kinds == ()
    assert choose("a file that is not there: nothing.py", "model", MODEL_FILES).files == ()
