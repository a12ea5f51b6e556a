"""A batch of messages written on PostgreSQL through the driver (asyncpg) directly.

Why: SQLAlchemy's async execution (a greenlet switch, an execution context, result
processing) cost about as much CPU as the round trip itself, for every statement of
every message, and each round trip waits for a busy event loop. Here a batch is four
round trips whatever its size: ``BEGIN``; the states of all its sends with fresh message
ids (rooms locked in id order); its messages, events and positions in one statement;
``COMMIT`` (plus the rare reply, name and mention lookups). asyncpg prepares each
statement once per connection. The steps and rules are
``rooms.actions.messages.post_steps``'s, shared with the other paths; the statements
are Core statements, compiled once for asyncpg.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from auth.models import User
from auth.rawsql import Compiled
from rooms import events
from rooms.actions.messages import (
    AUTHOR,
    INSERT_MENTIONS,
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
from rooms.models import Message, Room, RoomEvent
from rooms.moderation import WRITE_STATE_MANY, WriteState

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_USERS = User.__table__

_STATES = Compiled(WRITE_STATE_MANY, _DIALECT)
_PARENT = Compiled(PARENT, _DIALECT)
_AUTHOR = Compiled(AUTHOR, _DIALECT)
_INSERT_MENTION = Compiled(INSERT_MENTIONS, _DIALECT, many=True)


def _rows_of(table: Any, columns: Sequence[str], name: str) -> Any:
    """``unnest($1::type[], …) AS name(columns)``: rows sent as one array per column."""
    arrays = [bindparam(f"{name}_{c}", type_=ARRAY(table.c[c].type)) for c in columns]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)


def _write_statement() -> Any:
    """The messages, their events and the rooms' positions in one statement (three
    data-modifying CTEs); returns how many rooms moved, which must be all of them."""
    messages, room_events, rooms = Message.__table__, RoomEvent.__table__, Room.__table__
    message_columns = ("id", *MESSAGE_COLUMNS)
    new_messages = _rows_of(messages, message_columns, "new_messages")
    new_events = _rows_of(room_events, events.EVENT_COLUMNS, "new_events")
    inserted_messages = (
        insert(messages)
        .from_select(message_columns, select(*(new_messages.c[c] for c in message_columns)))
        .cte("inserted_messages")
    )
    inserted_events = (
        insert(room_events)
        .from_select(events.EVENT_COLUMNS, select(*(new_events.c[c] for c in events.EVENT_COLUMNS)))
        .cte("inserted_events")
    )
    moved = events.ADVANCE_MANY.returning(rooms.c.id).cte("moved")
    return select(func.count()).select_from(moved).add_cte(inserted_messages, inserted_events)


_WRITE = Compiled(_write_statement(), _DIALECT)


async def post_many(
    connection: Any, requests: Sequence[PostRequest], now: dt.datetime
) -> tuple[list[Posted | RoomsError], list[tuple[str, str]]]:
    """Post ``requests`` in one transaction of the asyncpg ``connection``; returns each
    request's result and the frames to publish now that it committed.

    Raises what the database raised (rolled back); the caller then writes the requests
    one by one through the session.
    """
    store = _Store(connection, now)
    async with connection.transaction():
        results = await run_steps(post_steps(requests, now), store)
    return results, store.outbox


class _Store:
    """The steps of ``post_steps`` with asyncpg."""

    def __init__(self, connection: Any, now: dt.datetime) -> None:
        self.connection = connection
        self.now = now
        self.outbox: list[tuple[str, str]] = []
        self._states: dict[int, WriteState] = {}
        self._ids: list[int] = []  # fresh message ids, read with the states
        self._writes: dict[str, list[Any]] = {}  # held until ``append``

    async def prefetch(self, pending: list[Pending]) -> None:
        """Every state in one round trip, the rooms locked in id order."""
        rows = await self.connection.fetch(
            _STATES.sql,
            *_STATES.args(
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
        self._writes.update(
            {f"new_messages_{column}": [row[column] for row in rows] for column in MESSAGE_COLUMNS}
        )
        self._writes["new_messages_id"] = ids
        return ids

    async def advance(self, moves: list[dict[str, int]]) -> None:
        """Held until ``append``."""
        self._writes["rooms"] = [move["room"] for move in moves]
        self._writes["befores"] = [move["before"] for move in moves]
        self._writes["afters"] = [move["after"] for move in moves]

    async def append(self, appended: list[events.Appended]) -> None:
        """Everything in one statement: messages, events, positions."""
        rows, self.outbox = events.event_rows(appended, self.now)
        self._writes.update(
            {f"new_events_{c}": [row[c] for row in rows] for c in events.EVENT_COLUMNS}
        )
        moved = await self.connection.fetchval(_WRITE.sql, *_WRITE.args(self._writes))
        if moved != len(self._writes["rooms"]):
            raise RuntimeError("room sequence moved under its lock")

    async def insert_mentions(self, rows: list[dict[str, Any]]) -> None:
        await self.connection.executemany(
            _INSERT_MENTION.sql, [_INSERT_MENTION.args(row) for row in rows]
        )
