"""Read markers: how far each member has read a room or one of its topics.

Markers only move forward, so two devices reporting in any order end at the furthest
point. After a change the member's devices are sent fresh unread counts on their own
channel (``user:<id>``), computed by the server: the counts are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import dumps, emit
from rooms.access import RoomAccess
from rooms.errors import InvalidInput
from rooms.events import user_channel
from rooms.models import ReadMarker
from rooms.queries import unread_counts
from rooms.validation import clean_topic


async def check_mark_read(
    session: AsyncSession, access: RoomAccess, *, seq: int, topic: str | None = None
) -> dict[str, Any]:
    """Advance the caller's marker for the room (or one topic) to ``seq``.

    Returns:
        The room's unread counts for the caller after the change.
    """
    room = access.room
    if seq < 0 or seq > room.last_seq:
        raise InvalidInput(field="seq", reason="out_of_range", last_seq=room.last_seq)
    key = clean_topic(topic) if topic else ""
    marker = await session.scalar(
        select(ReadMarker)
        .where(
            ReadMarker.user_id == access.user_id,
            ReadMarker.room_id == room.id,
            ReadMarker.topic == key,
        )
        .with_for_update()
    )
    if marker is None:
        session.add(ReadMarker(user_id=access.user_id, room_id=room.id, topic=key, seq=seq))
    elif seq > marker.seq:
        marker.seq = seq
    await session.flush()
    if key == "" and seq >= room.last_seq:
        # Read to the room's end (as read in this transaction): nothing can be past
        # the marker. The usual receipt — a member reading as messages arrive — then
        # costs no count (docs/performance.md, finding 37).
        counts: dict[str, Any] = {"unread": 0, "mentions": 0, "topics": {}}
    else:
        counts = (await unread_counts(session, access.user_id, [room.id]))[room.id]
    emit(
        session,
        user_channel(access.user_id),
        dumps({"type": "unread", "room_id": room.id, **counts}),
    )
    return counts
