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
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from auth.base import take_outbox
from server.broker import Broker

T = TypeVar("T")
log = logging.getLogger(__name__)
Outbox = list[tuple[str, str]]  # (channel, message) to publish once committed
# Seconds a PostgreSQL connection is used before it is replaced: the pool's and the
# kept writers' (``AsyncpgWriters``) alike.
POOL_RECYCLE_SECS = 1800.0


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; for SQLite, creates the folder and turns on WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping: on asyncpg it costs three round trips per checkout (BEGIN, ping,
        # ROLLBACK), i.e. per frame. A connection found dead fails its statement once,
        # and SQLAlchemy then replaces every pooled connection; sends are idempotent,
        # so the client's retry is safe.
        return create_async_engine(url, pool_recycle=POOL_RECYCLE_SECS, **kwargs)
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
        self.asyncpg_writers = AsyncpgWriters(engine) if self.asyncpg else None

    @property
    def driver_writes(self) -> bool:
        """Whether the hot writes (messages, draft updates) can skip SQLAlchemy's async
        execution: an SQLite file (``SqliteWriter``) or PostgreSQL through asyncpg."""
        return self.sqlite_writer is not None or self.asyncpg

    async def write_with_driver(
        self,
        on_sqlite: Callable[..., tuple[T, Outbox]],
        on_asyncpg: Callable[..., Awaitable[tuple[T, Outbox]]],
        *args: Any,
        committed: Callable[[T], None] | None = None,
    ) -> T:
        """One hot write on the driver itself (when :attr:`driver_writes`), then its
        outbox published, as :meth:`transaction` does after commit.

        ``on_sqlite(sqlite3_connection, *args)`` runs through ``SqliteWriter`` under the
        write gate; ``await on_asyncpg(asyncpg_connection, *args)`` on a connection kept
        for such writes (``AsyncpgWriters``). Each begins and commits its own transaction
        and returns ``(result, outbox)``.
        ``committed(result)``, if given, runs between the commit and the publication: what
        this process does with a write must happen before it can hear of it from the
        broker.
        """
        if self.sqlite_writer is not None:
            async with self.write_gate():
                result, outbox = await self.sqlite_writer.run(on_sqlite, *args)
        elif self.asyncpg_writers is not None:
            result, outbox = await self.asyncpg_writers.run(on_asyncpg, *args)
        else:
            raise RuntimeError("no driver path for this database: use a session")
        if committed is not None:
            committed(result)
        self.publish(outbox)
        return result

    def write_now(self, on_sqlite: Callable[..., tuple[T, Outbox]], *args: Any) -> tuple[T] | None:
        """:meth:`write_with_driver`'s SQLite write and its publication done in the
        caller's turn, without a single wait — or ``None``, with nothing written, when
        one would be needed: not an SQLite file, another writer of the process between
        its awaits, another process holding the file's lock.

        Without a wait the caller cannot be interrupted between the commit and the
        publication, so it needs no task of its own for them (``server.posting``)."""
        writer = self.sqlite_writer
        if writer is None or self.write_gate_taken:
            return None
        done = writer.run_now(on_sqlite, *args)
        if done is None:
            return None
        result, outbox = done[0]
        self.publish(outbox)
        return (result,)

    @property
    def write_gate_taken(self) -> bool:
        return self._write_lock is not None and self._write_lock.locked()

    def publish(self, outbox: Outbox) -> None:
        """Ring the doorbell for writes that have committed (never waits:
        ``Broker.publish_now``)."""
        for channel, message in outbox:
            self.broker.publish_now(channel, message)

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
        self.publish(outbox)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries only (nothing is committed)."""
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        if self.sqlite_writer is not None:
            await self.sqlite_writer.close()
        if self.asyncpg_writers is not None:
            await self.asyncpg_writers.close()
        await self.engine.dispose()


class AsyncpgWriters:
    """The asyncpg connections of the hot writes on PostgreSQL, kept checked out of the
    engine's pool between writes, and planning with generic plans.

    A checkout through SQLAlchemy's async pool (greenlet hops, the pool's bookkeeping,
    the reset on return) cost as much CPU as a round trip, and a lone message took one
    for its two round trips (docs/performance.md, finding 28). The writers take turns
    (the poster's task, the drafts' writes), so at most ``KEEP`` connections are kept.

    A kept connection runs with ``plan_cache_mode = force_generic_plan``
    (``GENERIC_PLANS``): asyncpg prepares every statement, but PostgreSQL's default
    chooses a custom plan, planned again at each execution, for the states' read and the
    write's data-modifying statement — 630 µs of PostgreSQL's CPU per message against
    385 with the prepared generic plan (finding 30), on a machine where the database
    shares the cores with Atelier. Their plans don't depend on the values: every lookup
    is by key or through an index made for it (slow mode's: finding 33, where the
    generic plan read the whole table until that index existed;
    ``tests/server/test_query_plans.py`` reads the plan). The setting is the
    connection's, so a kept connection never goes back to the pool: when it fails a
    write, outlives the pool's recycle age, or the database is disposed, it is closed
    (invalidated) and the pool opens a fresh one when needed. A third writer at the same
    time borrows a connection from the pool and returns it unchanged.
    """

    KEEP = 2
    GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"

    def __init__(self, engine: AsyncEngine, recycle: float = POOL_RECYCLE_SECS) -> None:
        self.engine = engine
        self._kept: list[tuple[AsyncConnection, Any, float]] = []
        self._adopting = 0  # connections being set up to be kept
        self.recycle = recycle  # seconds a connection may be kept

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await fn(asyncpg_connection, *args)``; the connection is not in a
        transaction: ``fn`` makes its own."""
        if self._kept:
            connection, driver, since = self._kept.pop()
            kept = True
        else:
            connection = await self.engine.connect()
            driver = (await connection.get_raw_connection()).driver_connection
            since, kept = time.monotonic(), False
        try:
            result = await fn(driver, *args)
        except BaseException:
            await (_discard(connection) if kept else connection.close())
            raise
        room = len(self._kept) + self._adopting < self.KEEP
        if room and time.monotonic() - since < self.recycle:
            if not kept:
                await self._adopt(connection, driver)
            else:
                self._kept.append((connection, driver, since))
        else:
            await (_discard(connection) if kept else connection.close())
        return result

    async def _adopt(self, connection: AsyncConnection, driver: Any) -> None:
        """Keep a connection borrowed from the pool, once it plans generically. Its
        write has committed: a failure here is logged, not raised."""
        self._adopting += 1
        try:
            await driver.execute(self.GENERIC_PLANS)
        except Exception as exc:
            log.warning("a connection for the hot writes could not be set up: %r", exc)
            await _discard(connection)
            return
        except BaseException:
            await _discard(connection)
            raise
        finally:
            self._adopting -= 1
        self._kept.append((connection, driver, time.monotonic()))

    async def close(self) -> None:
        """Close the kept connections (before the engine is disposed)."""
        kept, self._kept = self._kept, []
        for connection, _, _ in kept:
            with contextlib.suppress(Exception):
                await _discard(connection)


