"""Reactions: an emoji per member per message, added or removed explicitly.

The wire has ``add`` and ``remove`` rather than a toggle so that a resent frame is
harmless: adding twice or removing something absent records nothing.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.roles import Permission
from rooms import events
from rooms.access import RoomAccess
from rooms.errors import MessageDeleted, MessageNotFound, NotAllowed
from rooms.models import Message, Reaction
from rooms.moderation import check_can_write
from rooms.validation import clean_emoji


async def check_react(
    session: AsyncSession, access: RoomAccess, *, message_id: int, emoji: str, add: bool
) -> int | None:
    """Add or remove the caller's ``emoji`` on a message.

    Returns:
        The event's ``seq``, or ``None`` when nothing changed.
    """
    if not access.allows(Permission.REACT):
        raise NotAllowed(permission=Permission.REACT.value)
    emoji = clean_emoji(emoji)
    await events.lock_room(session, access.room.id)
    message = await session.get(Message, message_id)
    if message is None or message.room_id != access.room.id:
        raise MessageNotFound(message_id=message_id)
    if message.deleted_at is not None:
        raise MessageDeleted(message_id=message_id)
    key = (Reaction.message_id == message_id, Reaction.user_id == access.user_id)
    existing = await session.scalar(select(Reaction.emoji).where(*key, Reaction.emoji == emoji))
    if add == (existing is not None):
        return None
    await check_can_write(session, access)
    if add:
        session.add(Reaction(message_id=message_id, user_id=access.user_id, emoji=emoji))
    else:
        await session.execute(delete(Reaction).where(*key, Reaction.emoji == emoji))
    seq, _ = await events.record(
        session,
        access.room.id,
        events.REACTION_ADDED if add else events.REACTION_REMOVED,
        {"message_id": message_id, "emoji": emoji, "user_id": access.user_id},
        message_id=message_id,
    )
    return seq
