"""Unread counts (``rooms.queries.unread_counts``) against a count made by hand, on both
backends: past the member's marker for the room and for each topic, someone else's,
not deleted; mentions counted among them. The statement reads only the messages past
the room's marker (``tests/server/test_query_plans.py``); these cases pin down that
nothing before the marker was needed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import OUTBOX_KEY
from rooms.access import RoomAccess, access_room
from rooms.actions.reading import Receipt, check_mark_read_many
from rooms.errors import InvalidInput, RoomNotFound, RoomsError
from rooms.events import user_channel
from rooms.models import Mention, Message, ReadMarker, Room
from rooms.queries import unread_counts
from server.database import Database
from tests.factories import World, build_world, message_row

TOPICS = ("Calendrier", "Logement", "Mobilités")


async def check_mark_read(
    session: AsyncSession, access: RoomAccess, *, seq: int, topic: str | None = None
) -> dict[str, Any]:
    """One receipt written alone: its counts, or its error raised."""
    (result,) = await check_mark_read_many(session, [Receipt(access, seq, topic)])
    if isinstance(result, RoomsError):
        raise result
    return result


@dataclass(frozen=True)
class Row:
    room_id: int
    seq: int
    topic: str
    author_id: int
    deleted: bool
    mentioned: bool  # mentions the reader


def _rows(world: World, reader: int) -> list[Row]:
    """Sixty messages in each of two rooms: every fourth the reader's own, every seventh
    deleted, every fifth mentioning the reader."""
    others = [world.id("paul"), world.id("elodie"), world.id("copilote")]
    return [
        Row(
            room_id=room,
            seq=seq,
            topic=TOPICS[seq % len(TOPICS)],
            author_id=reader if seq % 4 == 0 else others[seq % len(others)],
            deleted=seq % 7 == 0,
            mentioned=seq % 5 == 0,
        )
        for room in (world.group_room, world.chantier_room)
        for seq in range(1, 61)
    ]


async def _store(db: Database, rows: list[Row], reader: int) -> None:
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(Message),
            [
                message_row(
                    r.room_id,
                    r.seq,
                    r.author_id,
                    topic=r.topic,
                    deleted_at=now if r.deleted else None,
                )
                for r in rows
            ],
        )
        ids = {
            (room, seq): id_
            for room, seq, id_ in await session.execute(
                select(Message.room_id, Message.seq, Message.id)
            )
        }
        await session.execute(
            insert(Mention),
            [
                {
                    "message_id": ids[(r.room_id, r.seq)],
                    "user_id": reader,
                    "room_id": r.room_id,
                    "seq": r.seq,
                }
                for r in rows
                if r.mentioned
            ],
        )


def _by_hand_rows(
    rows: list[Row], reader: int, markers: dict[tuple[int, str], int], room_ids: list[int]
) -> list[Row]:
    """The messages unread by ``reader``: someone else's, not deleted, past the room's
    marker and the topic's."""
    return [
        r
        for r in rows
        if r.room_id in room_ids
        and r.seq > markers.get((r.room_id, ""), 0)
        and r.seq > markers.get((r.room_id, r.topic), 0)
        and not r.deleted
        and r.author_id != reader
    ]


def _by_hand(
    rows: list[Row], reader: int, markers: dict[tuple[int, str], int], room_ids: list[int]
) -> dict[int, dict[str, Any]]:
    counts: dict[int, dict[str, Any]] = {
        room: {"unread": 0, "mentions": 0, "topics": {}} for room in room_ids
    }
    for r in _by_hand_rows(rows, reader, markers, room_ids):
        entry = counts[r.room_id]
        topic = entry["topics"].setdefault(r.topic, {"unread": 0, "mentions": 0})
        for target in (entry, topic):
            target["unread"] += 1
            target["mentions"] += int(r.mentioned)
    return counts


def _first_unread(
    rows: list[Row], reader: int, markers: dict[tuple[int, str], int], room_id: int
) -> int | None:
    unread = _by_hand_rows(rows, reader, markers, [room_id])
    return min((r.seq for r in unread), default=None)


