"""The evaluation results the card declares: its `model-index` (task, dataset, metric,
value), from the repo's facts (cardData): no extra Hub call."""

from __future__ import annotations

from bot.answer.context import RepoFacts, as_dict
from bot.sources.found import Found, Unread, Where

EVALUATION_CHARS = 1500


def results(facts: RepoFacts) -> list[str]:
    """One line per reported metric: `task on dataset: metric = value`."""
    lines = []
    index = as_dict(facts.details.get("cardData")).get("model-index")
    for entry in index if isinstance(index, list) else []:
        for result in as_dict(entry).get("results") or []:
            result = as_dict(result)
            task = as_dict(result.get("task"))
            dataset = as_dict(result.get("dataset"))
            where = dataset.get("name") or dataset.get("type") or "an unnamed dataset"
            split = f" ({dataset['split']})" if isinstance(dataset.get("split"), str) else ""
            doing = task.get("name") or task.get("type") or "a task"
            for metric in result.get("metrics") or []:
                metric = as_dict(metric)
                name = metric.get("name") or metric.get("type")
                if name is not None and metric.get("value") is not None:
                    lines.append(f"{doing} on {where}{split}: {name} = {metric['value']}")
    return lines


def read(facts: RepoFacts, where: Where) -> Found:
    lines = results(facts)
    if not lines:
        raise Unread("the evaluation results", "the card declares no model-index")
    return Found(
        "evaluation", "evaluation results (model card)", where.blob("README.md"), "\n".join(lines)
    )
