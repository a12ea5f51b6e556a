"""Moderation, the read side: who may write in a room right now, the room's state (pins,
announcements, description, lock, slow mode) and the moderators' report (open flags,
restrictions, acknowledgements, the moderation log).

Nothing here changes state; ``rooms/actions/moderation.py`` does. The write actions of
the rooms domain (posting, editing, reacting, flagging) call :func:`check_can_write`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.models import User
from auth.roles import Permission
from documents.rendering import render_markdown
from rooms.access import RoomAccess
from rooms.errors import Blocked, Muted, RoomLocked, RoomsError, SlowMode
from rooms.models import (
    Announcement,
    AnnouncementAck,
    HiddenMessage,
    MemberBlock,
    Message,
    MessageFlag,
    ModerationEntry,
    PinnedMessage,
    Room,
    RoomExclusion,
    RoomMute,
)
from rooms.shapes import FORMER_MEMBER, excerpt, iso

FLAG_REASONS = ("spam", "offensive", "off_topic", "other")
ANNOUNCEMENTS_SHOWN = 10
LOG_PAGE = 200


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes: they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def names_of(session: AsyncSession, user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {int(uid): str(name) for uid, name in rows}


def person(user_id: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    if user_id is None:
        return None
    return {"id": user_id, "name": names.get(user_id, FORMER_MEMBER)}


# -- who may write -----------------------------------------------------------------------
async def check_not_blocked(session: AsyncSession, user_id: int) -> None:
    """Raises ``Blocked`` when ``user_id`` is blocked across the assembly."""
    block = await session.get(MemberBlock, user_id)
    if block is not None:
        raise Blocked(reason=block.reason)


async def active_mute(session: AsyncSession, room_id: int, user_id: int) -> RoomMute | None:
    mute = await session.get(RoomMute, (room_id, user_id))
    if mute is None or aware(mute.until) <= utcnow():
        return None
    return mute


@dataclass(frozen=True, slots=True)
class WriteState:
    """What decides whether a member may write in a room now, read in one statement.

    Posting is the hot path (every message): the room's position, its lock and slow mode,
    the member's block and mute, their last message in the room (only read when slow mode
    is on) and an earlier message with the same client id all come from a single query,
    which also takes the room's row lock when asked. Deciding from it is pure
    (:func:`write_refusal`), so SQLite's direct writer (``rooms.actions.sqlite_posting``)
    applies the same rules.
    """

    last_seq: int
    blocked: bool
    block_reason: str | None
    locked: bool
    slow_mode_secs: int
    muted_until: dt.datetime | None
    last_post_at: dt.datetime | None
    earlier_id: int | None
    earlier_seq: int | None = None
    earlier_room_id: int | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> WriteState:
        """From the columns of :data:`WRITE_STATE` (``row`` is in their order)."""
        (last_seq, blocked, reason, locked_at, slow, muted_until, last_post_at) = row[:7]
        return cls(
            last_seq=int(last_seq),
            blocked=blocked is not None,
            block_reason=reason,
            locked=locked_at is not None,
            slow_mode_secs=int(slow or 0),
            muted_until=muted_until,
            last_post_at=last_post_at,
            earlier_id=row[7],
            earlier_seq=row[8],
            earlier_room_id=row[9],
        )


def _write_state_query(*, lock: bool, many: bool = False) -> Select[Any]:
    """The statement of :func:`write_state`, built once on the tables (Core, not the ORM):
    building it per message, with its subqueries, was a tenth of the cost of a send.

    ``many`` (PostgreSQL): the state of several sends in one round trip, from arrays of
    ``room_ids``, ``user_ids`` and ``client_ids``; each row starts with the send's
    position in the arrays (from 1) and ends with a fresh message id; with ``lock``,
    rooms are locked in id order.
    """
    rooms, blocks, mutes, messages = (
        Room.__table__,
        MemberBlock.__table__,
        RoomMute.__table__,
        Message.__table__,
    )
    sends: Any = None
    if many:
        sends = (
            func.unnest(
                bindparam("room_ids", type_=ARRAY(Integer)),
                bindparam("user_ids", type_=ARRAY(Integer)),
                bindparam("client_ids", type_=ARRAY(String)),
            )
            .table_valued("room_id", "user_id", "client_id", with_ordinality="i")
            .render_derived(name="sends")
        )
        room_id, user_id, client_id = sends.c.room_id, sends.c.user_id, sends.c.client_id
    else:
        room_id, user_id, client_id = (
            bindparam("room_id"),
            bindparam("user_id"),
            bindparam("client_id"),
        )
    earlier = messages.alias("earlier")
    # Only read under slow mode; one probe of ``ix_messages_author_room_id``.
    last_post = (
        select(messages.c.created_at)
        .where(messages.c.author_id == user_id, messages.c.room_id == room_id)
        .order_by(messages.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    columns = [
        rooms.c.last_seq,
        select(blocks.c.user_id).where(blocks.c.user_id == user_id).scalar_subquery(),
        select(blocks.c.reason).where(blocks.c.user_id == user_id).scalar_subquery(),
        rooms.c.locked_at,
        rooms.c.slow_mode_secs,
        select(mutes.c.until)
        .where(mutes.c.room_id == room_id, mutes.c.user_id == user_id)
        .scalar_subquery(),
        case((rooms.c.slow_mode_secs > 0, last_post), else_=None),
        earlier.c.id,
        earlier.c.seq,
        earlier.c.room_id,
    ]
    # No match when no client id is given: ``client_id = NULL`` is never true.
    with_earlier = (earlier.c.author_id == user_id) & (earlier.c.client_id == client_id)
    if many:
        # A message id per send from the table's sequence, for the one-statement write
        # (``rooms.actions.pg_posting``); a refused send leaves a gap, as a rollback does.
        new_id = func.nextval(func.pg_get_serial_sequence("messages", "id"))
        query = (
            select(sends.c.i, *columns, new_id)
            .select_from(sends.join(rooms, rooms.c.id == room_id).outerjoin(earlier, with_earlier))
            .order_by(rooms.c.id, sends.c.i)
        )
    else:
        query = (
            select(*columns)
            .select_from(rooms.outerjoin(earlier, with_earlier))
            .where(rooms.c.id == room_id)
        )
    return query.with_for_update(of=rooms) if lock else query


WRITE_STATE = {lock: _write_state_query(lock=lock) for lock in (False, True)}
WRITE_STATE_MANY = {lock: _write_state_query(lock=lock, many=True) for lock in (False, True)}


async def write_state(
    session: AsyncSession, access: RoomAccess, *, lock: bool = False, client_id: str | None = None
) -> WriteState:
    """Read :class:`WriteState`; ``lock`` takes the room's row lock (``rooms.events``)."""
    params = {"room_id": access.room.id, "user_id": access.user_id, "client_id": client_id}
    # On the session's connection: a Core statement, without the ORM's execution path.
    connection = await session.connection()
    return WriteState.from_row((await connection.execute(WRITE_STATE[lock], params)).one())


