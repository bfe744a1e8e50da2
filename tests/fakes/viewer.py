"""A fake of the dataset viewer (datasets-server), shaped after ../shared/HUB_API.md:
`/is-valid`, `/splits` and `/first-rows` for the datasets a test adds, and the viewer's errors
(`{"error", "cause_exception", "cause_message", "cause_traceback"}` with an `X-Error-Code`)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.recorder import Recorder

NOT_FOUND = {"error": "The dataset does not exist, or is not accessible without authentication"}


class FakeViewer(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.datasets: dict[str, dict[str, Any]] = {}  # name -> {"features", "rows"}
        self.failing: dict[
            str, tuple[int, str, dict[str, Any]]
        ] = {}  # name -> (status, code, body)
        self.app = Starlette(
            routes=[
                Route(f"/{name}", self._answer, methods=["GET"])
                for name in ("is-valid", "splits", "first-rows")
            ]
        )

    def add_dataset(self, name: str, rows: list[dict[str, Any]]) -> None:
        """A dataset with one config (`default`) and one split (`train`) holding `rows`."""
        features = [
            {"feature_idx": i, "name": column, "type": {"dtype": "string", "_type": "Value"}}
            for i, column in enumerate(rows[0] if rows else {})
        ]
        self.datasets[name] = {"features": features, "rows": rows}

    def fail(self, name: str, code: str, error: str, cause: str, message: str) -> None:
        """Make the viewer fail for `name` as it does for a dataset it cannot stream."""
        body = {
            "error": error,
            "cause_exception": cause,
            "cause_message": message,
            "cause_traceback": ["Traceback (most recent call last):\n", f"{cause}: {message}\n"],
        }
        self.failing[name] = (500, code, body)

    async def _answer(self, request: Request) -> Response:
        await self.record(request)
        if scripted := self.next_scripted():
            return scripted.response()
        dataset = request.query_params.get("dataset", "")
        route = request.url.path.strip("/")
        if dataset in self.failing and route != "is-valid":
            status, code, body = self.failing[dataset]
            return JSONResponse(body, status, {"X-Error-Code": code})
        if dataset not in self.datasets and dataset not in self.failing:
            return JSONResponse(NOT_FOUND, 404, {"X-Error-Code": "DatasetNotFoundError"})
        if route == "is-valid":
            works = dataset in self.datasets
            return JSONResponse(
                {
                    "viewer": works,
                    "preview": works,
                    "search": works,
                    "filter": works,
                    "statistics": False,
                }
            )
        if route == "splits":
            split = {"dataset": dataset, "config": "default", "split": "train"}
            return JSONResponse({"splits": [split], "pending": [], "failed": []})
        found = self.datasets[dataset]
        rows = [
            {"row_idx": i, "row": row, "truncated_cells": []}
            for i, row in enumerate(found["rows"][:100])
        ]
        return JSONResponse(
            {
                "dataset": dataset,
                "config": "default",
                "split": "train",
                "features": found["features"],
                "rows": rows,
                "truncated": False,
            }
        )
