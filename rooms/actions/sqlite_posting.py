"""A batch of messages written on SQLite in one synchronous call, with ``sqlite3``.

Why: through SQLAlchemy's async engine, each statement is a hop to aiosqlite's thread and
back (a queue, a future, a wake-up of the loop) plus SQLAlchemy's execution context; a
message alone took five of them, about half of its cost. Here the whole batch — reads
under the write lock, inserts, the positions, the commit — is one synchronous call made
by ``server.database.SqliteWriter`` (on the event loop; in its thread when another
process holds SQLite's lock), with ``sqlite3`` directly.

The steps and rules are ``rooms.actions.messages.post_steps``'s, shared with the other
paths; the statements are the same Core statements, compiled once for SQLite, with the
column types' own conversions (dates are stored as SQLAlchemy stores them).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite

from auth.models import User
from auth.rawsql import Compiled, datetime_conversions
from rooms import events
from rooms.actions.messages import (
    AUTHOR,
    INSERT_MENTIONS,
    INSERT_MESSAGES_WITH_IDS,
    MENTIONABLE,
    PARENT,
    Pending,
    Posted,
    PostRequest,
    parent_message,
    post_steps,
    run_steps_sync,
)
from rooms.errors import RoomsError
from rooms.models import Message
from rooms.moderation import WRITE_STATE, WriteState

_DIALECT = sqlite.dialect()  # type: ignore[no-untyped-call]
_MESSAGES = Message.__table__
_USERS = User.__table__
_to_db, _from_db = datetime_conversions(_DIALECT)

_STATE = Compiled(WRITE_STATE[False], _DIALECT)  # the write lock is every room's lock here
_PARENT = Compiled(PARENT, _DIALECT)
_AUTHOR = Compiled(AUTHOR, _DIALECT)
_LAST_ID = Compiled(select(func.coalesce(func.max(_MESSAGES.c.id), 0)), _DIALECT)
_INSERT_MESSAGE = Compiled(INSERT_MESSAGES_WITH_IDS, _DIALECT, many=True)
_INSERT_MENTION = Compiled(INSERT_MENTIONS, _DIALECT, many=True)
_ADVANCE = Compiled(events.ADVANCE, _DIALECT)
_APPEND = Compiled(events.APPEND, _DIALECT, many=True)


def post_many(
    connection: sqlite3.Connection, requests: Sequence[PostRequest], now: dt.datetime
) -> tuple[list[Posted | RoomsError], list[tuple[str, str]]]:
    """Post ``requests`` in one transaction of ``connection`` (in autocommit mode: this
    begins and commits); returns each request's result and the frames to publish now
    that it committed (``(channel, frame)``).

    Raises what the database raised, after rolling back; the caller then writes the
    requests one by one through the async session.
    """
    store = _Store(connection, now)
    connection.execute("BEGIN IMMEDIATE")
    try:
        results = run_steps_sync(post_steps(requests, now), store)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return results, store.outbox


class _Store:
    """The steps of ``post_steps`` with ``sqlite3``."""

    def __init__(self, connection: sqlite3.Connection, now: dt.datetime) -> None:
        self.execute = connection.execute
        self.executemany = connection.executemany
        self.now = now
        self.now_db = _to_db(now)  # every row of the batch is dated ``now``
        self.outbox: list[tuple[str, str]] = []

    def prefetch(self, pending: list[Pending]) -> None:
        """Each state is read in turn (one process writes: no lock order to keep)."""

    def state(self, pending: Pending) -> WriteState:
        access = pending.request.access
        params = {"room_id": access.room.id, "user_id": access.user_id}
        params["client_id"] = pending.client_id  # type: ignore[assignment]
        row = self.execute(_STATE.sql, _STATE.args(params)).fetchone()
        if row is None:  # the room was deleted after the socket's access was read
            raise LookupError(f"room {access.room.id} not found")
        values = list(row)
        values[5] = _from_db(values[5])  # muted until
        values[6] = _from_db(values[6])  # the author's last message in the room
        return WriteState.from_row(values)

    def parent(self, message_id: int) -> tuple[Message | None, str | None]:
        row = self.execute(_PARENT.sql, _PARENT.args({"id": message_id})).fetchone()
        if row is not None:
            row = (*row[:4], _from_db(row[4]), row[5])
        return parent_message(row)

    def author(self, user_id: int) -> str | None:
        row = self.execute(_AUTHOR.sql, _AUTHOR.args({"id": user_id})).fetchone()
        return row[0] if row else None

    def mentionable(self, names: set[str]) -> dict[str, int]:
        # Rare: compiled for these names.
        query = Compiled(MENTIONABLE.params(names=sorted(names)), _DIALECT)
        rows = self.execute(query.sql, query.args({}))
        return {str(name): int(user_id) for name, user_id in rows}

    def insert_messages(self, rows: list[dict[str, Any]]) -> range:
        # Ids chosen here, as SQLite would (the largest plus one), so that the insert is
        # one ``executemany``.
        last = self.execute(_LAST_ID.sql, _LAST_ID.args({})).fetchone()[0]
        ids = range(last + 1, last + 1 + len(rows))
        self.executemany(
            _INSERT_MESSAGE.sql,
            [
                _INSERT_MESSAGE.args({**row, "id": i, "created_at": self.now_db})
                for i, row in zip(ids, rows, strict=True)
            ],
        )
        return ids

    def insert_mentions(self, rows: list[dict[str, Any]]) -> None:
        self.executemany(_INSERT_MENTION.sql, [_INSERT_MENTION.args(row) for row in rows])

    def advance(self, moves: list[dict[str, int]]) -> None:
        moved = self.executemany(_ADVANCE.sql, [_ADVANCE.args(move) for move in moves])
        if moved.rowcount != len(moves):
            raise RuntimeError("room sequence moved under the write lock")

    def append(self, appended: list[events.Appended]) -> None:
        rows, self.outbox = events.event_rows(appended, self.now)
        self.executemany(
            _APPEND.sql,
            [_APPEND.args({**row, "created_at": self.now_db}) for row in rows],
        )
