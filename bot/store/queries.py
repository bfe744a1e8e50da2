"""Transactions as plain generators of queries, so the store's rules are written once and run
on both backends.

A transaction is a generator that yields `Query` objects and receives each one's result:

    def oldest(now: float) -> Transaction[float | None]:
        row = yield one("SELECT MIN(created_at) FROM jobs WHERE created_at < :now", now=now)
        return row[0] if row else None

The SQLite driver runs the whole generator in its thread, the PostgreSQL driver awaits each
query on one connection; both inside one database transaction. SQL is written once with
`:name` parameters; `postgres_sql` turns them into `$1, $2, ...` for asyncpg.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Fetch = Literal["one", "all", "count", "many"]
Row = Sequence[Any]


@dataclass(frozen=True)
class Query:
    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)
    fetch: Fetch = "count"
    batch: Sequence[Mapping[str, Any]] = ()  # for "many": one parameter set per execution


Transaction = Generator[Query, Any, T]


def one(sql: str, **params: Any) -> Query:
    """The first row (a tuple), or None."""
    return Query(sql, params, "one")


def rows(sql: str, **params: Any) -> Query:
    """Every row, as tuples."""
    return Query(sql, params, "all")


def run(sql: str, **params: Any) -> Query:
    """No rows; the number of rows changed."""
    return Query(sql, params, "count")


def many(sql: str, batch: Sequence[Mapping[str, Any]]) -> Query:
    """One statement, executed once per parameter set."""
    return Query(sql, {}, "many", batch)


def drive(transaction: Transaction[T], execute: Callable[[Query], Any]) -> T:
    """Run a transaction with a blocking `execute` (SQLite, in its thread)."""
    try:
        query = next(transaction)
        while True:
            query = transaction.send(execute(query))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def drive_async(transaction: Transaction[T], execute: Callable[[Query], Awaitable[Any]]) -> T:
    """Run a transaction with an awaitable `execute` (PostgreSQL)."""
    try:
        query = next(transaction)
        while True:
            query = transaction.send(await execute(query))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@lru_cache(maxsize=256)
def postgres_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters as asyncpg's `$n`, and the names in `$n` order (a name used twice
    keeps one number)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAMETER.sub(number, sql), tuple(names)