async def _discard(connection: AsyncConnection) -> None:
    """Close a kept connection rather than give it back to the pool with its setting."""
    await connection.invalidate()
    await connection.close()


class SqliteWriter:
    """The hot writes of an SQLite file (messages: ``rooms.actions.sqlite_posting``; draft
    updates: ``documents.sqlite_store``), made with ``sqlite3`` directly.

    Through the async engine each statement is a hop to aiosqlite's thread and back plus
    SQLAlchemy's execution; here a whole batch is one synchronous call. The call runs on
    the event loop itself: a batch costs a fraction of a millisecond, less than handing it
    to a thread and back (on one core, every statement of a thread's batch gave the GIL
    back and waited to take it again: finding 16 of docs/performance.md). What could
    make the loop wait is kept off it:

    - another process holding SQLite's write lock (an ``atelier`` command): the loop's
      connection does not wait (``busy_timeout=0``); the batch, rolled back, is run again
      in the writer thread, whose connection waits up to 30 s;
    - checkpoints, which copy the WAL into the database and ``fsync``: the loop's
      connection never checkpoints; every ``CHECKPOINT_EVERY`` commits, the thread runs a
      passive checkpoint (it never blocks a writer).

    Callers hold ``Database.write_gate()``, so the process's writers take turns rather
    than meeting SQLite's lock.
    """

    CHECKPOINT_EVERY = 200

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._connection: sqlite3.Connection | None = None  # the thread's
        self._inline: sqlite3.Connection | None = None  # the loop's
        self._commits = 0
        self._checkpoint: asyncio.Future[Any] | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)``; the connection is in autocommit mode: ``fn`` says
        ``BEGIN IMMEDIATE`` and ``COMMIT`` itself, and rolls back what it began if it
        raises."""
        done = self.run_now(fn, *args)
        if done is not None:
            return done[0]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def run_now(self, fn: Callable[..., T], *args: Any) -> tuple[T] | None:
        """``(fn(connection, *args),)`` on the loop's connection, or ``None`` (nothing
        written) when another process holds SQLite's write lock: then only the thread
        may wait for it (``run``)."""
        try:
            result = fn(self._loop_connection(), *args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            return None
        self._commits += 1
        if self._commits >= self.CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = asyncio.get_running_loop().run_in_executor(
                self._executor, self._call, _checkpoint, ()
            )
            self._checkpoint.add_done_callback(self._checkpointed)
        return (result,)

    def _loop_connection(self) -> sqlite3.Connection:
        if self._inline is None:
            connection = sqlite3.connect(self.path, isolation_level=None)
            set_sqlite_pragmas(connection)
            connection.execute("PRAGMA busy_timeout=0")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._inline = connection
        return self._inline

    def _checkpointed(self, done: asyncio.Future[Any]) -> None:
        self._checkpoint = None
        if not done.cancelled() and done.exception() is not None:
            log.warning("WAL checkpoint failed: %r", done.exception())

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
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):  # already shut down
            await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)


def _checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
