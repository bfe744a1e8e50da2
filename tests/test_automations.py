"""Automations, piece by piece: the rules file as written, repo events, matching with the
guards, card findings, Job labels, and the store keeping one job per (rule, repo, revision)
with each rule's `max_per_day` (on SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bot.automations.card_review import review
from bot.automations.events import NotForAutomations, RepoEvent, repo_event
from bot.automations.matching import Matcher
from bot.automations.rule import CardReview, CommentOn, RunJob
from bot.automations.rules import AutomationsError, load_rules
from bot.automations.run_job import job_spec, labels
from bot.events import Ignore
from bot.guards import GuardRules
from bot.hub.jobs import label_value
from bot.store import (
    EnqueueAutomation,
    EnqueueOutcome,
    JobKind,
    JobStatus,
    StoreOptions,
    open_store,
)
from bot.store.records import AutomationRun
from tests.conftest import load_payload
from tests.test_automations_e2e import CARD_WITHOUT_LICENSE, FINE_CARD, RETRAIN, push

ISSUE_EXAMPLE = (
    RETRAIN
    + """
  - name: review-cards
    on: {repo_type: model, repos: ["acme/*"], event: push}
    do: card_review
  - name: changelog
    on: {repo_type: model, repos: ["acme/*"], event: push}
    do: {comment: {template: changelog, title: "Changes"}}
"""
)
PUSH = load_payload("repo_content_push_main")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "automations.yaml"
    path.write_text(text)
    return path


def test_the_issue_example_is_read_as_written_with_its_bare_on_keys(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, ISSUE_EXAMPLE))

    retrain, cards, changelog = rules.rules
    assert isinstance(retrain.do, RunJob)
    assert retrain.on.repo_type == "dataset" and retrain.on.event == "push"
    assert retrain.do.report.repo == "acme/retrained-model"
    assert retrain.do.report.repo_type == "model"
    assert retrain.do.secrets == ("TRAIN_PUSH_TOKEN",)
    assert retrain.max_per_day == 10
    assert isinstance(cards.do, CardReview)
    assert changelog.do == CommentOn("changelog", "Changes")
    assert rules.secret_names == ("TRAIN_PUSH_TOKEN",)


def test_every_problem_in_the_file_is_named_at_once(tmp_path: Path) -> None:
    text = """
rules:
  - name: broken
    on: {repo_type: dataset, repos: ["acme data/*"], event: push, branch: dev}
    do:
      run_job: {image: python:3.12, command: [python], flavor: huge, report: {repo: a/b}}
