"""The plan audit (``bench/planaudit.py``): it hears the statements of both ways the
application reaches SQLite, and tells a plan that reads a whole table from an index
probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

import server.database as database_module
from bench.planaudit import Recorder, flagged, shape
from server.broker.memory import MemoryBroker
from server.cli import migrate_async
from server.database import Database, make_engine


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
