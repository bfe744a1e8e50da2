"""What the store is told about where it lives and what it may do, by whoever read the
settings (`bot.services.store_options`): the store itself never reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.store.records import Limits


@dataclass(frozen=True)
class StoreOptions:
    """`database_url` set: PostgreSQL there; else SQLite at `sqlite_path`, in `data_dir`.
    `redact` is applied to every reason the store keeps."""

    data_dir: Path
    sqlite_path: Path
    database_url: str | None = field(default=None, repr=False)  # holds the password
    pool_size: int = 8  # PostgreSQL connections: the worker's, plus a few for deliveries
    limits: Limits = field(default_factory=Limits)
    redact: Callable[[str], str] = field(default=str, repr=False)

    @property
    def sqlite_dir(self) -> Path | None:
        """The folder the state lives in, or None when it lives on a PostgreSQL server."""
        return None if self.database_url else self.data_dir
