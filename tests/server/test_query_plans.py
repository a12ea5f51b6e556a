"""Lookups that would read a whole table without their index, read in the plans the
database really chooses, on a database with an assembly's shape of data.

- Slow mode's "the author's last message in this room", in the states' read of every
  send: on SQLite, and on PostgreSQL in the generic plan of the connections kept for the
  hot writes (``AsyncpgWriters``). Without ``ix_messages_author_room_id`` it read every
  message of the room on SQLite, and every message of the table under the generic plan
  (a backward scan of the primary key, filtered): 230–370 ms per send on the bench's
  million-message database, for a member who had not yet written in a slow-mode room,
  while every other room's messages waited behind that batch (docs/performance.md,
  finding 33).
- The replies of a message being deleted or hidden (``rooms.events.replies_of``), whose
  quotes of it are erased too: without ``ix_messages_reply_to_id`` every deletion read
  the whole table (finding 35).
- A member's unread counts (``rooms.queries.unread_counts``), asked again after every
  read receipt: they read the messages past the member's marker for the room, not the
  whole room (finding 37).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url

from auth.actions import do_create_user
from auth.rawsql import Compiled
from rooms.events import replies_of
from rooms.models import Message, RoomEvent
from rooms.moderation import WRITE_STATE, WRITE_STATE_MANY
from rooms.queries import UNREAD_IN_ROOM
from server.database import Database
from tests.factories import World, build_world, message_row

# As in an assembly: many authors, two busy rooms. The planner then expects the author's
# messages in the room to be a small share of the table, and a plan that walks the table
# until it meets one looks cheap — unless an index finds them at once.
AUTHORS = 40
MESSAGES = 8000


async def _busy_rooms(db: Database) -> World:
    """The group and chantier rooms full of other members' messages, a few of them
    replies; Marie has written none."""
    world = await build_world(db)
    rooms = (world.group_room, world.chantier_room)
    async with db.transaction() as session:
        authors = []
        for n in range(AUTHORS):
            email, name = f"elu{n}@test.atelier", f"Élu {n}"
            authors.append((await do_create_user(session, email=email, display_name=name)).id)
        rows = [
            message_row(rooms[n % 2], n // 2 + 1, authors[n % AUTHORS]) for n in range(MESSAGES)
        ]
        await session.execute(insert(Message), rows)
        # Some replies, each to the message just before it.
        await session.execute(text("UPDATE messages SET reply_to_id = id - 1 WHERE id % 50 = 0"))
    return world


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _decoded(explained: Any) -> list[dict[str, Any]]:
    """``EXPLAIN (FORMAT JSON)``'s answer: the engine's asyncpg connections decode JSON
    themselves, a plain one gives the text."""
    return explained if isinstance(explained, list) else json.loads(explained)


async def _sqlite_steps_on_messages(session: Any, sql: str) -> list[str]:
    """The steps of SQLite's plan for ``sql`` that read ``messages``."""
    details = [row[3] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    return [d for d in details if " messages " in f"{d} "]


def _literal(value: Any) -> str:
    """A parameter as SQL text, for ``EXECUTE``: the test's own ints, strings and lists."""
    if isinstance(value, list):
        return "'{" + ",".join(str(v) for v in value) + "}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


async def test_postgres_generic_plan_probes_the_authors_messages_in_the_room(
    db: Database, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("generic plans are PostgreSQL's (SQLite's plan: the test below)")
    world = await _busy_rooms(db)
    room = world.chantier_room
    async with db.transaction() as session:
        await session.execute(text("ANALYZE messages"))
    writers = db.asyncpg_writers
    assert writers is not None
    statement = Compiled(WRITE_STATE_MANY[False], asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
    params = {"room_ids": [room], "user_ids": [world.id("marie")], "client_ids": ["c-1"]}
    values = ", ".join(_literal(v) for v in statement.args(params))

    async def explain(connection: Any) -> tuple[str, list[dict[str, Any]]]:
        mode = str(await connection.fetchval("SHOW plan_cache_mode"))
        await connection.execute(f"PREPARE write_state AS {statement.sql}")
        try:
            raw = await connection.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE write_state({values})")
        finally:
            await connection.execute("DEALLOCATE write_state")
        return mode, _decoded(raw)

    await writers.run(explain)  # the first write's connection is then kept
    mode, explained = await writers.run(explain)
    assert mode == "force_generic_plan"

    on_messages = [
        node for node in _nodes(explained[0]["Plan"]) if node.get("Relation Name") == "messages"
    ]
    assert on_messages, explained
    scans = [(n["Node Type"], n.get("Index Name"), n.get("Index Cond")) for n in on_messages]
    slow_mode = [n for n in on_messages if n.get("Index Name") == "ix_messages_author_room_id"]
    assert len(slow_mode) == 1, scans
    condition = slow_mode[0]["Index Cond"]
    assert "author_id" in condition, condition
    assert "room_id" in condition, condition
    for node in on_messages:  # the other: the earlier message with this client id
        assert "author_id" in node.get("Index Cond", ""), scans


async def test_sqlite_plan_probes_the_authors_messages_in_the_room(
    db: Database, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's plan (PostgreSQL's generic plan: the test above)")
    world = await _busy_rooms(db)
    room = world.chantier_room
    statement = Compiled(WRITE_STATE[False], sqlite.dialect())  # type: ignore[no-untyped-call]
    params = {"room_id": room, "user_id": world.id("marie"), "client_id": "c-1"}
    path = make_url(database_url).database
    assert path is not None
    connection = sqlite3.connect(path)
    try:
        details = [
            row[3]
            for row in connection.execute(
                f"EXPLAIN QUERY PLAN {statement.sql}", statement.args(params)
            )
        ]
    finally:
        connection.close()
    on_messages = [d for d in details if " messages " in f"{d} "]
    assert on_messages == [
        "SEARCH messages USING INDEX ix_messages_author_room_id (author_id=? AND room_id=?)"
    ], details
    assert not any("TEMP B-TREE" in d for d in details), details


async def test_replies_of_a_deleted_message_are_found_through_their_index(
    db: Database, database_url: str
) -> None:
    await _busy_rooms(db)
    async with db.transaction() as session:
        if database_url.startswith("postgresql"):
            await session.execute(text("ANALYZE messages"))
        parent = await session.scalar(text("SELECT max(reply_to_id) FROM messages"))
    assert parent is not None
    query = select(RoomEvent.id).where(RoomEvent.message_id.in_(replies_of(parent)))
    async with db.read() as session:
        sql = str(query.compile(session.bind, compile_kwargs={"literal_binds": True}))
        if database_url.startswith("postgresql"):
            raw = await session.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"))
            plan = _decoded(raw)[0]["Plan"]
            nodes = [
                (n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in _nodes(plan)
            ]
            assert not [n for n in nodes if n[:2] == ("Seq Scan", "messages")], nodes
            assert [n for n in nodes if n[2] == "ix_messages_reply_to_id"], nodes
        else:
            assert await _sqlite_steps_on_messages(session, sql) == [
                "SEARCH messages USING COVERING INDEX ix_messages_reply_to_id (reply_to_id=?)"
            ]


async def test_unread_counts_read_only_past_the_members_marker(
    db: Database, database_url: str
) -> None:
    world = await _busy_rooms(db)
    room = world.chantier_room
    async with db.transaction() as session:
        if database_url.startswith("postgresql"):
            await session.execute(text("ANALYZE"))
    # Marie has read the room up to ten messages from its end.
    params = {"user_id": world.id("marie"), "room_id": room, "after": MESSAGES // 2 - 10}
    async with db.read() as session:
        query = UNREAD_IN_ROOM.params(**params)
        sql = str(query.compile(session.bind, compile_kwargs={"literal_binds": True}))
        if database_url.startswith("postgresql"):
            plan = _decoded(await session.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}")))[0]["Plan"]
            on_messages = [n for n in _nodes(plan) if n.get("Relation Name") == "messages"]
            assert len(on_messages) == 1, on_messages
            scan = on_messages[0]
            index = scan.get("Index Name") or next(
                (c.get("Index Name") for c in _nodes(scan) if c.get("Index Name")), None
            )
            condition = scan.get("Index Cond") or scan.get("Recheck Cond", "")
            assert scan["Node Type"] != "Seq Scan", on_messages
            assert index == "ix_messages_room_seq", on_messages
            assert "seq >" in condition, condition
        else:
            assert await _sqlite_steps_on_messages(session, sql) == [
                "SEARCH messages USING INDEX ix_messages_room_seq (room_id=? AND seq>?)"
            ]
