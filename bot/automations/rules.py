"""The automations file (AUTOMATIONS_FILE): rules that act on repo events, read and checked
into `Rules` (each rule's parts are bot.automations.rule; the checks, rule_reader.py).

    rules:
      - name: retrain-on-data
        on: {repo_type: dataset, repos: ["acme-data/*"], event: push}
        do: {run_job: {image: python:3.12, command: [python, train.py], ...}}

Every problem is found in one pass and reported together, each naming the rule and the key,
so an operator fixes the file once. YAML 1.1 readers take the bare key `on` for the boolean
true: both spellings are accepted, as the file is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.automations.rule import Rule, RunJob
from bot.automations.rule_reader import RuleReader
from bot.errors import BotError


class AutomationsError(BotError):
    """The automations file cannot be used; one line per problem (`problems`)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        lines = "".join(f"\n  {problem}" for problem in problems)
        super().__init__(f"AUTOMATIONS_FILE {path}:{lines}")

    def one_line(self) -> str:
        return "; ".join(self.problems)


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...] = ()
    source: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.rules)

    def named(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    @property
    def secret_names(self) -> tuple[str, ...]:
        names = (n for rule in self.rules if isinstance(rule.do, RunJob) for n in rule.do.secrets)
        return tuple(dict.fromkeys(names))


def load_rules(path: Path | None) -> Rules:
    """The rules in `path` (none when None). Raises AutomationsError listing every problem."""
    if path is None:
        return Rules()
    import yaml  # here: at the top it costs every start ~10 ms and a MiB, file or not

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AutomationsError(path, [f"cannot read it ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise AutomationsError(path, [f"not YAML{line}"]) from None
    reader = RuleReader()
    rules = reader.file(raw)
    if reader.problems:
        raise AutomationsError(path, reader.problems)
    return Rules(tuple(rules), path)
