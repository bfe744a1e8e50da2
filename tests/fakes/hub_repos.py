"""The fake Hub's repos: facts (with `expand[]`), cards and other files (with Range), paths-info
(size and LFS), a Space's runtime, which providers serve a model, and the model listing."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.hub_common import UNAUTHORISED, HubBase, user_id


class RepoRoutes(HubBase):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.repos: dict[tuple[str, str], dict[str, Any]] = {}  # (type, name) -> its facts
        self.cards: dict[tuple[str, str], str] = {}  # (type, name) -> README.md
        self.files: dict[tuple[str, str], dict[str, bytes]] = {}  # (type, name) -> path -> bytes
        self.lfs: dict[tuple[str, str], dict[str, int]] = {}  # LFS files: path -> size
        # Files a pull request adds or changes: (type, name, num) -> path -> bytes; served at
        # refs/pr/N only, never at the default branch.
        self.pr_files: dict[tuple[str, str, int], dict[str, bytes]] = {}
        self.runtimes: dict[str, dict[str, Any]] = {}  # Space name -> its runtime
        self.mapping_as_list = False  # answer inferenceProviderMapping as the listing does

    def serve_model(
        self,
        model: str,
        provider: str,
        task: str,
        *,
        provider_id: str | None = None,
        status: str = "live",
        likes: int = 0,
    ) -> None:
        """Register `model` as served by `provider` for `task` (text-generation, conversational);
        `status` may be live, staging or error, as the Hub's health checks set it."""
        entry = self.add_model(model, likes=likes)
        entry["inferenceProviderMapping"][provider] = {
            "status": status,
            "providerId": provider_id or model,
            "task": task,
            "isModelAuthor": False,
        }

    def add_model(self, model: str, *, likes: int = 0) -> dict[str, Any]:
        """A model that exists on the Hub (served by nobody until `serve_model`)."""
        entry = self.repo("model", model)
        entry.setdefault("inferenceProviderMapping", {})
        entry["likes"] = likes
        return entry

    def repo(self, kind: str, name: str, **facts: Any) -> dict[str, Any]:
        """A repo's facts as the repo-info route gives them. Every repo exists, with a few
        facts and a small card, unless a test says otherwise."""
        entry = self.repos.setdefault(
            (kind, name),
            {
                "_id": user_id(f"{kind}/{name}"),
                "id": name,
                "sha": hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest(),
                "lastModified": "2026-11-01T10:00:00.000Z",
                "likes": 3,
                "tags": [],
                "cardData": {},
                "siblings": [{"rfilename": "README.md"}],
                **({"pipeline_tag": "text-generation"} if kind == "model" else {}),
            },
        )
        entry.update(facts)
        self.cards.setdefault((kind, name), f"# {name}\n\nA repo for tests.")
        return entry

    def add_file(
        self, kind: str, name: str, path: str, content: str | bytes = b"", *, lfs_size: int = 0
    ) -> None:
        """A file in a repo (listed in its siblings); `lfs_size` makes it an LFS file."""
        entry = self.repo(kind, name)
        if path not in [s["rfilename"] for s in entry["siblings"]]:
            entry["siblings"].append({"rfilename": path})
        data = content.encode() if isinstance(content, str) else content
        self.files.setdefault((kind, name), {})[path] = data
        if lfs_size:
            self.lfs.setdefault((kind, name), {})[path] = lfs_size

    def add_pr_file(self, kind: str, name: str, num: int, path: str, content: str) -> None:
        """A file as pull request `num` has it (at refs/pr/N), not on the default branch."""
        self.repo(kind, name)
        self.pr_files.setdefault((kind, name, num), {})[path] = content.encode()

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return {name: facts for (kind, name), facts in self.repos.items() if kind == "model"}

    async def repo_info(self, request: Request) -> Response:
        """A repo's facts, only the `expand[]`ed fields (and its id); routing asks about models
        (scripted as "model"), context about any repo (scripted as "repo")."""
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        kind = request.path_params["kind"].removesuffix("s")
        expand = request.query_params.getlist("expand[]")
        if scripted := self.scripted(request, "model" if "inference" in expand else "repo"):
            return scripted.response()
        name = request.path_params["repo"]
        found = self.repos.get((kind, name))
        if found is None and "inference" in expand:
            return JSONResponse({"error": "Repository not found"}, 404)  # not a known model
        found = found or self.repo(kind, name)
        shown = {"_id": found["_id"], "id": found["id"]}
        for field in expand:
            if field == "inference":
                if _live(found):
                    shown["inference"] = "warm"
            elif field == "inferenceProviderMapping" and self.mapping_as_list:
                mapping = found.get(field, {})
                shown[field] = [{"provider": p, **entry} for p, entry in mapping.items()]
            elif field in found:
                shown[field] = found[field]
        return JSONResponse(shown)

    async def resolve(self, request: Request) -> Response:
        """A file at a revision: the card, honouring a Range request as the Hub does."""
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "card"):
            return scripted.response()
        kind = {"datasets": "dataset", "spaces": "space"}.get(
            request.path_params.get("kind", ""), "model"
        )
        name = f"{request.path_params['namespace']}/{request.path_params['name']}"
        if (kind, name) not in self.repos:
            self.repo(kind, name)  # every repo exists, with its card
        path, in_pr = request.path_params["path"], None
        if request.path_params["rev"] == "refs" and path.startswith("pr/"):
            _, num, path = path.split("/", 2)  # refs%2Fpr%2FN, decoded before routing
            in_pr = self.pr_files.get((kind, name, int(num)), {}).get(path)
        text = self.cards.get((kind, name)) if path == "README.md" else None
        data = text.encode() if text is not None else self.files.get((kind, name), {}).get(path)
        data = in_pr if in_pr is not None else data
        if data is None:
            return JSONResponse({"error": "Entry not found"}, 404)
        wanted = request.headers.get("range", "")
        if (
            wanted.startswith("bytes=0-")
            and wanted[8:].isdigit()
            and int(wanted[8:]) + 1 < len(data)
        ):
            end = int(wanted[8:])
            headers = {"Content-Range": f"bytes 0-{end}/{len(data)}"}
            return Response(data[: end + 1], 206, headers, media_type="text/markdown")
        return Response(data, 200, media_type="text/markdown")

    async def paths_info(self, request: Request) -> Response:
        """Which of the asked paths exist at a revision, with size, oid and (for LFS) the
        pointer's size, as the Hub's OpenAPI description has it."""
        entry = await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "paths-info"):
            return scripted.response()
        kind = request.path_params["kind"].removesuffix("s")
        name = f"{request.path_params['namespace']}/{request.path_params['name']}"
        asked = entry.body.get("paths", []) if isinstance(entry.body, dict) else []
        files, lfs = self.files.get((kind, name), {}), self.lfs.get((kind, name), {})
        found = []
        for path in [asked] if isinstance(asked, str) else asked:
            if path in files:
                oid = hashlib.sha1(files[path], usedforsecurity=False).hexdigest()
                info: dict[str, Any] = {"type": "file", "oid": oid, "path": path}
                info["size"] = lfs.get(path, len(files[path]))
                if path in lfs:
                    info["lfs"] = {"pointerSize": 134}
                found.append(info)
        return JSONResponse(found)

    async def runtime(self, request: Request) -> Response:
        """A Space's runtime: running on cpu-basic unless a test set another."""
        await self.record(request)
        if not self.authorised(request):
            return JSONResponse(UNAUTHORISED, 401)
        if scripted := self.scripted(request, "runtime"):
            return scripted.response()
        name = f"{request.path_params['namespace']}/{request.path_params['name']}"
        return JSONResponse(
            self.runtimes.get(name)
            or {
                "stage": "RUNNING",
                "hardware": {"current": "cpu-basic", "requested": "cpu-basic"},
                "storage": None,
                "gcTimeout": 172800,
                "replicas": {"current": 1, "requested": 1},
            }
        )

    async def model_listing(self, request: Request) -> Response:
        await self.record(request)
        query = request.query_params
        found = list(self.models.values())
        if query.get("inference_provider") == "all":
            found = [m for m in found if _live(m)]
        if tag := query.get("pipeline_tag"):
            found = [m for m in found if m.get("pipeline_tag") == tag]
        if query.get("sort") == "likes":
            found.sort(key=lambda m: m["likes"], reverse=True)
        limit = int(query.get("limit", "1000"))
        return JSONResponse(
            [{k: m[k] for k in ("_id", "id", "likes", "pipeline_tag")} for m in found[:limit]]
        )


def _live(model: dict[str, Any]) -> bool:
    return any(e["status"] == "live" for e in model["inferenceProviderMapping"].values())
