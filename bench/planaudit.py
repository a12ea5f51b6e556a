"""The statements the tests make SQLite run, and those whose plan reads a whole table:
``python -m bench.planaudit [pytest arguments]``.

Why: two lookups read the whole ``messages`` table unnoticed for weeks — slow mode's
last message of an author, and the replies of a deleted message (docs/performance.md,
findings 33 and 35) — because the tests' small databases answer anything at once. This
runs the tests in this process with SQLite's trace callback on every connection
(SQLAlchemy's and the direct writer's), keeps one example of each distinct statement,
then reads each with ``EXPLAIN QUERY PLAN`` on a freshly migrated database. SQLite is
never ``ANALYZE``d here, so its plans don't depend on the data: an empty database shows
the plans a full one gets. It prints the statements whose plan scans a table or sorts
without an index, grouped by table. A diagnostic, not a test: most of what it prints
reads small tables (groups, rooms, the admin's lists) or is a test's own check.

``--backend postgres`` does the same for PostgreSQL, which plans by its statistics:
it records what the tests' PostgreSQL runs give asyncpg (``TEST_DATABASE_URL``; by
default the tests marked ``production``), then reads each statement's *generic* plan —
the one the hot writes' kept connections always use, and the one any prepared statement
may settle on (finding 30) — on a copy of the bench's seed of a million messages, its
log grown to match, analysed. It prints the plans that read a table of ``--min-rows``
rows or more whole (a sequential scan, an index walked without a condition) or sort as
many rows. A generic plan is the worst case: a statement run with its own values may
still get a better one (finding 37 says which of them mattered).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import server.database as database_module
from bench.run import DEFAULT_PG
from bench.seed import SeedCache, Sizes
from bench.servers import ROOT
from server.cli import migrate
from server.config import Settings

DEFAULT_TESTS = ("tests/server", "tests/rooms", "tests/documents", "tests/auth")
_STATEMENTS = ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT")
_SCAN = re.compile(r"^SCAN (\w+)")


def shape(sql: str) -> str:
    """``sql`` with its values as ``?``: one entry per statement, whatever its values."""
    sql = " ".join(sql.split())
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql)
    return re.sub(r"\?(?:, \?)+", "?", sql)


class Recorder:
    """One example, with its values, of each distinct statement SQLite was given."""

    def __init__(self) -> None:
        self.statements: dict[str, str] = {}

    def record(self, sql: str) -> None:
        if sql.lstrip()[:6].upper().startswith(_STATEMENTS):
            self.statements.setdefault(shape(sql), sql)

    def attach(self, connection: Any) -> None:
        """Trace ``connection``: an ``sqlite3`` connection, or SQLAlchemy's aiosqlite
        adapter around one."""
        raw = _sqlite3_of(connection)
        if raw is not None:
            raw.set_trace_callback(self.record)

    def install(self) -> Callable[[], None]:
        """Trace every SQLite connection opened from now on in this process; returns
        what stops it."""
        plain = database_module.set_sqlite_pragmas

        def traced(connection: Any) -> None:
            plain(connection)
            self.attach(connection)

        database_module.set_sqlite_pragmas = traced

        def uninstall() -> None:
            database_module.set_sqlite_pragmas = plain

        return uninstall


def _sqlite3_of(connection: Any) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection inside the adapters (SQLAlchemy's, aiosqlite's)."""
    todo, seen = [connection], set()
    while todo:
        current = todo.pop()
        if isinstance(current, sqlite3.Connection):
            return current
        if id(current) in seen:
            continue
        seen.add(id(current))
        for attribute in ("_connection", "_conn"):
            inner = getattr(current, attribute, None)
            if inner is not None:
                todo.append(inner)
    return None


def flagged(statements: Iterable[str], database: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """The statements whose plan on ``database`` scans a table or sorts in a temporary
    tree, by the table scanned (``""``: a sort only), with their plan."""
    found: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    connection = sqlite3.connect(database)
    try:
        for sql in statements:
            try:
                plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]
            except sqlite3.Error:
                continue  # a test's own table, or a statement of another schema
            scanned = {m.group(1) for step in plan if (m := _SCAN.match(step))}
            scanned -= {"CONSTANT", "sqlite_master", "sqlite_temp_master"}  # not tables
            if scanned:
                for table in sorted(scanned):
                    found[table].append((shape(sql), plan))
            elif any("TEMP B-TREE" in step for step in plan):
                found[""].append((shape(sql), plan))
    finally:
        connection.close()
    return dict(found)


