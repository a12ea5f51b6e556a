"""Room events: the append-only, per-room ordered log, and their wire shapes.

``record()`` is how an event enters a room: it takes the next ``seq`` from
``rooms.last_seq`` in the caller's transaction, stores the frame in ``room_events`` and
queues it on the outbox (``auth.base.emit``) for publication after commit. The group
commit of messages does the same for a batch: ``advance()`` moves the position once,
``append_many()`` stores and queues the frames. The stored
``data`` *is* the frame sent to clients, so a catch-up replays exactly the bytes the live
stream carried.

Event types (all carry ``room_id`` and ``seq``; see ``docs/protocol.md``):
``message.posted``, ``message.edited``, ``message.deleted``, ``reaction.added``,
``reaction.removed``, ``topic.renamed``, ``messages.moved``; moderation
(``rooms/actions/moderation.py``): ``message.hidden``, ``message.restored``,
``message.pinned``, ``message.unpinned``, ``room.locked``, ``room.unlocked``,
``room.slow_mode``, ``room.updated``, ``announcement.posted``, ``member.muted``,
``member.unmuted``, ``member.removed``; polls (``rooms/actions/polls.py``):
``poll.created``, ``poll.voted``, ``poll.closed``.

Broker channels: ``room:<id>:<seq>`` for a durable event (the hub reads the position from
the channel without parsing the frame), ``room:<id>`` for ephemeral frames (typing),
``user:<id>`` for frames aimed at one member's devices (unread counts, and the
moderation frames only moderators or the member concerned may see).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Integer, Select, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import dumps, emit, utcnow
from rooms.models import Message, Room, RoomEvent

MESSAGE_POSTED = "message.posted"
MESSAGE_EDITED = "message.edited"
MESSAGE_DELETED = "message.deleted"
REACTION_ADDED = "reaction.added"
REACTION_REMOVED = "reaction.removed"
TOPIC_RENAMED = "topic.renamed"
MESSAGES_MOVED = "messages.moved"
# Moderation.
MESSAGE_HIDDEN = "message.hidden"
MESSAGE_RESTORED = "message.restored"
MESSAGE_PINNED = "message.pinned"
MESSAGE_UNPINNED = "message.unpinned"
ROOM_LOCKED = "room.locked"
ROOM_UNLOCKED = "room.unlocked"
ROOM_SLOW_MODE = "room.slow_mode"
ROOM_UPDATED = "room.updated"
ANNOUNCEMENT_POSTED = "announcement.posted"
MEMBER_MUTED = "member.muted"
MEMBER_UNMUTED = "member.unmuted"
MEMBER_REMOVED = "member.removed"
# Polls (``rooms/actions/polls.py``).
POLL_CREATED = "poll.created"
POLL_VOTED = "poll.voted"
POLL_CLOSED = "poll.closed"
POLL_OPENED = "poll.opened"
POLL_EXTENDED = "poll.extended"
POLL_REMINDER = "poll.reminder"
PROXY_GIVEN = "proxy.given"
PROXY_REVOKED = "proxy.revoked"

ROOM_EVENT_TYPES = frozenset(
    {
        MESSAGE_POSTED,
        MESSAGE_EDITED,
        MESSAGE_DELETED,
        REACTION_ADDED,
        REACTION_REMOVED,
        TOPIC_RENAMED,
        MESSAGES_MOVED,
        MESSAGE_HIDDEN,
        MESSAGE_RESTORED,
        MESSAGE_PINNED,
        MESSAGE_UNPINNED,
        ROOM_LOCKED,
        ROOM_UNLOCKED,
        ROOM_SLOW_MODE,
        ROOM_UPDATED,
        ANNOUNCEMENT_POSTED,
        MEMBER_MUTED,
        MEMBER_UNMUTED,
        MEMBER_REMOVED,
        POLL_CREATED,
        POLL_VOTED,
        POLL_CLOSED,
        POLL_OPENED,
        POLL_EXTENDED,
        POLL_REMINDER,
        PROXY_GIVEN,
        PROXY_REVOKED,
    }
)


def durable_channel(room_id: int, seq: int) -> str:
    return f"room:{room_id}:{seq}"


def room_channel(room_id: int) -> str:
    return f"room:{room_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


async def lock_room(session: AsyncSession, room_id: int) -> int:
    """Lock the room row until commit and return its ``last_seq``.

    Writers of one room are serialised here (PostgreSQL row lock; SQLite serialises all
    writers anyway), which makes ``seq`` order equal commit order.
    """
    result = await session.execute(
        select(Room.last_seq).where(Room.id == room_id).with_for_update()
    )
    return int(result.scalar_one())


async def record(
    session: AsyncSession,
    room_id: int,
    event_type: str,
    payload: dict[str, Any],
    *,
    message_id: int | None = None,
) -> tuple[int, str]:
    """Append an event to the room's log and queue it for publication after commit.

    Args:
        room_id: the room; its row is locked by this call if not already.
        event_type: one of :data:`ROOM_EVENT_TYPES`.
        payload: the event's fields besides ``type``, ``room_id`` and ``seq``.
        message_id: the message the event is about, so a deletion can redact it.

    Returns:
        ``(seq, frame)``: the event's position and its encoded frame.
    """
    result = await session.execute(
        update(Room)
        .where(Room.id == room_id)
        .values(last_seq=Room.last_seq + 1)
        .returning(Room.last_seq)
    )
    seq = int(result.scalar_one())
    frame = _frame_queued(session, room_id, seq, event_type, payload)
    session.add(
        RoomEvent(
            room_id=room_id,
            seq=seq,
            type=event_type,
            message_id=message_id,
            data=frame,
            created_at=utcnow(),
        )
    )
    return seq, frame


def frame_of(room_id: int, seq: int, event_type: str, payload: dict[str, Any]) -> str:
    """An event's frame: what is stored, published and replayed."""
    return dumps({"type": event_type, "room_id": room_id, "seq": seq, **payload})