def write_refusal(
    access: RoomAccess, state: WriteState, *, posting: bool, now: dt.datetime
) -> RoomsError | None:
    """Why the moderation refuses a write now, in this order: the member is blocked, the
    room is locked, the member is muted, slow mode (``posting``); ``None`` when it does not.

    Moderators are exempt from the lock and slow mode (and cannot be muted); a block
    applies to everyone.
    """
    room_id = access.room.id
    if state.blocked:
        return Blocked(reason=state.block_reason)
    if access.allows_moderate:
        return None
    if state.locked:
        return RoomLocked(room_id=room_id)
    muted_until = state.muted_until
    if muted_until is not None and aware(muted_until) > now:
        left = (aware(muted_until) - now).total_seconds()
        return Muted(
            room_id=room_id,
            until=iso(muted_until),
            minutes=max(1, math.ceil(left / 60)),
            retry_after=max(1, math.ceil(left)),
        )
    if posting and state.slow_mode_secs and state.last_post_at is not None:
        slow_mode_secs = state.slow_mode_secs
        wait = slow_mode_secs - (now - aware(state.last_post_at)).total_seconds()
        if wait > 0:
            return SlowMode(
                room_id=room_id, seconds=slow_mode_secs, retry_after=max(1, math.ceil(wait))
            )
    return None


async def check_can_write(
    session: AsyncSession,
    access: RoomAccess,
    *,
    posting: bool = False,
    state: WriteState | None = None,
) -> None:
    """Check the moderation's restrictions on writing in the room (:func:`write_refusal`).

    Called after the room's row is locked, so a lock or a previous message committed
    meanwhile is seen. ``state`` is the caller's own read of :func:`write_state`, when it
    made one.

    Raises:
        Blocked, RoomLocked, Muted, SlowMode.
    """
    if state is None:
        state = await write_state(session, access)
    refusal = write_refusal(access, state, posting=posting, now=utcnow())
    if refusal is not None:
        raise refusal


# -- the room's state (everyone who reads the room) ---------------------------------------
def _description_html(room: Room) -> str:
    if room.description_html or not room.description:
        return room.description_html
    # Descriptions written before moderation existed were never rendered.
    return render_markdown(room.description).html