# -- PostgreSQL: the generic plans -----------------------------------------------------
# A scan that reads a whole table, or an index walked without a condition.
_FULL_SCANS = ("Seq Scan", "Index Scan", "Index Only Scan")
_PARAMETER = re.compile(r"\$(\d+)")


class PostgresRecorder(Recorder):
    """One example of each distinct statement given to asyncpg: SQLAlchemy's
    (through its asyncpg adapter) and the hot writes' kept connections alike, since
    both have asyncpg prepare it (``Connection._get_statement``)."""

    def install(self) -> Callable[[], None]:
        """Record from now on, in this process; returns what puts asyncpg back."""
        plain = asyncpg.connection.Connection._get_statement
        record = self.record

        async def recorded(connection: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            record(query)
            return await plain(connection, query, *args, **kwargs)

        asyncpg.connection.Connection._get_statement = recorded  # type: ignore[method-assign]

        def uninstall() -> None:
            asyncpg.connection.Connection._get_statement = plain  # type: ignore[method-assign]

        return uninstall


async def generic_plan(connection: asyncpg.Connection, sql: str) -> dict[str, Any] | None:
    """The plan PostgreSQL keeps for ``sql`` once it plans it generically — as it does on
    the hot writes' kept connections, and for any prepared statement whose custom plans
    it judges no better (docs/performance.md, finding 30). ``None``: it cannot be
    prepared here (a test's own table, a parameter of unknown type)."""
    count = max((int(n) for n in _PARAMETER.findall(sql)), default=0)
    arguments = f"({', '.join(['NULL'] * count)})" if count else ""
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE planaudit AS {sql}")
            try:
                text = await connection.fetchval(
                    f"EXPLAIN (FORMAT JSON) EXECUTE planaudit{arguments}"
                )
            finally:
                await connection.execute("DEALLOCATE planaudit")
    except asyncpg.PostgresError:
        return None
    plan = json.loads(text) if isinstance(text, str) else text
    return dict(plan[0]["Plan"])


def whole_reads(
    plan: dict[str, Any], rows: dict[str, float], min_rows: float
) -> list[tuple[str, str]]:
    """What in ``plan`` reads a table of at least ``min_rows`` rows (``rows``: by table)
    whole: a sequential scan, or an index walked without a condition while filtering
    (as slow mode's lookup did, finding 33) or without a ``LIMIT`` above it; and a sort
    of at least ``min_rows`` rows. Each as (the table, ``""`` for a sort; what reads it)."""
    found: list[tuple[str, str]] = []

    def visit(node: dict[str, Any], limited: bool) -> None:
        kind = node.get("Node Type", "")
        table = node.get("Relation Name")
        big = table is not None and rows.get(table, 0) >= min_rows
        if big and kind == "Seq Scan":
            found.append((table, f"{kind} on {table}"))
        elif (
            big
            and kind in _FULL_SCANS
            and "Index Cond" not in node
            and ("Filter" in node or not limited)
        ):
            index = node.get("Index Name")
            found.append((table, f"{kind} using {index} on {table}, without a condition"))
        elif kind in ("Sort", "Incremental Sort") and node.get("Plan Rows", 0) >= min_rows:
            found.append(("", f"{kind} of {node.get('Plan Rows')} rows by {node.get('Sort Key')}"))
        for child in node.get("Plans", ()):
            visit(child, limited or kind == "Limit")

    visit(plan, False)
    return found


async def table_rows(connection: asyncpg.Connection) -> dict[str, float]:
    """The planner's estimate of each table's rows (after ``ANALYZE``)."""
    return {
        str(name): float(count)
        for name, count in await connection.fetch(
            "SELECT relname, reltuples FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
    }


async def flagged_postgres(
    connection: asyncpg.Connection,
    statements: Iterable[str],
    rows: dict[str, float],
    min_rows: float,
) -> tuple[dict[str, list[tuple[str, list[str]]]], int]:
    """The statements whose generic plan on ``connection``'s database reads a table of
    ``min_rows`` rows or more (``rows``: :func:`table_rows`) whole, by table (``""``: a
    big sort only); and how many could not be prepared."""
    found: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    unplanned = 0
    for sql in statements:
        plan = await generic_plan(connection, sql)
        if plan is None:
            unplanned += 1
            continue
        reads = whole_reads(plan, rows, min_rows)
        tables = {table for table, _ in reads if table}
        for table in sorted(tables) or ([""] if reads else []):
            found[table].append((shape(sql), [what for _, what in reads]))
    return dict(found), unplanned


# The bench's seed has a million messages but events for only ten thousand of them (its
# history room needs none); an assembly's log grows with its messages.
_EVENTS_FOR_MESSAGES = """
INSERT INTO room_events (room_id, seq, type, message_id, data, created_at)
SELECT m.room_id, m.seq, 'message.posted', m.id, '{}', m.created_at FROM messages AS m
WHERE NOT EXISTS (SELECT 1 FROM room_events AS e WHERE e.room_id = m.room_id AND e.seq = m.seq)
"""
AUDIT_COPY = "planaudit"


async def audit_postgres(
    statements: Iterable[str], var: Path, admin_url: str, min_rows: float
) -> tuple[dict[str, list[tuple[str, list[str]]]], int, dict[str, float]]:
    """:func:`flagged_postgres` on a copy of the bench's full seed (built if missing,
    ``python -m bench``'s), its log grown to one event per message, then analysed."""
    seeds = SeedCache(var, Sizes(), pg_admin_url=admin_url)
    await seeds.world("postgres")
    url = await seeds.fresh_copy("postgres", AUDIT_COPY)
    try:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await connection.execute(_EVENTS_FOR_MESSAGES)
            await connection.execute("ANALYZE")
            rows = await table_rows(connection)
            found, unplanned = await flagged_postgres(connection, statements, rows, min_rows)
        finally:
            await connection.close()
    finally:
        await seeds.drop_copy("postgres", AUDIT_COPY)
    return found, unplanned, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.planaudit", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("pytest_args", nargs="*")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="postgres: the tests' PostgreSQL runs (TEST_DATABASE_URL), read in their "
        "generic plans on a copy of the bench's seed",
    )
    parser.add_argument("--min-rows", type=float, default=10_000, help="postgres: a big table")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--var", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args(argv)
    tests = args.pytest_args or list(DEFAULT_TESTS)
    recorder: Recorder
    if args.backend == "postgres":
        if not os.environ.get("TEST_DATABASE_URL"):
            parser.error("set TEST_DATABASE_URL: the tests' PostgreSQL runs are what is read")
        recorder = PostgresRecorder()
        if not args.pytest_args:
            tests = ["-m", "production", *tests]
    else:
        recorder = Recorder()
    stop = recorder.install()
    # This process imported the application (and anyio) before pytest could rewrite
    # their asserts: say so quietly rather than as the error the project's settings make.
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    code = pytest.main(["-q", "-p", "no:cacheprovider", *quiet, *tests])
    stop()  # the audit's own statements are not the application's
    if args.backend == "postgres":
        found, unplanned, rows = asyncio.run(
            audit_postgres(recorder.statements.values(), Path(args.var), args.pg_url, args.min_rows)
        )
        big = ", ".join(
            f"{table} {count:,.0f}"
            for table, count in sorted(rows.items(), key=lambda r: -r[1])
            if count >= args.min_rows
        )
        print(f"\n{len(recorder.statements)} distinct statements ({unplanned} not prepared here);")
        print(f"tables of {args.min_rows:,.0f} rows or more: {big}")
        print("generic plans that read one of them whole, or sort as many rows:")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            database = Path(tmp) / "plans.db"
            migrate(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
            found = flagged(recorder.statements.values(), database)
        print(f"\n{len(recorder.statements)} distinct statements; plans that read a whole table:")
    for table in sorted(found, key=lambda t: (t == "", t)):
        print(f"\n## {table or '(sorted without an index)'}")
        for sql, plan in found[table]:
            print(f"- {sql[:300]}")
            for step in plan:
                print(f"    {step}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