def _frame_queued(
    session: AsyncSession, room_id: int, seq: int, event_type: str, payload: dict[str, Any]
) -> str:
    """The event's frame, queued for publication after commit."""
    frame = frame_of(room_id, seq, event_type, payload)
    emit(session, durable_channel(room_id, seq), frame)
    return frame


_ROOMS = Room.__table__
ADVANCE = (
    update(_ROOMS)
    .where(_ROOMS.c.id == bindparam("room"), _ROOMS.c.last_seq == bindparam("before"))
    .values(last_seq=bindparam("after"))
)
# PostgreSQL: every room of a batch in one statement (arrays of rooms, befores, afters).
_MOVES = (
    func.unnest(
        bindparam("rooms", type_=ARRAY(Integer)),
        bindparam("befores", type_=ARRAY(Integer)),
        bindparam("afters", type_=ARRAY(Integer)),
    )
    .table_valued("room", "before", "after")
    .render_derived(name="moves")
)
ADVANCE_MANY = (
    update(_ROOMS)
    .where(_ROOMS.c.id == _MOVES.c.room, _ROOMS.c.last_seq == _MOVES.c.before)
    .values(last_seq=_MOVES.c.after)
)
_EVENTS = RoomEvent.__table__
EVENT_COLUMNS = ("room_id", "seq", "type", "message_id", "data", "created_at")
APPEND = insert(_EVENTS).values({column: bindparam(column) for column in EVENT_COLUMNS})


async def advance(session: AsyncSession, room_id: int, *, before: int, after: int) -> None:
    """Move the room's position from ``before`` to ``after`` for events the caller
    appends itself (:func:`append_many`), holding the room lock since it read ``before``."""
    connection = await session.connection()
    result = await connection.execute(ADVANCE, {"room": room_id, "before": before, "after": after})
    if result.rowcount != 1:  # pragma: no cover - guarded by the room lock
        raise RuntimeError("room sequence moved under its lock")


def event_rows(
    events: list[Appended], now: dt.datetime
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The rows of :data:`APPEND` for ``events``, and what to publish once they commit
    (``(channel, frame)``): the stored ``data`` is the frame."""
    rows: list[dict[str, Any]] = []
    outbox: list[tuple[str, str]] = []
    for event in events:
        frame = frame_of(event.room_id, event.seq, event.type, event.payload)
        outbox.append((durable_channel(event.room_id, event.seq), frame))
        rows.append(
            {
                "room_id": event.room_id,
                "seq": event.seq,
                "type": event.type,
                "message_id": event.message_id,
                "data": frame,
                "created_at": now,
            }
        )
    return rows, outbox


async def append_many(session: AsyncSession, events: list[Appended]) -> None:
    """Store events at the positions :func:`advance` took, in one statement (the group
    commit of messages), and queue each for publication after commit."""
    if not events:
        return
    rows, outbox = event_rows(events, utcnow())
    for channel, frame in outbox:
        emit(session, channel, frame)
    connection = await session.connection()
    await connection.execute(APPEND, rows)


@dataclass(frozen=True, slots=True)
class Appended:
    """An event for :func:`append_many`."""

    room_id: int
    seq: int
    type: str
    payload: dict[str, Any]
    message_id: int | None = None


def replies_of(message_id: int) -> Select[tuple[int]]:
    """The ids of the messages that reply to ``message_id``: one probe of the partial
    index ``ix_messages_reply_to_id``. Without it, deleting a message read the whole
    table (docs/performance.md, finding 35)."""
    return select(Message.id).where(Message.reply_to_id == message_id)


async def redact(session: AsyncSession, message_id: int, redacted: dict[str, Any]) -> None:
    """Erase a deleted (or hidden) message's text from the log, keeping every position.

    ``redacted`` is the tombstone form of the message; ``message.posted`` and
    ``message.restored`` frames get it in place of the original, ``message.edited`` frames
    lose their text and ``message.pinned`` frames their excerpt. A member catching up
    therefore never receives the text of a message deleted before they came back.
    """
    rows = await session.execute(
        select(RoomEvent).where(
            RoomEvent.message_id == message_id,
            RoomEvent.type.in_([MESSAGE_POSTED, MESSAGE_EDITED, MESSAGE_RESTORED, MESSAGE_PINNED]),
        )
    )
    for event in rows.scalars():
        frame = orjson.loads(event.data)
        if event.type in (MESSAGE_POSTED, MESSAGE_RESTORED):
            frame["message"] = redacted
        elif event.type == MESSAGE_PINNED:
            frame.update(excerpt="", redacted=True)
        else:
            frame.update(source="", html="", mentions=[], redacted=True)
        event.data = dumps(frame)
    # Replies quote an excerpt of their parent: that quote goes too.
    quoting = await session.scalars(
        select(RoomEvent).where(
            RoomEvent.message_id.in_(replies_of(message_id)),
            RoomEvent.type.in_([MESSAGE_POSTED, MESSAGE_RESTORED]),
        )
    )
    for event in quoting:
        frame = orjson.loads(event.data)
        quote = frame["message"].get("reply_to")
        if quote and quote.get("id") == message_id:
            quote.update(excerpt="", deleted=True)
            event.data = dumps(frame)