async def test_unread_counts_match_a_count_by_hand(db: Database) -> None:
    world = await build_world(db)
    marie = world.id("marie")
    rows = _rows(world, marie)
    await _store(db, rows, marie)
    rooms = [world.group_room, world.chantier_room]
    cases: list[dict[tuple[int, str], int]] = [
        {},  # never read anything
        {(world.group_room, ""): 42},  # the room read up to 42
        # The room up to 20; one topic further, one topic behind the room's marker.
        {
            (world.group_room, ""): 20,
            (world.group_room, "Logement"): 50,
            (world.group_room, "Calendrier"): 10,
        },
        # Topics only, never the whole room; the other room read to its end.
        {(world.group_room, "Mobilités"): 33, (world.chantier_room, ""): 60},
    ]
    for markers in cases:
        async with db.transaction() as session:
            await session.execute(ReadMarker.__table__.delete())
            if markers:
                await session.execute(
                    insert(ReadMarker),
                    [
                        {"user_id": marie, "room_id": room, "topic": topic, "seq": seq}
                        for (room, topic), seq in markers.items()
                    ],
                )
            # Another member's markers change nothing for Marie.
            await session.execute(
                insert(ReadMarker).values(
                    user_id=world.id("paul"), room_id=world.group_room, topic="", seq=60
                )
            )
        async with db.read() as session:
            counted = await unread_counts(session, marie, rooms)
        assert counted == _by_hand(rows, marie, markers, rooms), markers
    # A room with no message at all, and no room.
    async with db.read() as session:
        assert await unread_counts(session, marie, [world.other_group_room]) == {
            world.other_group_room: {"unread": 0, "mentions": 0, "topics": {}}
        }
        assert await unread_counts(session, marie, []) == {}


