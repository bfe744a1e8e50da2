"""Automations end to end on the real process: a push to a watched repo, the fake Hub's Jobs
API and discussions; replays, wiped stores, second replicas and kill -9 never start or post
anything twice."""

from __future__ import annotations

import copy
import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botprocess import (
    BotProcess,
    Fakes,
    bot_environment,
    eventually,
    run_bot,
    start_bot,
    wait_healthy,
)
from tests.conftest import load_payload
from tests.fakes import FakeHub

PUSH = load_payload("repo_content_push_main")
SHA = PUSH["updatedRefs"][0]["newSha"]
REPORT_THREADS = "/api/models/acme/retrained-model"
RETRAIN = """
rules:
  - name: retrain-on-data
    on: {repo_type: dataset, repos: ["acme-data/*"], event: push}
    do:
      run_job:
        image: python:3.12
        command: ["python", "train.py"]
        flavor: a10g-small
        timeout: 1800
        namespace: acme
        env: {EPOCHS: "3"}
        secrets: [TRAIN_PUSH_TOKEN]
        report: {repo: acme/retrained-model, title: "Retraining runs"}
        max_per_day: 10
"""
REVIEW = """
rules:
  - name: review-cards
    on: {repo_type: model, repos: ["acme/*"], event: push}
    do: card_review
"""
FINE_CARD = textwrap.dedent(
    """\
    ---
    license: apache-2.0
    language: [en]
    base_model: acme/base
    datasets: [acme-data/weather]
    pipeline_tag: text-classification
    ---
    # Weather classifier

    It reads a weather report and says whether to take an umbrella. Trained for three epochs
    on the weather dataset; accuracy 0.91 on its test split.
    """
)
CARD_WITHOUT_LICENSE = FINE_CARD.replace("license: apache-2.0\n", "")
FAST = {"LEASE_SECONDS": "1", "ATTEMPT_BACKOFF": "0", "TRAIN_PUSH_TOKEN": "hf_train_secret_42"}


def push(repo: str = "acme-data/weather", repo_type: str = "dataset", **change: Any) -> Any:
    payload = copy.deepcopy(PUSH)
    payload["repo"].update(type=repo_type, name=repo, **change.get("repo", {}))
    sha = change.get("sha", SHA)
    payload["repo"]["headSha"] = sha
    payload["updatedRefs"] = [
        {"ref": change.get("ref", "refs/heads/main"), "oldSha": None, "newSha": sha}
    ]
    return payload


class Bots:
    """Bot processes on a rules file; each `start` may take a DATA_DIR of its own."""

    def __init__(self, tmp_path: Path, fakes: Fakes) -> None:
        self.tmp_path, self.fakes = tmp_path, fakes
        self.started: list[BotProcess] = []

    def start(self, rules: str, data: str = "data", **settings: str) -> BotProcess:
        path = self.tmp_path / "automations.yaml"
        path.write_text(rules)
        env = bot_environment(
            self.tmp_path,
            self.fakes,
            AUTOMATIONS_FILE=str(path),
            DATA_DIR=str(self.tmp_path / data),
            **{**FAST, **settings},
        )
        bot = start_bot(self.tmp_path, env, name=f"bot{len(self.started)}")
        self.started.append(bot)
        wait_healthy(bot)
        return bot


@pytest.fixture
def bots(tmp_path: Path, fakes: Fakes) -> Iterator[Bots]:
    made = Bots(tmp_path, fakes)
    try:
        yield made
    finally:
        fakes.hub.release_jobs()
        for bot in made.started:
            bot.stop()


def reports(hub: FakeHub, thread_root: str = REPORT_THREADS) -> list[str]:
    """What the bot said in the discussions it opened under a repo: every comment's text."""
    return [
        event["data"]["latest"]["raw"]
        for path, events in hub.threads.items()
        if path.startswith(thread_root + "/discussions/")
        for event in events
    ]


