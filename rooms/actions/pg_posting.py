"""A batch of messages written on PostgreSQL through the driver (asyncpg) directly.

Why: SQLAlchemy's async execution (a greenlet switch, an execution context, result
processing) cost about as much CPU as the round trip itself, for every statement of
every message, and each round trip waits for a busy event loop. Here a batch is two
round trips whatever its size, without ``BEGIN`` or ``COMMIT``: the states of all its
sends with fresh message ids; then its messages, events, mentions and the rooms'
positions in one statement, which is its own transaction (plus the rare reply, name and
mention lookups before it).

The write is optimistic: the states are read without locking the rooms, and the
statement moves each room's position only from the one it read. Every write that could
change a send's fate — another message, a lock, slow mode, a mute — moves that position
in the same transaction, so a room that moved in between makes the statement fail as a
whole (a room missing from the count, or its event's position already taken); the batch
is then read and written again, and after ``OPTIMISTIC_ATTEMPTS`` it takes the rooms'
locks in a transaction of four round trips, as it did before (docs/performance.md,
finding 21). asyncpg prepares each statement once per connection. The steps and rules
are ``rooms.actions.messages.post_steps``'s, shared with the other paths; the statements
are Core statements, compiled once for asyncpg.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import JSON, Integer, Text, bindparam, case, cast, column, func, insert, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from auth.base import dumps
from auth.models import User
from auth.rawsql import Compiled
from rooms import events
from rooms.actions.messages import (
    AUTHOR,
    MENTIONABLE,
    MESSAGE_COLUMNS,
    PARENT,
    Pending,
    Posted,
    PostRequest,
    parent_message,
    post_steps,
    run_steps,
)
from rooms.errors import RoomsError
from rooms.models import Mention, Message, Room, RoomEvent
from rooms.moderation import WRITE_STATE_MANY, WriteState

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_USERS = User.__table__

_STATES = {lock: Compiled(WRITE_STATE_MANY[lock], _DIALECT) for lock in (False, True)}
OPTIMISTIC_ATTEMPTS = 3
# What a room that moved between the read and the write makes the write raise: the
# count check's cast, an event position already taken, two batches' rooms crossed.
_MOVED = (
    asyncpg.InvalidTextRepresentationError,
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
)
_PARENT = Compiled(PARENT, _DIALECT)
_AUTHOR = Compiled(AUTHOR, _DIALECT)


def _rows_of(table: Any, columns: Sequence[str], name: str) -> Any:
    """``json_to_recordset($1::json) AS name(column type, …)``: the rows sent as one JSON
    document. As arrays (one per column, ``unnest``), asyncpg encoded the twenty-odd
    parameters of a lone message element by element, with ``isinstance`` checks against
    abstract classes: about 50 µs of the process's CPU, against 15 for one document
    (docs/performance.md, finding 28)."""
    document = cast(bindparam(name, type_=Text), JSON)
    return (
        func.json_to_recordset(document)
        .table_valued(*(column(c, table.c[c].type) for c in columns))
        .render_derived(name=name, with_types=True)
    )


def _write_statement(*, checked: bool) -> Any:
    """The messages, their events, their mentions and the rooms' positions in one
    statement (data-modifying CTEs); returns how many rooms moved, which must be all of
    them. ``checked``: a count short of ``room_count`` raises (a cast that fails), so that
    the statement, its own transaction, writes nothing."""
    messages, room_events, rooms = Message.__table__, RoomEvent.__table__, Room.__table__
    mentions = Mention.__table__
    message_columns = ("id", *MESSAGE_COLUMNS)
    mention_columns = ("message_id", "user_id", "room_id", "seq")
    new_messages = _rows_of(messages, message_columns, "new_messages")
    new_events = _rows_of(room_events, events.EVENT_COLUMNS, "new_events")
    new_mentions = _rows_of(mentions, mention_columns, "new_mentions")
    ctes = [
        insert(table)
        .from_select(columns, select(*(rows.c[c] for c in columns)))
        .cte(f"inserted_{name}")
        for table, columns, rows, name in (
            (messages, message_columns, new_messages, "messages"),
            (room_events, events.EVENT_COLUMNS, new_events, "events"),
            (mentions, mention_columns, new_mentions, "mentions"),
        )
    ]
    moved = events.ADVANCE_MANY.returning(rooms.c.id).cte("moved")
    count: Any = func.count()
    if checked:
        count = case(
            (count == bindparam("room_count", type_=Integer), count),
            else_=cast(func.concat("rooms moved: ", count), Integer),
        )
    return select(count).select_from(moved).add_cte(*ctes)


_WRITE = {
    checked: Compiled(_write_statement(checked=checked), _DIALECT) for checked in (False, True)
}


async def post_many(
    connection: Any, requests: Sequence[PostRequest], now: dt.datetime
) -> tuple[list[Posted | RoomsError], list[tuple[str, str]]]:
    """Post ``requests`` on the asyncpg ``connection`` (not in a transaction); returns
    each request's result and the frames to publish now that it committed.

    Raises what the database raised (nothing written); the caller then writes the
    requests one by one through the session.
    """
    for _ in range(OPTIMISTIC_ATTEMPTS):
        try:
            return await _attempt(connection, requests, now, optimistic=True)
        except _MOVED:
            continue
    async with connection.transaction():
        return await _attempt(connection, requests, now, optimistic=False)


async def _attempt(
    connection: Any, requests: Sequence[PostRequest], now: dt.datetime, *, optimistic: bool
) -> tuple[list[Posted | RoomsError], list[tuple[str, str]]]:
    store = _Store(connection, now, optimistic=optimistic)
    results = await run_steps(post_steps(requests, now), store)
    await store.write()
    return results, store.outbox


class _Store:
    """The steps of ``post_steps`` with asyncpg."""

    def __init__(self, connection: Any, now: dt.datetime, *, optimistic: bool) -> None:
        self.connection = connection
        self.now = now
        self.optimistic = optimistic
        self.outbox: list[tuple[str, str]] = []
        self._states: dict[int, WriteState] = {}
        self._ids: list[int] = []  # fresh message ids, read with the states
        self._writes: dict[str, list[Any]] = {}  # held until ``append``

    async def prefetch(self, pending: list[Pending]) -> None:
        """Every state in one round trip (unless optimistic, the rooms locked in id order)."""
        states = _STATES[not self.optimistic]
        rows = await self.connection.fetch(
            states.sql,
            *states.args(
                {
                    "room_ids": [p.request.access.room.id for p in pending],
                    "user_ids": [p.request.access.user_id for p in pending],
                    "client_ids": [p.client_id for p in pending],
                }
            ),
        )
        self._states = {
            pending[row[0] - 1].index: WriteState.from_row(tuple(row)[1:]) for row in rows
        }
        self._ids = sorted(row[-1] for row in rows)

    async def state(self, pending: Pending) -> WriteState:
        state = self._states.get(pending.index)
        if state is None:  # the room was deleted after the socket's access was read
            raise LookupError(f"room {pending.request.access.room.id} not found")
        return state

    async def parent(self, message_id: int) -> tuple[Message | None, str | None]:
        row = await self.connection.fetchrow(_PARENT.sql, *_PARENT.args({"id": message_id}))
        return parent_message(tuple(row) if row is not None else None)

    async def author(self, user_id: int) -> str | None:
        return await self.connection.fetchval(_AUTHOR.sql, *_AUTHOR.args({"id": user_id}))

    async def mentionable(self, names: set[str]) -> dict[str, int]:
        # Rare: compiled for these names.
        query = Compiled(MENTIONABLE.params(names=sorted(names)), _DIALECT)
        rows = await self.connection.fetch(query.sql, *query.args({}))
        return {str(name): int(user_id) for name, user_id in rows}

    async def insert_messages(self, rows: list[dict[str, Any]]) -> list[int]:
        """Held until ``append``; the ids are those read with the states."""
        ids = self._ids[: len(rows)]
        self._writes["new_messages"] = dumps(
            [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)]
        )
        return ids

    async def advance(self, moves: list[dict[str, int]]) -> None:
        """Held until ``append``."""
        self._writes["rooms"] = [move["room"] for move in moves]
        self._writes["befores"] = [move["before"] for move in moves]
        self._writes["afters"] = [move["after"] for move in moves]

    async def append(self, appended: list[events.Appended]) -> None:
        """Held until :meth:`write`."""
        rows, self.outbox = events.event_rows(appended, self.now)
        self._writes["new_events"] = dumps(rows)

    async def insert_mentions(self, rows: list[dict[str, Any]]) -> None:
        """Held until :meth:`write`."""
        self._writes["new_mentions"] = dumps(rows)

    async def write(self) -> None:
        """Everything in one statement: messages, events, mentions, positions."""
        writes = self._writes
        if "rooms" not in writes:  # nothing accepted
            return
        writes.setdefault("new_mentions", "[]")
        statement = _WRITE[self.optimistic]
        writes["room_count"] = len(writes["rooms"])
        moved = await self.connection.fetchval(statement.sql, *statement.args(writes))
        if moved != len(writes["rooms"]):
            raise RuntimeError("room sequence moved under its lock")
