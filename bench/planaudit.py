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
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import server.database as database_module
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

    def install(self) -> None:
        """Trace every SQLite connection opened from now on in this process."""
        plain = database_module.set_sqlite_pragmas

        def traced(connection: Any) -> None:
            plain(connection)
            self.attach(connection)

        database_module.set_sqlite_pragmas = traced


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.planaudit", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("pytest_args", nargs="*", default=list(DEFAULT_TESTS))
    args = parser.parse_args(argv)
    recorder = Recorder()
    recorder.install()
    # This process imported the application (and anyio) before pytest could rewrite
    # their asserts: say so quietly rather than as the error the project's settings make.
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    code = pytest.main(["-q", "-p", "no:cacheprovider", *quiet, *args.pytest_args])
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
