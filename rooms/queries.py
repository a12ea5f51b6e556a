"""Read-only queries: history pages, the event log, topics and unread counts."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.models import User
from rooms.models import Mention, Message, Reaction, ReadMarker, Room, RoomEvent
from rooms.shapes import iso, message_shape, reply_shape

MAX_PAGE = 200
_MESSAGES = Message.__table__
_USERS = User.__table__


async def list_events(
    session: AsyncSession, room_id: int, *, after: int, limit: int
) -> list[tuple[int, str]]:
    """The room's events after position ``after``, oldest first, as ``(seq, frame)``."""
    rows = await session.execute(
        select(RoomEvent.seq, RoomEvent.data)
        .where(RoomEvent.room_id == room_id, RoomEvent.seq > after)
        .order_by(RoomEvent.seq)
        .limit(limit)
    )
    return [(seq, data) for seq, data in rows]


async def list_messages(
    session: AsyncSession,
    room_id: int,
    *,
    before: int | None = None,
    after: int | None = None,
    topic: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """A page of messages in their current state, oldest first.

    With ``before`` the page ends just before that position (scrolling back); with
    ``after`` it starts just after it; with neither it is the newest page.
    """
    limit = max(1, min(limit, MAX_PAGE))
    mode = "after" if after is not None else "before" if before is not None else "newest"
    query = _page_query(mode, topic is not None)
    params: dict[str, Any] = {"room_id": room_id, "limit": limit}
    if topic is not None:
        params["topic"] = topic
    if mode != "newest":
        params[mode] = after if mode == "after" else before
    messages = list((await session.execute(query, params)).all())
    messages.sort(key=lambda m: m.seq)
    return await shape_messages(session, messages)


@functools.cache
def _page_query(mode: str, by_topic: bool) -> Select[Any]:
    """A page's statement, built once per shape: the same object on every call, so
    SQLAlchemy's compiled cache answers at once (building it per call was about a tenth
    of a page's time).

    Rows, not ORM objects: the shapes only read them, and loading a page of 100
    ``Message`` objects was a third of a history page's time. The author's name comes
    with the row (one query fewer per page).
    """
    query = (
        select(*_MESSAGES.c, _USERS.c.display_name.label("author_name"))
        .select_from(_MESSAGES.outerjoin(_USERS, _USERS.c.id == _MESSAGES.c.author_id))
        .where(_MESSAGES.c.room_id == bindparam("room_id"))
    )
    if by_topic:
        query = query.where(_MESSAGES.c.topic == bindparam("topic"))
    if mode == "after":
        query = query.where(_MESSAGES.c.seq > bindparam("after")).order_by(_MESSAGES.c.seq)
    else:
        if mode == "before":
            query = query.where(_MESSAGES.c.seq < bindparam("before"))
        query = query.order_by(_MESSAGES.c.seq.desc())
    return query.limit(bindparam("limit"))


# Reactions and mentions of a list of messages, in one statement (a mention's emoji is
# NULL); built once, like ``_page_query``.
_REACTIONS_AND_MENTIONS = union_all(
    select(Reaction.message_id, Reaction.emoji, Reaction.user_id).where(
        Reaction.message_id.in_(bindparam("ids", expanding=True))
    ),
    select(Mention.message_id, literal(None, String), Mention.user_id).where(
        Mention.message_id.in_(bindparam("ids", expanding=True))
    ),
)


async def shape_messages(session: AsyncSession, messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Shape messages (``Message`` objects or rows of its columns, with ``author_name``
    when known) with their authors, reactions, mentions and replies in two to four
    queries."""
    if not messages:
        return []
    ids = [m.id for m in messages]
    parent_ids = {m.reply_to_id for m in messages if m.reply_to_id}
    parents = {}
    if parent_ids:
        rows = await session.execute(select(*_MESSAGES.c).where(Message.id.in_(parent_ids)))
        parents = {p.id: p for p in rows.all()}
    # Names the rows brought (``list_messages``); the others are read.
    names: dict[int | None, str] = {
        m.author_id: m.author_name for m in messages if getattr(m, "author_name", None)
    }
    user_ids = {m.author_id for m in messages} | {p.author_id for p in parents.values()}
    if missing := {u for u in user_ids if u is not None and u not in names}:
        rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(missing)))
        names.update({int(user_id): str(name) for user_id, name in rows})
    rows = await session.execute(_REACTIONS_AND_MENTIONS, {"ids": ids})
    reactions: dict[int, dict[str, list[int]]] = defaultdict(dict)
    mentions: dict[int, list[int]] = defaultdict(list)
    for message_id, emoji, user_id in sorted(rows, key=lambda row: row[2]):
        if emoji is None:
            mentions[message_id].append(user_id)
        else:
            reactions[message_id].setdefault(emoji, []).append(user_id)
    shaped = []
    for m in messages:
        parent = parents.get(m.reply_to_id) if m.reply_to_id else None
        shaped.append(
            message_shape(
                m,
                author_name=names.get(m.author_id) if m.author_id else None,
                reactions=reactions.get(m.id),
                mentions=mentions.get(m.id),
                reply=reply_shape(parent, names.get(parent.author_id) if parent else None)
                if parent
                else None,
            )
        )
    return shaped


async def list_topics(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    """Topics of a room with their message count, most recently active first."""
    rows = await session.execute(
        select(Message.topic, func.count(), func.max(Message.seq))
        .where(Message.room_id == room_id, Message.deleted_at.is_(None))
        .group_by(Message.topic)
        .order_by(func.max(Message.seq).desc())
    )
    return [{"name": t, "count": n, "last_seq": s} for t, n, s in rows]


def _unread_query() -> Select[tuple[str, int, int, int]]:
    """One room's unread counts by topic, past the member's marker for the whole room,
    with each topic's first unread position.

    The room's marker is a value here (``after``), not a join: the messages are then
    read by ``ix_messages_room_seq`` from that position on, so a member who is up to date
    costs the few messages since, not the whole room. Joined to the marker, the
    statement read every message of the room on every read receipt: 120 ms on
    PostgreSQL and 350 ms on SQLite for a room of a million messages with ten unread
    (docs/performance.md, finding 37). Built once, so SQLAlchemy's compiled cache
    answers at once.
    """
    topic_marker = aliased(ReadMarker, name="topic_marker")
    mention = aliased(Mention, name="mention")
    user_id = bindparam("user_id")
    return (
        select(
            Message.topic,
            func.count(Message.id),
            func.count(mention.user_id),
            func.min(Message.seq),
        )
        .outerjoin(
            topic_marker,
            and_(
                topic_marker.user_id == user_id,
                topic_marker.room_id == Message.room_id,
                topic_marker.topic == Message.topic,
            ),
        )
        .outerjoin(mention, and_(mention.message_id == Message.id, mention.user_id == user_id))
        .where(
            Message.room_id == bindparam("room_id", type_=Integer),
            Message.seq > bindparam("after", type_=Integer),
            Message.deleted_at.is_(None),
            or_(Message.author_id.is_(None), Message.author_id != user_id),
            Message.seq > func.coalesce(topic_marker.seq, 0),
        )
        .group_by(Message.topic)
    )


UNREAD_IN_ROOM = _unread_query()
_ROOM_MARKERS = select(ReadMarker.room_id, ReadMarker.seq).where(
    ReadMarker.user_id == bindparam("user_id"),
    ReadMarker.room_id.in_(bindparam("room_ids", expanding=True)),
    ReadMarker.topic == "",
)


def no_unread() -> dict[str, Any]:
    """A room's counts with nothing unread (the shape of the ``unread`` frame's)."""
    return {"unread": 0, "mentions": 0, "topics": {}}


@dataclass(slots=True)
class Unread:
    """A room's unread counts for a member (``counts``, as the ``unread`` frame carries
    them), the member's marker for the whole room, and the position of the first unread
    message (``None``: nothing unread)."""

    counts: dict[str, Any]
    room_marker: int
    first_unread: int | None


async def unread_in_rooms(
    session: AsyncSession, user_id: int, room_ids: list[int]
) -> dict[int, Unread]:
    """Unread messages and unread mentions of ``user_id``, per room and per topic.

    A message is unread when it is someone else's, not deleted, and past both the
    member's marker for the whole room and their marker for its topic. One statement per
    room, each reading only what lies past the room's marker (:func:`_unread_query`).
    """
    if not room_ids:
        return {}
    params = {"user_id": user_id, "room_ids": list(room_ids)}
    rows = await session.execute(_ROOM_MARKERS, params)
    markers = {int(room): int(seq) for room, seq in rows}
    found: dict[int, Unread] = {}
    for room_id in dict.fromkeys(room_ids):
        after = markers.get(room_id, 0)
        entry = Unread(no_unread(), after, None)
        counts = entry.counts
        one = {"user_id": user_id, "room_id": room_id, "after": after}
        for topic, unread, mentioned, first in await session.execute(UNREAD_IN_ROOM, one):
            counts["unread"] += unread
            counts["mentions"] += mentioned
            counts["topics"][topic] = {"unread": unread, "mentions": mentioned}
            if entry.first_unread is None or first < entry.first_unread:
                entry.first_unread = int(first)
        found[room_id] = entry
    return found


async def unread_counts(
    session: AsyncSession, user_id: int, room_ids: list[int]
) -> dict[int, dict[str, Any]]:
    """The counts of :func:`unread_in_rooms`, room by room."""
    found = await unread_in_rooms(session, user_id, room_ids)
    return {room_id: entry.counts for room_id, entry in found.items()}


async def export_messages(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """Every message ``user_id`` wrote (for their data export), oldest first."""
    rows = await session.execute(
        select(Message, Room.name)
        .join(Room, Room.id == Message.room_id)
        .where(Message.author_id == user_id)
        .order_by(Message.id)
    )
    return [
        {
            "room": room_name,
            "topic": message.topic,
            "source": message.source,
            "created_at": iso(message.created_at),
            "edited_at": iso(message.edited_at),
            "deleted": message.deleted_at is not None,
        }
        for message, room_name in rows
    ]