"""
    with pytest.raises(AutomationsError) as raised:
        load_rules(write(tmp_path, text))

    message = str(raised.value)
    assert "unknown key 'branch'" in message
    assert "'acme data/*' is not a glob" in message
    assert "'huge' is not a Hub flavor" in message
    assert "title: 3 to 200 characters" in message


def test_no_file_means_no_rules_and_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    assert not load_rules(None)
    with pytest.raises(AutomationsError, match="not YAML"):
        load_rules(write(tmp_path, "rules: [unclosed"))


def test_a_push_to_main_is_read_with_its_new_sha_and_refs() -> None:
    event = repo_event(json.dumps(PUSH).encode())

    assert isinstance(event, RepoEvent)
    assert event.event == "push"
    assert event.repo == "acme-data/weather" and event.repo_type == "dataset"
    assert event.revision == PUSH["updatedRefs"][0]["newSha"]
    assert [ref for ref, _, _ in event.refs] == ["refs/heads/main", "refs/tags/v1"]


def test_head_sha_alone_or_another_branch_is_not_a_push_to_main() -> None:
    bare = load_payload("repo_content_update")  # headSha, no updatedRefs
    dev = push(ref="refs/heads/dev")

    assert isinstance(repo_event(json.dumps(bare).encode()), NotForAutomations)
    assert isinstance(repo_event(json.dumps(dev).encode()), NotForAutomations)


def test_a_new_pull_request_is_an_event_of_its_own() -> None:
    opened = load_payload("discussion_create_pull_request")

    event = repo_event(json.dumps(opened).encode())

    assert isinstance(event, RepoEvent)
    assert event.event == "pull_request"
    assert event.revision == f"pr-{opened['discussion']['num']}"


def test_matching_applies_the_repo_guards(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, RETRAIN))
    body = json.dumps(PUSH).encode()

    allowed = Matcher(rules, GuardRules()).match(body)
    denied = Matcher(rules, GuardRules(deny_repos=("acme-data/*",))).match(body)
    private = copy.deepcopy(PUSH)
    private["repo"]["private"] = True
    hidden = Matcher(rules, GuardRules()).match(json.dumps(private).encode())

    assert isinstance(allowed, list) and [run.rule for run in allowed] == ["retrain-on-data"]
    assert isinstance(denied, Ignore) and "DENY_REPOS" in denied.reason
    assert isinstance(hidden, Ignore) and "ANSWER_PRIVATE_REPOS" in hidden.reason


def test_labels_hold_only_what_the_hub_allows() -> None:
    run = AutomationRun("retrain-on-data", "dataset", "acme-data/weather", "a" * 40, "push")

    found = labels(run)

    assert found["repo"] == "datasets--acme-data--weather"
    assert all(len(v) <= 100 and label_value(v) == v for v in found.values())
    assert label_value("x/y z" * 40) == label_value("x/y z" * 40)[:100]


def test_the_job_spec_carries_the_repo_facts_and_masks_secrets_for_preview(
    tmp_path: Path,
) -> None:
    (rule,) = load_rules(write(tmp_path, RETRAIN)).rules
    assert isinstance(rule.do, RunJob)
    run = AutomationRun(rule.name, "dataset", "acme-data/weather", "b" * 40, "push")

    spec = job_spec(rule.do, run, {}, mask=True)

    assert spec["environment"]["REPO_SHA"] == "b" * 40
    assert spec["secrets"] == {"TRAIN_PUSH_TOKEN": "********"}
    assert spec["dockerImage"] == "python:3.12" and spec["flavor"] == "a10g-small"


def test_card_findings_name_what_is_missing_and_a_good_card_has_none() -> None:
    assert review(FINE_CARD, "model") == []
    assert any("license" in finding for finding in review(CARD_WITHOUT_LICENSE, "model"))
    odd = FINE_CARD.replace("apache-2.0", "my-own-terms")
    assert any("not a Hub license id" in finding for finding in review(odd, "model"))
    broken_index = FINE_CARD.replace("---\n#", "model-index: [{name: x}]\n---\n#")
    assert any("model-index" in finding for finding in review(broken_index, "model"))
    assert any("placeholders" in f for f in review("---\nlicense: mit\n---\n# T\n", "model"))


@pytest.mark.anyio
async def test_one_job_per_rule_repo_and_revision_and_max_per_day_holds(
    backend: dict[str, str], tmp_path: Path
) -> None:
    options = StoreOptions(
        tmp_path / "data", tmp_path / "data" / "bot.sqlite3", backend.get("DATABASE_URL")
    )
    store = await open_store(options)
    try:
        first = AutomationRun("nightly", "model", "acme/m", "1" * 40, "push", max_per_day=1)
        second = AutomationRun("nightly", "model", "acme/m", "2" * 40, "push", max_per_day=1)

        made = await store.enqueue_automations([EnqueueAutomation(first)])
        again = await store.enqueue_automations([EnqueueAutomation(first)])
        claimed = await store.claim(30)
        assert claimed is not None and claimed.kind is JobKind.AUTOMATION
        assert claimed.automation == first and claimed.refused is None
        await store.finish(claimed.id, JobStatus.DONE, "ran")
        await store.enqueue_automations([EnqueueAutomation(second)])
        over = await store.claim(30)

        assert made[0][0] is EnqueueOutcome.QUEUED
        assert again == [(EnqueueOutcome.DUPLICATE, made[0][1])]
        assert over is not None and over.refused is not None
        assert "max_per_day=1" in over.refused
    finally:
        await store.close()
