"""``SqliteWriter``: hot writes on the loop that never make it wait for SQLite's lock or
a checkpoint's ``fsync`` (real SQLite files, real threads)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from server.database import SqliteWriter, set_sqlite_pragmas


@pytest.fixture
def path(tmp_path: Path) -> str:
    file = tmp_path / "atelier.db"
    connection = sqlite3.connect(file, isolation_level=None)
    set_sqlite_pragmas(connection)
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    connection.close()
    return str(file)


def _write(connection: sqlite3.Connection, body: str) -> int:
    """As the stores write: their own transaction, rolled back if anything fails."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        row_id = connection.execute("INSERT INTO notes (body) VALUES (?)", (body,)).lastrowid
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    assert row_id is not None
    return row_id


def _bodies(path: str) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [body for (body,) in connection.execute("SELECT body FROM notes ORDER BY id")]
    finally:
        connection.close()


async def test_a_write_runs_and_commits(path: str) -> None:
    writer = SqliteWriter(path)
    try:
        assert await writer.run(_write, "un") == 1
        assert await writer.run(_write, "deux") == 2
    finally:
        await writer.close()
    assert _bodies(path) == ["un", "deux"]


async def test_another_process_holding_the_lock_does_not_stop_the_loop(path: str) -> None:
    """While an ``atelier`` command holds SQLite's write lock, the write waits for it in
    the writer thread: the loop goes on serving, and the write lands once the lock is
    released, once."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    writer = SqliteWriter(path)
    try:
        write = asyncio.create_task(writer.run(_write, "après le verrou"))
        ticks = 0
        for _ in range(20):  # the loop keeps turning while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(write, 10) == 1
        assert ticks == 20
    finally:
        other.close()
        await writer.close()
    assert _bodies(path) == ["après le verrou"]


async def test_a_failing_write_is_not_retried(path: str) -> None:
    """Only a busy lock sends a write to the thread: any other error is the caller's."""

    def _broken(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("INSERT INTO missing (body) VALUES ('x')")
        finally:
            connection.execute("ROLLBACK")

    writer = SqliteWriter(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await writer.run(_broken)
        assert await writer.run(_write, "ensuite") == 1
    finally:
        await writer.close()


async def test_the_wal_is_checkpointed_by_the_thread(path: str, tmp_path: Path) -> None:
    """The loop's connection never checkpoints (it would ``fsync`` on the loop); every
    ``CHECKPOINT_EVERY`` commits the thread copies the WAL into the database file."""

    def _main_file_bodies() -> list[str]:
        """What the database file holds without its WAL."""
        copy = tmp_path / "copy.db"
        shutil.copyfile(path, copy)
        return _bodies(str(copy))

    writer = SqliteWriter(path)
    writer.CHECKPOINT_EVERY = 3
    try:
        await writer.run(_write, "un")
        await writer.run(_write, "deux")
        assert _main_file_bodies() == []  # still only in the WAL
        await writer.run(_write, "trois")
        assert writer._checkpoint is not None
        await writer._checkpoint
        assert _main_file_bodies() == ["un", "deux", "trois"]
    finally:
        await writer.close()
