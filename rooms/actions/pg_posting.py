"""A batch of messages written on PostgreSQL through the driver (asyncpg) directly.

Why: SQLAlchemy's async execution (a greenlet switch, an execution context, result
processing) cost about as much CPU as the round trip itself, for every statement of
every message. asyncpg prepares each statement once per connection and runs it in a few
tens of microseconds. The steps and rules are ``rooms.actions.messages.post_steps``'s,
shared with the other paths; the statements are the same Core statements, compiled once
for asyncpg.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from auth.models import User
from rooms import events
from rooms.actions.messages import (
    AUTHOR,
    INSERT_MENTIONS,
    INSERT_MESSAGES_WITH_IDS,
    PARENT,
    Pending,
    Posted,
    PostRequest,
    parent_message,
    post_steps,
    run_steps,
)
from rooms.errors import RoomsError
from rooms.models import Message
from rooms.moderation import WRITE_STATE_MANY, WriteState
from rooms.rawsql import Compiled

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_USERS = User.__table__

_STATES = Compiled(WRITE_STATE_MANY, _DIALECT)
_PARENT = Compiled(PARENT, _DIALECT)
_AUTHOR = Compiled(AUTHOR, _DIALECT)
_MENTIONABLE = Compiled(
    select(_USERS.c.display_name, _USERS.c.id).where(
        _USERS.c.display_name == any_(bindparam("names", type_=ARRAY(String))),
        _USERS.c.is_active.is_(True),
    ),
    _DIALECT,
)
_NEW_IDS = (
    "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1::int)"
)
_INSERT_MESSAGE = Compiled(INSERT_MESSAGES_WITH_IDS, _DIALECT, many=True)
_INSERT_MENTION = Compiled(INSERT_MENTIONS, _DIALECT, many=True)
_ADVANCE = Compiled(events.ADVANCE_MANY, _DIALECT)
_APPEND = Compiled(events.APPEND, _DIALECT, many=True)


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
        rows = await self.connection.fetch(
            _MENTIONABLE.sql, *_MENTIONABLE.args({"names": sorted(names)})
        )
        return {str(name): int(user_id) for name, user_id in rows}

    async def insert_messages(self, rows: list[dict[str, Any]]) -> list[int]:
        ids = [int(r[0]) for r in await self.connection.fetch(_NEW_IDS, len(rows))]
        await self.connection.executemany(
            _INSERT_MESSAGE.sql,
            [_INSERT_MESSAGE.args({**row, "id": i}) for i, row in zip(ids, rows, strict=True)],
        )
        return ids

    async def insert_mentions(self, rows: list[dict[str, Any]]) -> None:
        await self.connection.executemany(
            _INSERT_MENTION.sql, [_INSERT_MENTION.args(row) for row in rows]
        )

    async def advance(self, moves: list[dict[str, int]]) -> None:
        status = await self.connection.execute(
            _ADVANCE.sql,
            *_ADVANCE.args(
                {
                    "rooms": [move["room"] for move in moves],
                    "befores": [move["before"] for move in moves],
                    "afters": [move["after"] for move in moves],
                }
            ),
        )
        if status != f"UPDATE {len(moves)}":
            raise RuntimeError("room sequence moved under its lock")

    async def append(self, appended: list[events.Appended]) -> None:
        rows, self.outbox = events.event_rows(appended, self.now)
        await self.connection.executemany(_APPEND.sql, [_APPEND.args(row) for row in rows])
