"""The dataset viewer (DATASET_VIEWER_URL, its own host): whether it works for a dataset, the
splits, a few first rows cut to budget, and, when it fails, its own error and cause.

    GET /is-valid?dataset=          {viewer, preview, search, filter, statistics}
    GET /splits?dataset=            {splits: [{dataset, config, split}]}
    GET /first-rows?dataset=&config=&split=   {features, rows: [{row_idx, row, truncated_cells}]}
    errors: non-2xx {error, cause_exception, cause_message, cause_traceback}, X-Error-Code

The client carries the bot's token (gated and private datasets need it) and follows
redirects; httpx drops the Authorization header on a redirect to another origin, so the token
reaches no host but DATASET_VIEWER_URL's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.answer.context import as_dict
from bot.errors import UpstreamError
from bot.sources.found import WEB, Found, Unread
from bot.upstream import CallLimits, fetch
from bot.upstream_json import json_body

SERVICE = "dataset viewer"
VIEWER_CHARS = 2500
ROWS_SHOWN = 3
CELL_CHARS = 200


def page(dataset: str) -> str:
    return f"{WEB}/datasets/{dataset}/viewer"


class ViewerError(Exception):
    """The viewer answered with its own error: shown to the model, it is the answer."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Viewer:
    def __init__(self, http: httpx.AsyncClient, limits: CallLimits) -> None:
        """`http` has DATASET_VIEWER_URL as base_url and the token as a default header."""
        self._http = http
        self._limits = limits

    async def _get(self, path: str, **query: str) -> dict[str, Any]:
        response = await fetch(
            self._http,
            "GET",
            f"{path}?{urlencode(query)}",
            self._limits,
            SERVICE,
            "check DATASET_VIEWER_URL",
            follow_redirects=True,
        )
        if response.is_success:
            return as_dict(json_body(response, SERVICE))
        try:
            body = as_dict(response.json())
        except ValueError:
            body = {}
        if not body.get("error"):
            raise UpstreamError(SERVICE, response.status_code, f"HTTP {response.status_code}")
        raise ViewerError(_error_text(response, body))

    async def status(self, dataset: str) -> str:
        """One line for the facts sheet: does the viewer work for this dataset."""
        try:
            valid = await self._get("/is-valid", dataset=dataset)
        except ViewerError as exc:
            return f"not working ({exc.text[:150]})"
        works = [k for k in ("viewer", "preview", "search", "filter", "statistics") if valid.get(k)]
        return f"works ({', '.join(works)})" if works else "not available for this dataset"

    async def read(self, dataset: str) -> Found:
        """Splits and first rows, or the viewer's own error; Unread when it cannot be asked."""
        try:
            text = await self._describe(dataset)
        except UpstreamError as exc:
            why = f"HTTP {exc.status}" if exc.status else exc.detail[:100]
            raise Unread("the dataset viewer", why) from None
        return Found("viewer", "dataset viewer", page(dataset), text)

    async def _describe(self, dataset: str) -> str:
        try:
            splits = await self._get("/splits", dataset=dataset)
        except ViewerError as exc:
            return f"The dataset viewer fails for this dataset.\n{exc.text}"
        listed = [as_dict(s) for s in splits.get("splits") or []]
        names = [f"{s.get('config')}/{s.get('split')}" for s in listed]
        lines = [f"Splits (config/split): {', '.join(names[:20]) or 'none'}"]
        if not listed:
            return lines[0]
        first = listed[0]
        config, split = str(first.get("config")), str(first.get("split"))
        try:
            rows = await self._get("/first-rows", dataset=dataset, config=config, split=split)
        except ViewerError as exc:
            return "\n".join([*lines, f"The viewer fails on {config}/{split}.", exc.text])
        features = [str(as_dict(f).get("name")) for f in rows.get("features") or []]
        lines.append(f"Columns of {config}/{split}: {', '.join(features[:40])}")
        for entry in (rows.get("rows") or [])[:ROWS_SHOWN]:
            entry = as_dict(entry)
            row = as_dict(entry.get("row"))
            cells = ", ".join(f"{k}: {_cell(v)}" for k, v in list(row.items())[:20])
            lines.append(f"Row {entry.get('row_idx')}: {cells}")
        return "\n".join(lines)


def _cell(value: object) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= CELL_CHARS else shown[:CELL_CHARS] + "..."


def _error_text(response: httpx.Response, body: dict[str, Any]) -> str:
    code = response.headers.get("x-error-code")
    parts = [f"Error{f' ({code})' if code else ''}: {str(body.get('error'))[:400]}"]
    if body.get("cause_exception") or body.get("cause_message"):
        cause = f"{body.get('cause_exception') or ''}: {body.get('cause_message') or ''}"
        parts.append(f"Cause: {cause.strip(': ')[:600]}")
    trace = body.get("cause_traceback")
    if isinstance(trace, list) and trace:
        parts.append(
            "Traceback (last lines): " + " | ".join(str(t).strip() for t in trace[-3:])[:600]
        )
    return "\n".join(parts)
