"""The plan audit (``bench/planaudit.py``): it hears the statements of both ways the
application reaches SQLite, and of both ways it reaches PostgreSQL (SQLAlchemy and the
kept writers, through asyncpg); it tells a plan that reads a whole table from an index
probe, on SQLite and in PostgreSQL's generic plans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import insert, text

import server.database as database_module
from bench.planaudit import (
    PostgresRecorder,
    Recorder,
    flagged,
    generic_plan,
    shape,
    table_rows,
    whole_reads,
)
from rooms.models import Message
from server.broker.memory import MemoryBroker
from server.cli import migrate_async
from server.database import Database, make_engine
from tests.factories import build_world, message_row
from tests.services import create_postgres_database, drop_postgres_database


async def _migrated(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "atelier.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate_async(url)
    return url, path


async def test_the_recorder_hears_the_engine_and_the_direct_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = await _migrated(tmp_path)
    # Put the plain function back after the test.
    monkeypatch.setattr(database_module, "set_sqlite_pragmas", database_module.set_sqlite_pragmas)
    recorder = Recorder()
    recorder.install()
    db = Database(make_engine(url), MemoryBroker())
    try:
        async with db.read() as session:
            await session.execute(text("SELECT count(*) FROM users WHERE id = 3"))
        assert db.sqlite_writer is not None
        await db.sqlite_writer.run(
            lambda connection: connection.execute(
                "SELECT id FROM rooms WHERE slug = 'g1'"
            ).fetchall()
        )
    finally:
        await db.dispose()
    assert "SELECT count(*) FROM users WHERE id = ?" in recorder.statements
    assert "SELECT id FROM rooms WHERE slug = ?" in recorder.statements
    assert recorder.statements["SELECT id FROM rooms WHERE slug = ?"] == (
        "SELECT id FROM rooms WHERE slug = 'g1'"
    )


async def test_flagged_tells_a_whole_table_from_an_index(tmp_path: Path) -> None:
    _, path = await _migrated(tmp_path)
    probe = "SELECT id FROM messages WHERE reply_to_id = 5"
    scan = "SELECT id FROM messages WHERE source = 'bonjour'"
    sort = "SELECT id FROM messages WHERE room_id = 1 ORDER BY source"
    found = flagged([probe, scan, sort, "SELECT x FROM a_test_table"], path)
    assert set(found) == {"messages", ""}
    assert [sql for sql, _ in found["messages"]] == [shape(scan)]
    assert found["messages"][0][1] == ["SCAN messages"]
    assert [sql for sql, _ in found[""]] == [shape(sort)]
    assert "USE TEMP B-TREE FOR ORDER BY" in found[""][0][1]


def test_shape_keeps_one_entry_per_statement() -> None:
    assert shape("SELECT a FROM t WHERE b = 'l''un' AND c IN (1, 2, 3)") == (
        "SELECT a FROM t WHERE b = ? AND c IN (?)"
    )


# -- PostgreSQL ------------------------------------------------------------------------
@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url = await create_postgres_database()  # skips (or fails in CI) without PostgreSQL
    try:
        await migrate_async(url)
        yield url
    finally:
        await drop_postgres_database(url)


async def test_the_postgres_recorder_hears_sqlalchemy_and_the_kept_writers(pg_url: str) -> None:
    plain = asyncpg.connection.Connection._get_statement
    recorder = PostgresRecorder()
    stop = recorder.install()
    try:
        db = Database(make_engine(pg_url), MemoryBroker())
        try:
            async with db.read() as session:
                await session.execute(text("SELECT count(*) FROM users WHERE id = 3"))
            assert db.asyncpg_writers is not None

            async def direct(connection: asyncpg.Connection) -> object:
                return await connection.fetch("SELECT id FROM rooms WHERE slug = $1", "g1")

            await db.asyncpg_writers.run(direct)
        finally:
            await db.dispose()
    finally:
        stop()
    assert asyncpg.connection.Connection._get_statement is plain
    assert "SELECT count(*) FROM users WHERE id = ?" in recorder.statements
    # The example keeps asyncpg's parameters, for PREPARE.
    assert recorder.statements["SELECT id FROM rooms WHERE slug = $?"] == (
        "SELECT id FROM rooms WHERE slug = $1"
    )


async def test_generic_plans_tell_a_whole_table_from_an_index(pg_url: str) -> None:
    db = Database(make_engine(pg_url), MemoryBroker())
    try:
        world = await build_world(db)
        async with db.transaction() as session:
            await session.execute(
                insert(Message),
                [
                    message_row(world.group_room, n, world.id("paul"), source=f"Message {n}")
                    for n in range(1, 5001)
                ],
            )
            await session.execute(
                text("UPDATE messages SET reply_to_id = id - 1 WHERE seq % 50 = 0")
            )
            await session.execute(text("ANALYZE"))
    finally:
        await db.dispose()
    connection = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await table_rows(connection)
        assert rows["messages"] == 5000

        async def reads(sql: str) -> list[tuple[str, str]]:
            plan = await generic_plan(connection, sql)
            assert plan is not None, sql
            return whole_reads(plan, rows, min_rows=1000)

        assert await reads("SELECT id FROM messages WHERE reply_to_id = $1") == []
        assert await reads("SELECT id FROM messages WHERE source = $1") == [
            ("messages", "Seq Scan on messages")
        ]
        # Finding 33's plan: the newest first along the primary key, filtered.
        newest = await reads("SELECT id FROM messages WHERE source = $1 ORDER BY id DESC LIMIT 1")
        assert [table for table, _ in newest] == ["messages"], newest
        assert any(
            table == "" and "Sort" in what
            for table, what in await reads("SELECT id FROM messages ORDER BY source")
        )
        # A table too small to matter, and a statement that cannot be prepared here.
        assert await reads("SELECT id FROM rooms WHERE description = $1") == []
        assert await generic_plan(connection, "SELECT x FROM a_test_table WHERE y = $1") is None
    finally:
        await connection.close()