async def test_a_receipt_at_the_rooms_end_counts_nothing(db: Database) -> None:
    """Read to the end of the room, nothing is unread: the receipt answers without
    counting. Read to an earlier point, or in one topic, it counts."""
    world = await build_world(db)
    marie, room = world.id("marie"), world.group_room
    rows = _rows(world, marie)
    await _store(db, rows, marie)
    async with db.transaction() as session:
        await session.execute(update(Room).where(Room.id == room).values(last_seq=60))
    statements: list[str] = []

    def heard(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", heard)
    try:
        for seq, topic in ((30, None), (40, "Logement"), (60, None)):
            statements.clear()
            async with db.transaction() as session:
                access = await access_room(session, marie, room)
                counts = await check_mark_read(session, access, seq=seq, topic=topic)
            markers = {(room, ""): 30} | ({(room, topic): seq} if topic else {(room, ""): seq})
            assert counts == _by_hand(rows, marie, markers, [room])[room], (seq, topic)
            counted = any("FROM messages" in s for s in statements)
            assert counted == (seq < 60), (seq, topic, statements)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", heard)
    assert counts == {"unread": 0, "mentions": 0, "topics": {}}


async def test_a_receipt_reads_the_rooms_end_itself(db: Database) -> None:
    """The gateway keeps a member's access for a minute, so the room it carries may be
    behind: the receipt reads where the room ends in its own transaction."""
    world = await build_world(db)
    marie, room = world.id("marie"), world.group_room
    async with db.read() as session:
        kept = await access_room(session, marie, room)
    assert kept.room.last_seq == 0
    rows = _rows(world, marie)
    await _store(db, rows, marie)
    async with db.transaction() as session:
        await session.execute(update(Room).where(Room.id == room).values(last_seq=60))
    async with db.transaction() as session:
        counts = await check_mark_read(session, kept, seq=60)
    assert counts == {"unread": 0, "mentions": 0, "topics": {}}
    # Markers only move forward; past the end is refused with where the end is.
    async with db.transaction() as session:
        counts = await check_mark_read(session, kept, seq=10)
    assert counts == {"unread": 0, "mentions": 0, "topics": {}}
    with pytest.raises(InvalidInput) as refused:
        async with db.transaction() as session:
            await check_mark_read(session, kept, seq=61)
    assert refused.value.data == {"field": "seq", "reason": "out_of_range", "last_seq": 60}
    async with db.read() as session:
        markers = list(await session.execute(select(ReadMarker.topic, ReadMarker.seq)))
    assert markers == [("", 60)]
    # A room deleted since the access was kept.
    async with db.transaction() as session:
        await session.execute(delete(Room).where(Room.id == world.other_group_room))
    gone = dataclasses.replace(kept, room=Room(id=world.other_group_room))
    with pytest.raises(RoomNotFound):
        async with db.transaction() as session:
            await check_mark_read(session, gone, seq=0)


async def test_receipts_written_together_answer_each_on_its_own(db: Database) -> None:
    """A batch of receipts (``check_mark_read_many``): one read of the rooms' ends, one
    upsert for every marker, each receipt answered with its room's counts after the whole
    batch or refused alone; one ``unread`` frame per member and room."""
    world = await build_world(db)
    marie, elodie, room = world.id("marie"), world.id("elodie"), world.group_room
    rows = _rows(world, marie)
    await _store(db, rows, marie)
    async with db.transaction() as session:
        await session.execute(update(Room).values(last_seq=60))
        await session.execute(delete(Room).where(Room.id == world.other_group_room))
        marie_access = await access_room(session, marie, room)
        elodie_access = await access_room(session, elodie, room)
    gone = dataclasses.replace(marie_access, room=Room(id=world.other_group_room))
    receipts = [
        Receipt(marie_access, 30),
        Receipt(elodie_access, 60),
        Receipt(marie_access, 40, "  Logement "),
        Receipt(elodie_access, 10),  # behind: the marker stays at 60
        Receipt(marie_access, 61),  # past the end
        Receipt(gone, 0),
        Receipt(marie_access, 5, "   "),  # no topic
        Receipt(marie_access, 20),  # behind this batch's 30
    ]
    statements: list[tuple[str, bool]] = []

    def heard(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        statements.append((statement, many))

    event.listen(db.engine.sync_engine, "before_cursor_execute", heard)
    try:
        async with db.transaction() as session:
            results = await check_mark_read_many(session, receipts)
            outbox = list(session.info.get(OUTBOX_KEY, []))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", heard)

    markers = {(room, ""): 30, (room, "Logement"): 40}
    marie_counts = _by_hand(rows, marie, markers, [room])[room]
    assert marie_counts["unread"] > 0
    nothing = {"unread": 0, "mentions": 0, "topics": {}}
    assert results[0] == results[2] == results[7] == marie_counts
    assert results[1] == results[3] == nothing
    assert isinstance(results[4], InvalidInput)
    assert results[4].data == {"field": "seq", "reason": "out_of_range", "last_seq": 60}
    assert isinstance(results[5], RoomNotFound)
    assert isinstance(results[6], InvalidInput)
    assert results[6].data["field"] == "topic"
    async with db.read() as session:
        stored = set(
            await session.execute(select(ReadMarker.user_id, ReadMarker.topic, ReadMarker.seq))
        )
    # Marie's messages 31 (in "Logement", read to 40) and 32 (her own) are read too: her
    # room marker moves up to the first unread message, 33.
    assert _first_unread(rows, marie, markers, room) == 33
    assert stored == {(marie, "", 32), (marie, "Logement", 40), (elodie, "", 60)}
    writes = [(s, many) for s, many in statements if "read_markers" in s and "INSERT" in s]
    assert len(writes) == 2, statements
    assert writes[0][1], "one executemany for every marker of the batch"
    assert sum("FROM rooms" in s for s, _ in statements) == 1
    assert sorted(channel for channel, _ in outbox) == sorted(
        [user_channel(marie), user_channel(elodie)]
    )


async def test_reading_topic_by_topic_moves_the_rooms_marker(db: Database) -> None:
    """A member who reads each topic in turn never sends a receipt for the whole room:
    their room marker follows the first message they have not read, so that counts start
    there (finding 40), and the counts are those of the topics' markers alone."""
    world = await build_world(db)
    marie, room = world.id("marie"), world.group_room
    rows = _rows(world, marie)
    await _store(db, rows, marie)
    async with db.transaction() as session:
        await session.execute(update(Room).values(last_seq=60))
        access = await access_room(session, marie, room)
    topic_markers: dict[tuple[int, str], int] = {}
    for topic in ("Logement", "Calendrier", "Mobilités"):
        async with db.transaction() as session:
            counts = await check_mark_read(session, access, seq=60, topic=topic)
        topic_markers[(room, topic)] = 60
        assert counts == _by_hand(rows, marie, topic_markers, [room])[room], topic
        first = _first_unread(rows, marie, topic_markers, room)
        async with db.read() as session:
            room_marker = await session.scalar(
                select(ReadMarker.seq).where(ReadMarker.user_id == marie, ReadMarker.topic == "")
            )
        assert (room_marker or 0) == (60 if first is None else first - 1), topic
    assert first is None
    assert counts == {"unread": 0, "mentions": 0, "topics": {}}
