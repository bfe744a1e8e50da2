"""The sources, each against the fakes of the Hub and the dataset viewer: what they read at
the revision, what they give the model (within caps), and how they say what they could not
read. Paths from questions and tool calls stay inside the repo."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.answer.context import RepoFacts, parse_facts
from bot.config import Settings
from bot.events import DiscussionRef, Mention
from bot.hub.client import HubClient
from bot.services.clients import hub_http_client, viewer_http_client
from bot.sources import evaluation, weights
from bot.sources.config import ConfigSource, summary
from bot.sources.files import RepoFiles, safe_path
from bot.sources.found import Unread, Where
from bot.sources.lookups import LookupOptions, Lookups
from bot.sources.viewer import Viewer
from bot.upstream import CallLimits, RetryPolicy
from tests.fakes import TOKEN, FakeHub, Scripted, serve_in_thread
from tests.fakes.viewer import FakeViewer

pytestmark = pytest.mark.anyio
SHA = "c" * 40
MODEL = Where("model", "acme/llm", SHA)
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "max_position_embeddings": 131072,
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "torch_dtype": "bfloat16",
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0},
}


@pytest.fixture
def client(hub: FakeHub, settings: Settings) -> HubClient:
    http = hub_http_client(settings, httpx.ASGITransport(app=hub.app))
    return HubClient(http, RetryPolicy(budget=0))


def facts_of(hub: FakeHub, kind: str, name: str) -> RepoFacts:
    return parse_facts(hub.repos[(kind, name)], DiscussionRef(kind, name, 1))


@pytest.mark.parametrize(
    "raw",
    ["../secrets.json", "a/../../b", "/etc/passwd", "https://evil.example/x", "http:x",
     "other-org/other-repo/../config.json", "", "a\\b", "a//b", "./../x", "a\x00b"],
)  # fmt: skip
def test_a_path_leaving_the_repo_or_not_a_path_is_refused(raw: str) -> None:
    with pytest.raises(Unread):
        safe_path(raw)


def test_a_plain_path_inside_the_repo_is_kept() -> None:
    assert safe_path(" ./scripts/train.py ") == "scripts/train.py"
    assert safe_path("config.json") == "config.json"


def test_the_config_summary_names_what_people_ask_about() -> None:
    lines = summary(CONFIG)

    assert "context length: 131,072 tokens (max_position_embeddings)" in lines
    assert "architecture: LlamaForCausalLM" in lines
    assert (
        "layers: 32" in lines and "key/value heads: 8" in lines and "vocabulary: 128,256" in lines
    )
    assert "torch_dtype: bfloat16" in lines
    assert any(line.startswith("rope_scaling: ") and "llama3" in line for line in lines)


async def test_config_is_read_at_the_revision_with_its_companions(
    hub: FakeHub, client: HubClient
) -> None:
    hub.add_file("model", "acme/llm", "config.json", json.dumps(CONFIG))
    hub.add_file("model", "acme/llm", "tokenizer_config.json", '{"chat_template": "{{x}}"}')
    hub.add_file("model", "acme/llm", "generation_config.json", '{"temperature": 0.6}')
    files = facts_of(hub, "model", "acme/llm").files

    found = await ConfigSource(RepoFiles(client)).read(MODEL, files)

    assert "config.json: context length: 131,072 tokens" in found.text
    assert "tokenizer_config.json has chat_template" in found.text
    assert "generation_config.json: temperature=0.6" in found.text
    assert found.url == f"https://huggingface.co/acme/llm/blob/{SHA}/config.json"
    assert f"/acme/llm/resolve/{SHA}/config.json" in [r.path for r in hub.requests]


async def test_a_5_mb_config_is_refused_without_reading_it_whole(
    hub: FakeHub, client: HubClient
) -> None:
    huge = json.dumps({**CONFIG, "padding": "x" * 5_000_000})
    hub.add_file("model", "acme/llm", "config.json", huge)

    with pytest.raises(Unread) as refused:
        await ConfigSource(RepoFiles(client)).read(MODEL, ("config.json",))

    assert "larger than 262,144 bytes" in str(refused.value)


async def test_an_lfs_file_and_a_missing_file_are_named_not_read(
    hub: FakeHub, client: HubClient
) -> None:
    hub.add_file("model", "acme/llm", "model.safetensors", b"\x00" * 10, lfs_size=14_000_000_000)
    files = RepoFiles(client)

    with pytest.raises(Unread, match="stored with LFS; not downloaded"):
        await files.named(MODEL, "model.safetensors", ())
    with pytest.raises(Unread, match="no such file"):
        await files.named(MODEL, "nowhere.py", ())
    assert not [r for r in hub.requests if "/resolve/" in r.path]


async def test_a_named_file_is_found_by_its_base_name_and_cut(
    hub: FakeHub, client: HubClient
) -> None:
    hub.add_file("model", "acme/llm", "scripts/train.py", "lr = 3e-4\n" + "# pad\n" * 2000)

    found = await RepoFiles(client).named(MODEL, "train.py", ("README.md", "scripts/train.py"))

    assert found.label == "scripts/train.py" and found.text.startswith("lr = 3e-4")
    assert len(found.text) <= 3000
    assert found.url == f"https://huggingface.co/acme/llm/blob/{SHA}/scripts/train.py"


def test_weights_name_dtype_formats_and_quantizations() -> None:
    facts = parse_facts(
        {
            "sha": SHA, "tags": ["mlx"],
            "safetensors": {"parameters": {"BF16": 8_030_261_248}, "total": 8_030_261_248},
            "gguf": {"total": 8_030_261_248, "architecture": "llama", "context_length": 131072},
            "siblings": [{"rfilename": f} for f in (
                "model-00001-of-00002.safetensors", "llm-Q4_K_M.gguf", "llm-Q8_0.gguf",
                "onnx/model.onnx", "README.md")],
        },
        DiscussionRef("model", "acme/llm", 1),
    )  # fmt: skip

    text = weights.read(facts, MODEL).text

    assert "Parameters: 8,030,261,248 (BF16)" in text
    assert "GGUF (Q4_K_M, Q8_0)" in text and "ONNX" in text and "MLX" in text
    assert "GGUF context length: 131,072" in text


def test_evaluation_lists_the_model_index() -> None:
    card = {"model-index": [{"name": "llm", "results": [{
        "task": {"type": "text-generation"},
        "dataset": {"name": "MMLU", "type": "cais/mmlu"},
        "metrics": [{"type": "acc", "value": 68.4, "name": "accuracy"}],
    }]}]}  # fmt: skip
    facts = parse_facts({"cardData": card}, DiscussionRef("model", "acme/llm", 1))

    found = evaluation.read(facts, MODEL)

    assert found.text == "text-generation on MMLU: accuracy = 68.4"
    with pytest.raises(Unread, match="no model-index"):
        evaluation.read(parse_facts({}, DiscussionRef("model", "x/y", 1)), MODEL)


def viewer_for(fake: FakeViewer, settings: Settings) -> Viewer:
    http = viewer_http_client(
        settings.model_copy(update={"dataset_viewer_url": "http://viewer.test"}),
        httpx.ASGITransport(app=fake.app),
    )
    return Viewer(http, CallLimits(5, 1024 * 1024))


async def test_the_viewer_gives_splits_and_first_rows_with_huge_cells_cut(
    settings: Settings,
) -> None:
    fake = FakeViewer()
    fake.add_dataset(
        "acme/data", [{"text": "y" * 1_000_000, "label": 1}, {"text": "ok", "label": 0}]
    )
    viewer = viewer_for(fake, settings)

    found = await viewer.read("acme/data")

    assert "Splits (config/split): default/train" in found.text
    assert "Columns of default/train: text, label" in found.text
    assert "Row 1: text: ok, label: 0" in found.text
    assert len(found.text) < 1000
    assert found.url == "https://huggingface.co/datasets/acme/data/viewer"
    assert await viewer.status("acme/data") == "works (viewer, preview, search, filter)"
    assert {r.authorization for r in fake.requests} == {f"Bearer {TOKEN}"}


async def test_the_viewers_own_error_is_what_the_model_is_given(settings: Settings) -> None:
    fake = FakeViewer()
    error = "Cannot load the dataset split (in streaming mode) to extract the first rows."
    fake.fail("acme/broken", "StreamingRowsError", error, "ValueError", "Bad split: train.")

    found = await viewer_for(fake, settings).read("acme/broken")

    assert "Error (StreamingRowsError): Cannot load the dataset split" in found.text
    assert "Cause: ValueError: Bad split: train." in found.text


async def test_a_viewer_redirecting_to_another_origin_never_gets_the_token(
    settings: Settings,
) -> None:
    first, elsewhere = FakeViewer(), FakeViewer()
    for fake in (first, elsewhere):
        fake.add_dataset("acme/data", [{"text": "a"}])
    with serve_in_thread(first.app) as first_url, serve_in_thread(elsewhere.app) as other:
        moved = {"Location": f"{other}/splits?dataset=acme/data"}
        first.enqueue(Scripted(302, text="", headers=moved))
        tuned = settings.model_copy(update={"dataset_viewer_url": first_url})
        async with viewer_http_client(tuned) as http:
            found = await Viewer(http, CallLimits(5, 1 << 20)).read("acme/data")

    assert "Splits (config/split): default/train" in found.text
    assert {r.authorization for r in first.requests} == {f"Bearer {TOKEN}"}
    assert [(r.path, r.authorization) for r in elsewhere.requests] == [("/splits", None)]


async def test_a_gated_repos_content_is_not_read_unless_allowed(
    hub: FakeHub, client: HubClient
) -> None:
    hub.repo("model", "acme/gated", gated="manual", sha=SHA)
    hub.add_file("model", "acme/gated", "config.json", json.dumps(CONFIG))
    facts = facts_of(hub, "model", "acme/gated")
    mention = Mention("0" * 24, "1" * 24, "@bot what is the context length?",
                      DiscussionRef("model", "acme/gated", 1), "t", False, False)  # fmt: skip

    closed = await Lookups(client, RepoFiles(client), None, LookupOptions()).look(mention, facts)
    opened = await Lookups(
        client, RepoFiles(client), None, LookupOptions(private_allowed=True)
    ).look(mention, facts)

    assert closed.found == () and "gated and ANSWER_PRIVATE_REPOS is off" in closed.missing[0]
    assert [f.kind for f in opened.found] == ["config"]
    assert opened.sheet[0] == "Context length: 131,072 tokens (config.json max_position_embeddings)"
