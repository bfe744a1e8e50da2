"""What the bot's token may do on the Hub, read from `GET /api/whoami-v2`.

A classic token is `read` or `write`. A fine-grained token lists permissions twice: `global`
ones hold on every repo the account can see; a `scoped` entry holds only on the entity it
names (a user or an organisation: the repos in that namespace; a model, dataset or Space: that
repo). So a token that may write discussions only in the bot's own namespace cannot answer in
anybody else's repo, however its permissions add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DISCUSSIONS = "discussion.write"
INFERENCE = "inference.serverless.write"
WEBHOOKS_READ, WEBHOOKS_WRITE = "user.webhooks.read", "user.webhooks.write"
_REPO_ENTITIES = ("model", "dataset", "space")


@dataclass(frozen=True)
class Scope:
    kind: str  # user, org, model, dataset or space
    name: str  # a namespace, or a repo's ns/name
    permissions: frozenset[str]


@dataclass(frozen=True)
class TokenRights:
    role: str | None  # read, write, fineGrained (None: the Hub did not say)
    everywhere: frozenset[str] = frozenset()  # a fine-grained token's global permissions
    scopes: tuple[Scope, ...] = field(default=())

    @property
    def fine_grained(self) -> bool:
        return self.role == "fineGrained"

    def may(self, permission: str, repo: str | None = None) -> bool:
        """Whether the token holds `permission` on `repo` (ns/name, or a glob such as ns/*);
        without a repo, as the account itself (calling Inference Providers, managing its
        webhooks: the Hub scopes those to the user entity)."""
        if self.role in ("write", "god"):
            return True
        if not self.fine_grained:
            return False
        if permission in self.everywhere:
            return True
        return any(
            self._covers(scope, repo) for scope in self.scopes if permission in scope.permissions
        )

    def may_somewhere(self, permission: str) -> bool:
        return self.may(permission) or any(permission in s.permissions for s in self.scopes)

    @staticmethod
    def _covers(scope: Scope, repo: str | None) -> bool:
        if repo is None:
            return scope.kind in ("user", "org")
        namespace = repo.partition("/")[0]
        if "*" in namespace or "?" in namespace or "[" in namespace:
            return False  # a glob over namespaces: only a global permission covers it
        if scope.kind in ("user", "org"):
            return scope.name.lower() == namespace.lower()
        return scope.kind in _REPO_ENTITIES and scope.name.lower() == repo.lower()


def rights_of(whoami: object) -> TokenRights:
    """The rights whoami-v2 describes; anything malformed reads as no right at all."""
    auth = whoami.get("auth") if isinstance(whoami, dict) else None
    token = auth.get("accessToken") if isinstance(auth, dict) else None
    if not isinstance(token, dict):
        return TokenRights(None)
    role = token.get("role")
    fine = token.get("fineGrained")
    if not isinstance(fine, dict):
        return TokenRights(role if isinstance(role, str) else None)
    scopes = tuple(
        scope for entry in _listed(fine.get("scoped")) if (scope := _scope(entry)) is not None
    )
    return TokenRights("fineGrained", _permissions(fine.get("global")), scopes)


def _scope(entry: Any) -> Scope | None:
    if not isinstance(entry, dict):
        return None
    entity = entry.get("entity")
    if not isinstance(entity, dict):
        return None
    kind, name = entity.get("type"), entity.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    return Scope(kind, name, _permissions(entry.get("permissions")))


def _permissions(raw: object) -> frozenset[str]:
    return frozenset(p for p in _listed(raw) if isinstance(p, str))


def _listed(raw: object) -> list[Any]:
    return raw if isinstance(raw, list) else []