def job_status(bot: BotProcess, key_part: str) -> list[str]:
    with sqlite3.connect(bot.database, timeout=5) as db:
        found = db.execute(
            "SELECT status FROM jobs WHERE comment_id LIKE ? ORDER BY id", (f"%{key_part}%",)
        )
        return [str(row[0]) for row in found.fetchall()]


def test_a_push_starts_one_job_and_reports_once_through_replays_wiped_stores_and_replicas(
    bots: Bots, fakes: Fakes
) -> None:
    hub = fakes.hub
    first = bots.start(RETRAIN)

    answer = first.deliver(PUSH, **{"Webhook-Id": "push-1"})

    assert answer.status_code == 202
    eventually(lambda: len(reports(hub)) == 1, what="the report")
    (job,) = hub.started_jobs
    assert job["environment"] == {
        "EPOCHS": "3",
        "REPO_ID": "acme-data/weather",
        "REPO_TYPE": "dataset",
        "REPO_SHA": SHA,
    }
    assert job["labels"]["revision"] == SHA
    assert job["labels"]["rule"] == "retrain-on-data"
    assert job["labels"]["repo"] == "datasets--acme-data--weather"
    assert job["secrets"] == ["TRAIN_PUSH_TOKEN"]
    (started,) = [r for r in hub.requests if r.method == "POST" and r.path == "/api/jobs/acme"]
    assert started.body["secrets"] == {"TRAIN_PUSH_TOKEN": "hf_train_secret_42"}
    (report,) = reports(hub)
    assert "COMPLETED" in report
    assert f"/jobs/acme/{job['id']}" in report
    eventually(lambda: job_status(first, "retrain-on-data") == ["done"], what="the job done")

    # A replay of the same delivery: a duplicate, nothing new.
    again = first.deliver(PUSH, **{"Webhook-Id": "push-1"})
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"

    # A second replica with a store of its own (or this one after its store was wiped): it
    # records the run, finds the Job by its labels and the report by its marker.
    second = bots.start(RETRAIN, data="other-data")
    assert second.deliver(PUSH).status_code == 202
    eventually(lambda: job_status(second, "retrain-on-data") == ["done"], what="the replica")

    assert len(hub.started_jobs) == 1
    assert len(reports(hub)) == 1
    assert "TRAIN_PUSH_TOKEN" not in first.output() and "hf_train_secret_42" not in first.output()


def test_a_job_that_ends_in_error_is_reported_once_with_its_message(
    bots: Bots, fakes: Fakes
) -> None:
    fakes.hub.jobs_end_in = "ERROR"
    bot = bots.start(RETRAIN)

    assert bot.deliver(PUSH).status_code == 202

    eventually(lambda: len(reports(fakes.hub)) == 1, what="the report")
    (report,) = reports(fakes.hub)
    assert "ERROR" in report
    assert fakes.hub.jobs_error in report


def test_killed_while_following_a_job_the_restarted_bot_finds_it_by_label_and_reports_once(
    bots: Bots, fakes: Fakes
) -> None:
    hub = fakes.hub
    hub.hold_jobs()
    first = bots.start(RETRAIN)
    assert first.deliver(PUSH).status_code == 202
    assert hub.wait_until(
        lambda: any(r.method == "GET" and "/api/jobs/acme/" in r.path for r in hub.requests)
    )
    first.stop()  # SIGKILL while it follows the Job
    hub.release_jobs()

    second = bots.start(RETRAIN)

    eventually(lambda: job_status(second, "retrain-on-data") == ["done"], what="the restart")
    assert len(hub.started_jobs) == 1
    assert len(reports(hub)) == 1


