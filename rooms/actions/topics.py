"""Topics (*sujets*): renaming one, and moving messages from one topic to another.

A topic is the ``topic`` string of its messages (as in Zulip), so renaming is moving every
message of the topic. Read markers follow the messages so nothing turns unread.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.roles import Permission
from rooms import events
from rooms.access import RoomAccess
from rooms.errors import InvalidInput, NotAllowed
from rooms.limits import MAX_MOVE_MESSAGES
from rooms.models import Message, ReadMarker
from rooms.validation import clean_topic


async def check_rename_topic(
    session: AsyncSession, access: RoomAccess, *, old: str, new: str
) -> int | None:
    """Rename ``old`` to ``new`` in the room (merging if ``new`` exists).

    Returns:
        The event's ``seq``, or ``None`` when the topic has no message or keeps its name.
    """
    if not access.allows(Permission.MANAGE_TOPICS):
        raise NotAllowed(permission=Permission.MANAGE_TOPICS.value)
    old, new = clean_topic(old), clean_topic(new)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    moved = await session.execute(
        update(Message)
        .where(Message.room_id == room_id, Message.topic == old)
        .values(topic=new)
        .returning(Message.id)
    )
    if old == new or not moved.all():
        return None
    await _carry_read_markers(session, room_id, old, new)
    seq, _ = await events.record(session, room_id, events.TOPIC_RENAMED, {"old": old, "new": new})
    return seq


async def _carry_read_markers(session: AsyncSession, room_id: int, old: str, new: str) -> None:
    """Each member's marker on ``old`` becomes (or raises) their marker on ``new``."""
    rows = await session.scalars(
        select(ReadMarker).where(ReadMarker.room_id == room_id, ReadMarker.topic.in_([old, new]))
    )
    markers: dict[int, dict[str, ReadMarker]] = {}
    for marker in rows:
        markers.setdefault(marker.user_id, {})[marker.topic] = marker
    for by_topic in markers.values():
        former = by_topic.get(old)
        if former is None:
            continue
        current = by_topic.get(new)
        if current is None:
            session.add(
                ReadMarker(user_id=former.user_id, room_id=room_id, topic=new, seq=former.seq)
            )
        else:
            current.seq = max(current.seq, former.seq)
        await session.delete(former)
    await session.flush()


async def check_move_messages(
    session: AsyncSession, access: RoomAccess, *, message_ids: list[int], topic: str
) -> int | None:
    """Move messages of this room into ``topic``.

    Raises:
        InvalidInput: no ids, too many, or ids that are not messages of this room.
    """
    if not access.allows(Permission.MANAGE_TOPICS):
        raise NotAllowed(permission=Permission.MANAGE_TOPICS.value)
    topic = clean_topic(topic)
    ids = sorted(set(message_ids))
    if not ids or len(ids) > MAX_MOVE_MESSAGES:
        raise InvalidInput(field="message_ids", reason="count", limit=MAX_MOVE_MESSAGES)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    found = await session.scalars(
        select(Message.id).where(Message.room_id == room_id, Message.id.in_(ids))
    )
    if sorted(found.all()) != ids:
        raise InvalidInput(field="message_ids", reason="unknown")
    await session.execute(update(Message).where(Message.id.in_(ids)).values(topic=topic))
    seq, _ = await events.record(
        session, room_id, events.MESSAGES_MOVED, {"message_ids": ids, "topic": topic}
    )
    return seq
