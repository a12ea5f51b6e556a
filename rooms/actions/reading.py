"""Read markers: how far each member has read a room or one of its topics.

Markers only move forward, so two devices reporting in any order end at the furthest
point. After a change the member's devices are sent fresh unread counts on their own
channel (``user:<id>``), computed by the server: the counts are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import dumps, emit
from rooms.access import RoomAccess
from rooms.errors import InvalidInput, RoomNotFound
from rooms.events import user_channel
from rooms.models import ReadMarker, Room
from rooms.queries import unread_counts
from rooms.validation import clean_topic

_MARKERS = ReadMarker.__table__
_ROOMS = Room.__table__
# Bind names other than the columns': SQLAlchemy keeps those for an UPDATE's SET.
_KEY = (
    _MARKERS.c.user_id == bindparam("b_user"),
    _MARKERS.c.room_id == bindparam("b_room"),
    _MARKERS.c.topic == bindparam("b_topic"),
)
# Core statements on the session's connection, built once: a receipt follows every
# message each member reads, and through the ORM (the room loaded with the member's
# access, the marker as an object, a flush) it cost about 3 ms of CPU on SQLite
# (docs/performance.md, finding 38).
_ROOM_END = select(_ROOMS.c.last_seq).where(_ROOMS.c.id == bindparam("b_room"))
_ADVANCE = (
    update(_MARKERS)
    .where(*_KEY, _MARKERS.c.seq < bindparam("b_seq"))
    .values(seq=bindparam("b_seq"))
)
_MARKER = select(_MARKERS.c.seq).where(*_KEY)
_FIRST = insert(_MARKERS).values(
    user_id=bindparam("b_user"),
    room_id=bindparam("b_room"),
    topic=bindparam("b_topic"),
    seq=bindparam("b_seq"),
)


async def check_mark_read(
    session: AsyncSession, access: RoomAccess, *, seq: int, topic: str | None = None
) -> dict[str, Any]:
    """Advance the caller's marker for the room (or one topic) to ``seq``.

    Only the room's id is taken from ``access`` (the gateway's kept access, read at
    most every minute): the room's end is read here, in the transaction.

    Returns:
        The room's unread counts for the caller after the change.

    Raises:
        RoomNotFound, InvalidInput.
    """
    room_id = access.room.id
    connection = await session.connection()
    last_seq = (await connection.execute(_ROOM_END, {"b_room": room_id})).scalar()
    if last_seq is None:
        raise RoomNotFound(room_id=room_id)
    if seq < 0 or seq > last_seq:
        raise InvalidInput(field="seq", reason="out_of_range", last_seq=last_seq)
    key = clean_topic(topic) if topic else ""
    params = {"b_user": access.user_id, "b_room": room_id, "b_topic": key, "b_seq": seq}
    if not (await connection.execute(_ADVANCE, params)).rowcount:
        # Not moved: the marker is already there or further, or there is none yet.
        if (await connection.execute(_MARKER, params)).first() is None:
            await connection.execute(_FIRST, params)
    if key == "" and seq >= last_seq:
        # Read to the room's end (as read in this transaction): nothing can be past
        # the marker. The usual receipt — a member reading as messages arrive — then
        # costs no count (docs/performance.md, finding 37).
        counts: dict[str, Any] = {"unread": 0, "mentions": 0, "topics": {}}
    else:
        counts = (await unread_counts(session, access.user_id, [room_id]))[room_id]
    emit(
        session,
        user_channel(access.user_id),
        dumps({"type": "unread", "room_id": room_id, **counts}),
    )
    return counts
