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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
        for channel, message in outbox:
            await self.broker.publish(channel, message)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries only (nothing is committed)."""
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
