"""`do: card_review`: check a card's metadata at the pushed revision, and say so once.

The findings go into one discussion per repo ("Card review"), opened the first time there is
something to say. Each review comment carries a marker with a digest of its findings; a later
push adds a comment only when the findings changed, and says "all good now" once they are
fixed. A repo whose card was fine from the start never hears from the bot.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.automations.discussions import Discussions, Spoken, run_marker
from bot.automations.rule import CardReview, Place, Rule
from bot.automations.templates import AutomationTemplates
from bot.events import Identity
from bot.hub.client import HubClient
from bot.store.records import AutomationRun

CARD_BYTES = 64 * 1024  # enough for any card's metadata and the start of its body
CLEAN = "clean"
_DIGEST = re.compile(r"<!-- hub-discussion-bot card-review:([0-9a-f]{16}|clean) -->")
_HEADING = re.compile(r"^#.*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
# The Hub's license identifiers (hub-docs, repositories-licenses.md).
LICENSES = frozenset(
    [
        "apache-2.0",
        "mit",
        "openrail",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "h-research",
        "intel-research",
        "lppl-1.3c",
        "ms-pl",
        "apple-ascl",
        "apple-amlr",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openmdw-1.0",
        "openrail++",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
        "lgpl-lr",
        "deepfloyd-if-license",
        "fair-noncommercial-research-license",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "gemma",
        "unknown",
        "other",
    ]
)
PLACEHOLDERS = ("[More Information Needed]", "<!-- Provide", "{{ ")


def metadata_and_body(card: str) -> tuple[dict[str, Any] | None, str]:
    """The card's YAML front matter (None when it has none or it is not a mapping) and body."""
    found = _FRONT_MATTER.match(card)
    if not found:
        return None, card
    try:
        data = yaml.safe_load(found.group(1))
    except yaml.YAMLError:
        return None, card[found.end() :]
    return (data if isinstance(data, dict) else None), card[found.end() :]


def review(card: str, repo_type: str) -> list[str]:
    """What the card lacks, one sentence each (empty: nothing to say)."""
    meta, body = metadata_and_body(card)
    if meta is None:
        return ["The card has no metadata block (YAML between `---` lines at its top)."]
    findings = []
    license_id = meta.get("license")
    if not license_id:
        findings.append("No `license`: say under which terms the repo may be used.")
    elif not isinstance(license_id, str) or license_id.lower() not in LICENSES:
        findings.append(f"`license: {str(license_id)[:40]}` is not a Hub license id.")
    if not meta.get("language"):
        findings.append("No `language`: list the languages it covers (ISO 639-1 codes).")
    if repo_type == "model":
        for key, why in (
            ("base_model", "the model it was trained from, if any"),
            ("datasets", "the datasets it was trained on"),
            ("pipeline_tag", "its task, so the Hub can show a widget"),
        ):
            if not meta.get(key):
                findings.append(f"No `{key}`: {why}.")
        if "model-index" in meta and not _good_model_index(meta["model-index"]):
            findings.append(
                "`model-index` is not in the Hub's shape (name, results: task, dataset, metrics)."
            )
    prose = _HEADING.sub("", _COMMENT.sub("", body)).strip()
    if len(prose) < 80 or any(mark in body for mark in PLACEHOLDERS):
        findings.append("The card's text is still the template's placeholders, or nearly empty.")
    return findings


def _good_model_index(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    for entry in value:
        results = entry.get("results") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not entry.get("name") or not isinstance(results, list):
            return False
        for result in results:
            if not isinstance(result, dict):
                return False
            task, dataset, metrics = (result.get(k) for k in ("task", "dataset", "metrics"))
            if not isinstance(task, dict) or not task.get("type"):
                return False
            if not isinstance(dataset, dict) or not dataset.get("type") or not dataset.get("name"):
                return False
            if not isinstance(metrics, list) or not all(
                isinstance(m, dict) and m.get("type") and "value" in m for m in metrics
            ):
                return False
    return True


def digest(findings: list[str]) -> str:
    if not findings:
        return CLEAN
    return hashlib.sha256("\n".join(findings).encode()).hexdigest()[:16]


def digest_marker(value: str) -> str:
    return f"<!-- hub-discussion-bot card-review:{value} -->"


@dataclass(frozen=True)
class Reviewed:
    findings: list[str]
    spoken: Spoken | None  # None: nothing needed saying
    why: str


class CardReviewer:
    def __init__(
        self,
        hub: HubClient,
        discussions: Discussions,
        templates: AutomationTemplates,
        endpoint: str,
    ) -> None:
        self._hub = hub
        self._discussions = discussions
        self._templates = templates
        self._endpoint = endpoint

    async def read_card(self, run: AutomationRun) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/"}.get(run.repo_type, "")
        path = f"/{prefix}{run.repo}/resolve/{run.revision}/README.md"
        return await self._hub.read_text(path, "read the card", CARD_BYTES)

    def text(self, run: AutomationRun, findings: list[str]) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/"}.get(run.repo_type, "")
        return self._templates.render(
            "card_review",
            repo=run.repo,
            repo_url=f"{self._endpoint}/{prefix}{run.repo}",
            revision=run.revision,
            findings=findings,
        )

    async def run(self, rule: Rule, run: AutomationRun, bot: Identity) -> Reviewed:
        action = rule.do
        assert isinstance(action, CardReview)
        findings = review(await self.read_card(run), run.repo_type)
        place = Place(run.repo_type, run.repo, action.title)
        where = await self._discussions.find(place, bot)
        now = digest(findings)
        body = f"{self.text(run, findings)}\n\n{digest_marker(now)}"
        if where is None:
            if not findings:
                return Reviewed(findings, None, "the card is fine: nothing to say")
            spoken = await self._discussions.say_once(place, bot, run.key, body)
            return Reviewed(findings, spoken, f"opened the review: {len(findings)} findings")
        comments = await self._discussions.comments(where, bot)
        said = [_DIGEST.search(c.text) for c in comments if c.by_bot]
        last = next((m.group(1) for m in reversed(said) if m), None)
        marker = run_marker(run.key)
        if last == now and not any(marker in c.text for c in comments if c.by_bot):
            return Reviewed(findings, None, "the findings are the same as last time")
        spoken = await self._discussions.say_in(where, bot, marker, f"{body}\n{marker}", comments)
        why = "all good now" if not findings else f"{len(findings)} findings changed"
        return Reviewed(findings, spoken, why)