async def list_pins(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    """Pinned messages that are still visible, in the order they were pinned."""
    rows = (
        await session.execute(
            select(PinnedMessage, Message)
            .join(Message, Message.id == PinnedMessage.message_id)
            .where(PinnedMessage.room_id == room_id, Message.deleted_at.is_(None))
            .order_by(PinnedMessage.pinned_at, PinnedMessage.message_id)
        )
    ).all()
    names = await names_of(
        session, {m.author_id for _, m in rows} | {p.pinned_by_id for p, _ in rows}
    )
    return [
        {
            "message_id": message.id,
            "seq": message.seq,
            "topic": message.topic,
            "author": person(message.author_id, names) or {"id": None, "name": FORMER_MEMBER},
            "excerpt": excerpt(message),
            "pinned_by": person(pin.pinned_by_id, names),
            "pinned_at": iso(pin.pinned_at),
        }
        for pin, message in rows
    ]


def announcement_shape(announcement: Announcement, author_name: str | None) -> dict[str, Any]:
    return {
        "id": announcement.id,
        "author": {"id": announcement.author_id, "name": author_name or FORMER_MEMBER},
        "source": announcement.source,
        "html": announcement.html,
        "created_at": iso(announcement.created_at),
    }


async def list_announcements(
    session: AsyncSession, access: RoomAccess, *, limit: int = ANNOUNCEMENTS_SHOWN
) -> list[dict[str, Any]]:
    """The room's latest announcements, newest first, with the caller's acknowledgement
    (and, for moderators, how many acknowledged)."""
    announcements = list(
        await session.scalars(
            select(Announcement)
            .where(Announcement.room_id == access.room.id)
            .order_by(Announcement.id.desc())
            .limit(limit)
        )
    )
    if not announcements:
        return []
    ids = [a.id for a in announcements]
    mine = set(
        await session.scalars(
            select(AnnouncementAck.announcement_id).where(
                AnnouncementAck.announcement_id.in_(ids),
                AnnouncementAck.user_id == access.user_id,
            )
        )
    )
    counts: dict[int, int] = {}
    if access.allows_moderate:
        rows = await session.execute(
            select(AnnouncementAck.announcement_id, func.count())
            .where(AnnouncementAck.announcement_id.in_(ids))
            .group_by(AnnouncementAck.announcement_id)
        )
        counts = {int(aid): int(n) for aid, n in rows}
    names = await names_of(session, {a.author_id for a in announcements})
    shaped = []
    for announcement in announcements:
        shape = announcement_shape(announcement, names.get(announcement.author_id or 0))
        shape["acknowledged"] = announcement.id in mine
        if access.allows_moderate:
            shape["ack_count"] = counts.get(announcement.id, 0)
        shaped.append(shape)
    return shaped


async def room_state(session: AsyncSession, access: RoomAccess) -> dict[str, Any]:
    """What a client shows besides messages, and what the caller may do about it."""
    room = access.room
    mute = await active_mute(session, room.id, access.user_id)
    block = await session.get(MemberBlock, access.user_id)
    return {
        "room_id": room.id,
        "description": room.description,
        "description_html": _description_html(room),
        "agenda": room.agenda,
        "agenda_html": room.agenda_html,
        "locked": room.locked_at is not None,
        "slow_mode_secs": room.slow_mode_secs,
        "pins": await list_pins(session, room.id),
        "announcements": await list_announcements(session, access),
        "me": {
            "moderator": access.allows_moderate,
            "can_flag": access.allows(Permission.FLAG_MESSAGE),
            "can_acknowledge": access.allows(Permission.ACK_ANNOUNCEMENT),
            "muted_until": iso(mute.until) if mute else None,
            "blocked": block is not None,
        },
    }


# -- the moderators' report --------------------------------------------------------------
async def open_flags(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    """Unresolved flags grouped by message, the most flagged first, with the text the
    moderators judge (the original when the message is hidden)."""
    flags = list(
        await session.scalars(
            select(MessageFlag)
            .where(MessageFlag.room_id == room_id, MessageFlag.resolved_at.is_(None))
            .order_by(MessageFlag.id)
        )
    )
    if not flags:
        return []
    message_ids = {f.message_id for f in flags}
    messages = {
        m.id: m for m in await session.scalars(select(Message).where(Message.id.in_(message_ids)))
    }
    originals = {
        h.message_id: h
        for h in await session.scalars(
            select(HiddenMessage).where(HiddenMessage.message_id.in_(message_ids))
        )
    }
    names = await names_of(
        session, {f.user_id for f in flags} | {m.author_id for m in messages.values()}
    )
    grouped: dict[int, list[MessageFlag]] = defaultdict(list)
    for flag in flags:
        grouped[flag.message_id].append(flag)
    report: list[dict[str, Any]] = []
    for message_id, items in grouped.items():
        message = messages[message_id]
        hidden = originals.get(message_id)
        text = hidden.source if hidden else message.source
        report.append(
            {
                "message": {
                    "id": message.id,
                    "seq": message.seq,
                    "topic": message.topic,
                    "author": person(message.author_id, names),
                    "source": text,
                    "hidden": hidden is not None,
                    "pending_review": bool(hidden and hidden.pending_review),
                    "deleted": message.deleted_at is not None and hidden is None,
                },
                "flags": [
                    {
                        "id": f.id,
                        "by": person(f.user_id, names),
                        "reason": f.reason,
                        "comment": f.comment,
                        "created_at": iso(f.created_at),
                    }
                    for f in items
                ],
            }
        )
    report.sort(key=lambda entry: (-len(entry["flags"]), entry["message"]["seq"]))
    return report


def entry_shape(entry: ModerationEntry, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": entry.id,
        "room_id": entry.room_id,
        "action": entry.action,
        "actor": person(entry.actor_id, names),
        "target": person(entry.target_user_id, names),
        "message_id": entry.message_id,
        "reason": entry.reason,
        "details": entry.details or {},
        "created_at": iso(entry.created_at),
    }


async def moderation_log(
    session: AsyncSession, room_id: int, *, before: int | None = None, limit: int = LOG_PAGE
) -> list[dict[str, Any]]:
    """Acts in the room and assembly-wide ones (blocks), newest first."""
    query = select(ModerationEntry).where(
        (ModerationEntry.room_id == room_id) | ModerationEntry.room_id.is_(None)
    )
    if before is not None:
        query = query.where(ModerationEntry.id < before)
    entries = list(await session.scalars(query.order_by(ModerationEntry.id.desc()).limit(limit)))
    names = await names_of(
        session, {e.actor_id for e in entries} | {e.target_user_id for e in entries}
    )
    return [entry_shape(e, names) for e in entries]


async def moderation_report(session: AsyncSession, access: RoomAccess) -> dict[str, Any]:
    """Everything a moderator of the room needs: the flags to resolve, who is muted,
    removed or blocked, who acknowledged the announcements, and the log."""
    room_id = access.room.id
    now = utcnow()
    mutes = [
        m
        for m in await session.scalars(select(RoomMute).where(RoomMute.room_id == room_id))
        if aware(m.until) > now
    ]
    exclusions = list(
        await session.scalars(
            select(RoomExclusion).where(RoomExclusion.room_id == room_id).order_by(RoomExclusion.id)
        )
    )
    blocks = list(await session.scalars(select(MemberBlock).order_by(MemberBlock.created_at)))
    announcements = list(
        await session.scalars(
            select(Announcement)
            .where(Announcement.room_id == room_id)
            .order_by(Announcement.id.desc())
            .limit(ANNOUNCEMENTS_SHOWN)
        )
    )
    acks: dict[int, list[AnnouncementAck]] = defaultdict(list)
    if announcements:
        for ack in await session.scalars(
            select(AnnouncementAck)
            .where(AnnouncementAck.announcement_id.in_([a.id for a in announcements]))
            .order_by(AnnouncementAck.acked_at)
        ):
            acks[ack.announcement_id].append(ack)
    names = await names_of(
        session,
        {m.user_id for m in mutes}
        | {m.created_by_id for m in mutes}
        | {e.user_id for e in exclusions}
        | {e.created_by_id for e in exclusions}
        | {b.user_id for b in blocks}
        | {b.created_by_id for b in blocks}
        | {a.user_id for items in acks.values() for a in items},
    )
    return {
        "room_id": room_id,
        "flags": await open_flags(session, room_id),
        "mutes": [
            {
                "user": person(m.user_id, names),
                "until": iso(m.until),
                "reason": m.reason,
                "by": person(m.created_by_id, names),
            }
            for m in mutes
        ],
        "exclusions": [
            {
                "user": person(e.user_id, names),
                "reason": e.reason,
                "by": person(e.created_by_id, names),
                "at": iso(e.created_at),
            }
            for e in exclusions
        ],
        "blocks": [
            {
                "user": person(b.user_id, names),
                "reason": b.reason,
                "by": person(b.created_by_id, names),
                "at": iso(b.created_at),
            }
            for b in blocks
        ],
        "announcements": [
            {
                "id": a.id,
                "excerpt": " ".join(a.source.split())[:140],
                "created_at": iso(a.created_at),
                "acknowledged": [
                    {"user": person(ack.user_id, names), "at": iso(ack.acked_at)}
                    for ack in acks.get(a.id, [])
                ],
            }
            for a in announcements
        ],
        "log": await moderation_log(session, room_id),
    }