def test_a_push_no_rule_matches_or_to_another_branch_does_nothing(bots: Bots, fakes: Fakes) -> None:
    bot = bots.start(RETRAIN)

    elsewhere = bot.deliver(push(repo="someone/else"))
    branch = bot.deliver(push(ref="refs/heads/dev"))

    assert elsewhere.status_code == 200
    assert elsewhere.json()["status"] == "ignored"
    assert "no automation rule matches" in elsewhere.json()["reason"]
    assert branch.status_code == 200
    assert "not to refs/heads/main" in branch.json()["reason"]
    assert hub_calls(fakes.hub) == []


def hub_calls(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if "/jobs/" in r.path or r.path.endswith("/discussions")]


def test_card_review_says_once_what_is_missing_then_nothing_then_all_good_now(
    bots: Bots, fakes: Fakes
) -> None:
    hub = fakes.hub
    hub.repo("model", "acme/weather")
    hub.cards[("model", "acme/weather")] = CARD_WITHOUT_LICENSE
    bot = bots.start(REVIEW)
    threads = "/api/models/acme/weather"

    assert bot.deliver(push("acme/weather", "model", sha="1" * 40)).status_code == 202
    eventually(lambda: len(reports(hub, threads)) == 1, what="the review")
    assert "license" in reports(hub, threads)[0]

    assert bot.deliver(push("acme/weather", "model", sha="2" * 40)).status_code == 202
    eventually(lambda: job_status(bot, "2222") == ["done"], what="the second review")
    assert len(reports(hub, threads)) == 1  # the same findings: nothing new

    hub.cards[("model", "acme/weather")] = FINE_CARD
    assert bot.deliver(push("acme/weather", "model", sha="3" * 40)).status_code == 202
    eventually(lambda: len(reports(hub, threads)) == 2, what="all good now")
    assert "All good now" in reports(hub, threads)[1]
    assert len(hub.opened[threads]) == 1


def test_a_card_fine_from_the_start_gets_nothing(bots: Bots, fakes: Fakes) -> None:
    hub = fakes.hub
    hub.repo("model", "acme/tidy")
    hub.cards[("model", "acme/tidy")] = FINE_CARD
    bot = bots.start(REVIEW)

    assert bot.deliver(push("acme/tidy", "model")).status_code == 202

    eventually(lambda: job_status(bot, "acme/tidy") == ["done"], what="the review")
    assert reports(hub, "/api/models/acme/tidy") == []
    assert not [r for r in hub.requests if r.method == "POST" and "discussions" in r.path]


def test_job_mode_runs_the_automations_a_repo_event_sets_off(tmp_path: Path, fakes: Fakes) -> None:
    path = tmp_path / "automations.yaml"
    path.write_text(RETRAIN)
    env = bot_environment(
        tmp_path, fakes, AUTOMATIONS_FILE=str(path), WEBHOOK_PAYLOAD=json.dumps(PUSH), **FAST
    )

    first = run_bot(tmp_path, env, "job")
    again = run_bot(tmp_path, env, "job")

    assert first.returncode == 0, first.stdout + first.stderr
    assert "retrain-on-data: done" in first.stdout
    assert again.returncode == 0 and "duplicate" in again.stdout
    assert len(fakes.hub.started_jobs) == 1
    assert len(reports(fakes.hub)) == 1
    listed = run_bot(tmp_path, env, "jobs", "list")
    assert "retrain-on-data" in listed.stdout and "acme-data/weather" in listed.stdout


def test_killed_after_reporting_but_before_recording_it_reports_nothing_more(
    bots: Bots, fakes: Fakes
) -> None:
    first = bots.start(RETRAIN, BOT_FAULT="die:after-post")
    assert first.deliver(PUSH).status_code == 202
    assert first.process.wait(timeout=30) != 0  # SIGKILL, right after the report
    assert len(reports(fakes.hub)) == 1

    second = bots.start(RETRAIN)

    eventually(lambda: job_status(second, "retrain-on-data") == ["done"], what="the restart")
    assert len(fakes.hub.started_jobs) == 1
    assert len(reports(fakes.hub)) == 1
