"""The Hub's own OpenAPI description (https://huggingface.co/.well-known/openapi.json, copied in
tests/fixtures/hub-openapi.json), checked by openapi-core against every exchange with the fake
Hub on the routes it covers (discussions, comments, webhooks, whoami, file resolve): what the
bot sends, and what the fake answers. A fake that drifts from the real Hub fails the suite.

Two readings make the description usable as published. It is not checked as a document (it
declares a parameter twice, which a strict checker refuses). And its intersections (`allOf`,
as zod writes `a.and(b)`) list members that each forbid additional properties, which no object
could satisfy under JSON Schema; the members of an intersection are read as open, as zod does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

SPEC = Path(__file__).resolve().parent.parent / "fixtures" / "hub-openapi.json"
HOST = "https://huggingface.co"


def _open_members(schema: Any) -> None:
    """Drop `additionalProperties: false` from a schema and its alternatives (not from the
    objects nested in its properties)."""
    if not isinstance(schema, dict):
        return
    if schema.get("additionalProperties") is False:
        del schema["additionalProperties"]
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            _open_members(member)


def _read_intersections_as_open(node: Any) -> None:
    if isinstance(node, dict):
        for member in node.get("allOf", []):
            _open_members(member)
        for value in node.values():
            _read_intersections_as_open(value)
    elif isinstance(node, list):
        for value in node:
            _read_intersections_as_open(value)


@lru_cache(maxsize=1)
def hub_openapi() -> OpenAPI:
    document = json.loads(SPEC.read_text())
    _read_intersections_as_open(document)
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def violations(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    status: int,
    answer: bytes | None,
    answer_type: str,
) -> list[str]:
    """What is wrong with one exchange by the Hub's description; [] when the route is not one
    it covers. `answer` None skips the answer (a test scripted it to be wrong on purpose)."""
    request = MockRequest(
        HOST, method.lower(), path, args=query, headers=headers, data=body or None,
        content_type=headers.get("content-type", "application/json").split(";")[0],
    )  # fmt: skip
    found = []
    try:
        hub_openapi().validate_request(request)
    except PathNotFound:
        return []
    except Exception as exc:  # any refusal is a finding, named for the test's message
        found.append(f"request {method} {path}: {_said(exc)}")
    if answer is not None and answer_type.startswith("application/json"):
        response = MockResponse(answer, status_code=status, content_type="application/json")
        try:
            hub_openapi().validate_response(request, response)
        except ResponseNotFound:
            pass  # a status the description does not document (a 401): it cannot judge
        except Exception as exc:
            found.append(f"answer {status} to {method} {path}: {_said(exc)}")
    return found


def _said(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    details = getattr(cause, "schema_errors", None)
    if details:
        return "; ".join(str(getattr(e, "message", e))[:300] for e in details)
    return f"{type(cause).__name__}: {cause}"[:600]
