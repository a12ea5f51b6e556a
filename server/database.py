"""The database engine and the one way to write: ``Database.transaction()``.

``transaction()`` opens a session, lets the caller (the edge) run actions, commits, and
only then publishes what the actions queued with ``auth.base.emit`` — so a client never
hears of a write that did not commit. ``read()`` gives a session for queries.

SQLite (embedded mode) serialises writers; doing so with an ``asyncio.Lock`` in the
process, on top of WAL and ``busy_timeout``, avoids SQLITE_BUSY under concurrent
WebSocket writers. PostgreSQL serialises writers per room with the room row lock taken by
``rooms.events.lock_room``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from auth.base import take_outbox
from server.broker import Broker

T = TypeVar("T")
Outbox = list[tuple[str, str]]  # (channel, message) to publish once committed


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; for SQLite, creates the folder and turns on WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping: on asyncpg it costs three round trips per checkout (BEGIN, ping,
        # ROLLBACK), i.e. per frame. A connection found dead fails its statement once,
        # and SQLAlchemy then replaces every pooled connection; sends are idempotent,
        # so the client's retry is safe.
        return create_async_engine(url, pool_recycle=1800, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        set_sqlite_pragmas(dbapi_connection)

    return engine


def set_sqlite_pragmas(dbapi_connection: Any) -> None:
    """Every connection to an SQLite database: WAL (readers never wait for the writer),
    foreign keys, a writer waits up to 30 s for another process's lock."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """Engine + session factory + the broker the outbox goes to."""

    def __init__(self, engine: AsyncEngine, broker: Broker) -> None:
        self.engine = engine
        self.broker = broker
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        # The file of an SQLite database, for a writer with its own connection to it.
        self.sqlite_path = database if database and database != ":memory:" else None
        self.sqlite_writer = SqliteWriter(self.sqlite_path) if self.sqlite_path else None
        self.asyncpg = engine.dialect.driver == "asyncpg"

    @property
    def driver_writes(self) -> bool:
        """Whether the hot writes (messages, draft updates) can skip SQLAlchemy's async
        execution: an SQLite file (the writer thread) or PostgreSQL through asyncpg."""
        return self.sqlite_writer is not None or self.asyncpg

    async def write_with_driver(
        self,
        on_sqlite: Callable[..., tuple[T, Outbox]],
        on_asyncpg: Callable[..., Awaitable[tuple[T, Outbox]]],
        *args: Any,
    ) -> T:
        """One hot write on the driver itself (when :attr:`driver_writes`), then its
        outbox published, as :meth:`transaction` does after commit.

        ``on_sqlite(sqlite3_connection, *args)`` runs in the writer thread under the write
        gate; ``await on_asyncpg(asyncpg_connection, *args)`` on a pooled connection.
        Each begins and commits its own transaction and returns ``(result, outbox)``.
        """
        if self.sqlite_writer is not None:
            async with self.write_gate():
                result, outbox = await self.sqlite_writer.run(on_sqlite, *args)
        elif self.asyncpg:
            async with self.engine.connect() as connection:
                driver = (await connection.get_raw_connection()).driver_connection
                result, outbox = await on_asyncpg(driver, *args)
        else:
            raise RuntimeError("no driver path for this database: use a session")
        await self.publish(outbox)
        return result

    async def publish(self, outbox: Outbox) -> None:
        """Ring the doorbell for writes that have committed."""
        for channel, message in outbox:
            await self.broker.publish(channel, message)

    def write_gate(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Held by every writer of an SQLite database (one at a time); no-op otherwise."""
        return self._write_lock or contextlib.nullcontext()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Run a unit of work: commit on success, then publish its outbox; roll back on error."""
        async with self.write_gate(), self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                take_outbox(session)
                raise
            outbox = take_outbox(session)
        await self.publish(outbox)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries only (nothing is committed)."""
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        if self.sqlite_writer is not None:
            await self.sqlite_writer.close()
        await self.engine.dispose()


class SqliteWriter:
    """A thread that owns a ``sqlite3`` connection, for the hot writes of an SQLite file
    (messages: ``rooms.actions.sqlite_posting``; draft updates:
    ``documents.sqlite_store``).

    Through the async engine each statement is a hop to aiosqlite's thread and back plus
    SQLAlchemy's execution; here a whole batch is one call in this thread. One thread, so
    the connection is only used where it was opened; callers hold
    ``Database.write_gate()``, so the process's writers take turns rather than meeting
    SQLite's busy timeout.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._connection: sqlite3.Connection | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` in the writer thread; the connection is in
        autocommit mode: ``fn`` says ``BEGIN`` and ``COMMIT`` itself."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            set_sqlite_pragmas(self._connection)
        return fn(self._connection, *args)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):  # already shut down
            await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)
