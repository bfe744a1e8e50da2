"""Transactions as plain generators of queries, so the store's rules are written once and run
on both backends.

A transaction is a generator that yields `Query` objects and receives each one's result:

    def oldest(now: float) -> Transaction[float | None]:
        row = yield one("SELECT MIN(created_at) FROM jobs WHERE created_at < :now", now=now)
        return row[0] if row else None

The SQLite driver runs the whole generator in its thread, the PostgreSQL driver awaits each
query on one connection; both inside one database transaction, so each yield is one round trip
to a PostgreSQL server. SQL is written once with `:name` parameters; `postgres_sql` turns them
into `$1, $2, ...` for asyncpg. Where the two databases need different words, the SQL has a
`{hole}` that `per_dialect` fills; `{now}` is the database's clock.

Time is the database's, never the process's: leases, retry times and reply windows are written
and compared by one clock however far apart the replicas' clocks are.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Fetch = Literal["one", "all", "count", "many"]
Row = Sequence[Any]


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


# The database's clock, in Unix seconds. PostgreSQL's clock_timestamp() is the time it is read
# (now() would be the transaction's start, before any wait for a lock); SQLite's 'now' is read
# once per statement, to the millisecond.
CLOCK = {
    Dialect.SQLITE: "((julianday('now') - 2440587.5) * 86400.0)",
    Dialect.POSTGRES: "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)",
}


def per_dialect(sql: str, **holes: Mapping[Dialect, str]) -> dict[Dialect, str]:
    """One statement in each dialect's words: `{now}` is the database's clock, and each other
    `{name}` takes that dialect's text from `holes[name]`."""
    said = {}
    for dialect in Dialect:
        text = sql.replace("{now}", CLOCK[dialect])
        for name, words in holes.items():
            text = text.replace(f"{{{name}}}", words[dialect])
        said[dialect] = text
    return said


def sql_list(values: Iterable[StrEnum]) -> str:
    """A fixed set of an enum's values as SQL: `('queued', 'failed')`. Only for enums, whose
    values are the code's own, never for anything received."""
    return "(" + ", ".join(f"'{value.value}'" for value in values) + ")"


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
