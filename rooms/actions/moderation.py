"""Moderating rooms: hiding and restoring messages, pins, lock, slow mode, description and
agenda, announcements and their acknowledgements, muting and removing members, flags,
and blocking a member across the assembly.

Who: ``room.moderate`` (the binôme copilote of the group or chantier, the comité
d'animation, administrators) for the room's actions; ``message.flag`` and
``announcement.ack`` for members; ``member.block`` (comité, administrators) for blocks.
A moderator who is blocked moderates nothing.

Every act is written to the moderation log (``ModerationEntry``) in the same
transaction. What the whole room may know is a room event (``rooms.events.record``);
what only moderators may see (flags, acknowledgements) goes to each moderator's user
channel, and the member concerned is told on theirs (``moderation.notice``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth import audit
from auth.base import dumps, emit, utcnow
from auth.models import User
from auth.roles import Permission, allows
from documents.rendering import render_markdown
from rooms import events
from rooms.access import (
    ASSEMBLY,
    RoomAccess,
    active_roles,
    check_assembly,
    held_pairs,
    moderator_ids,
    room_spaces,
)
from rooms.actions.messages import mentionable
from rooms.actions.structure import announce_access_changed
from rooms.errors import (
    AnnouncementNotFound,
    InvalidInput,
    MessageDeleted,
    MessageNotFound,
    NotAllowed,
)
from rooms.limits import (
    MAX_AGENDA_BYTES,
    MAX_DESCRIPTION_CHARS,
    MAX_MUTE_SECS,
    MAX_PINS,
    MAX_SLOW_MODE_SECS,
)
from rooms.models import (
    Announcement,
    AnnouncementAck,
    HiddenMessage,
    MemberBlock,
    Mention,
    Message,
    MessageFlag,
    ModerationEntry,
    PinnedMessage,
    Room,
    RoomExclusion,
    RoomMute,
)
from rooms.moderation import (
    FLAG_REASONS,
    announcement_shape,
    check_not_blocked,
    names_of,
    person,
)
from rooms.queries import shape_messages
from rooms.shapes import excerpt, iso, message_shape
from rooms.validation import clean_reason, clean_source

# Frames that are not room events (documented in docs/protocol.md, constants in
# server/protocol.py): to moderators, and to the member concerned.
FLAG_RAISED = "flag.raised"
FLAG_RESOLVED = "flag.resolved"
ANNOUNCEMENT_ACKNOWLEDGED = "announcement.acknowledged"
NOTICE = "moderation.notice"

# Log actions (``ModerationEntry.action``; French labels ``moderation.action.<action>``).
LOG_ACTIONS = (
    "message.hidden",
    "message.restored",
    "message.flagged",
    "flags.dismissed",
    "message.pinned",
    "message.unpinned",
    "room.locked",
    "room.unlocked",
    "room.slow_mode",
    "room.updated",
    "announcement.posted",
    "member.muted",
    "member.unmuted",
    "member.removed",
    "member.readmitted",
    "member.blocked",
    "member.unblocked",
)


# -- helpers ---------------------------------------------------------------------------
def _log(
    session: AsyncSession,
    action: str,
    *,
    room_id: int | None,
    actor_id: int | None,
    target_user_id: int | None = None,
    message_id: int | None = None,
    reason: str = "",
    **details: Any,
) -> None:
    session.add(
        ModerationEntry(
            room_id=room_id,
            action=action,
            actor_id=actor_id,
            target_user_id=target_user_id,
            message_id=message_id,
            reason=reason,
            details=details,
            created_at=utcnow(),
        )
    )


def _to_user(session: AsyncSession, user_id: int, frame: dict[str, Any]) -> None:
    emit(session, events.user_channel(user_id), dumps(frame))


def _notice(
    session: AsyncSession, user_id: int | None, kind: str, room_id: int | None, **fields: Any
) -> None:
    """Tell the member concerned what happened and why (all their connections)."""
    if user_id is None:
        return
    frame: dict[str, Any] = {"type": NOTICE, "kind": kind}
    if room_id is not None:
        frame["room_id"] = room_id
    _to_user(session, user_id, {**frame, **fields})


async def _to_moderators(session: AsyncSession, room: Room, frame: dict[str, Any]) -> None:
    encoded = dumps(frame)
    for user_id in await moderator_ids(session, room):
        emit(session, events.user_channel(user_id), encoded)


async def _moderator(session: AsyncSession, access: RoomAccess) -> None:
    if not access.allows_moderate:
        raise NotAllowed(permission=Permission.MODERATE_ROOM.value)
    await check_not_blocked(session, access.user_id)


async def _me(session: AsyncSession, user_id: int) -> dict[str, Any]:
    return person(user_id, await names_of(session, {user_id})) or {}


async def _room_message(session: AsyncSession, access: RoomAccess, message_id: int) -> Message:
    message = await session.get(Message, message_id, with_for_update=True)
    if message is None or message.room_id != access.room.id:
        raise MessageNotFound(message_id=message_id)
    return message


async def _target(session: AsyncSession, access: RoomAccess, user_id: int) -> User:
    """A member a moderator acts on: exists, is not the moderator, does not moderate."""
    user = await session.get(User, user_id)
    if user is None or user.anonymised_at is not None:
        raise InvalidInput(field="user_id", reason="unknown")
    if user_id == access.user_id:
        raise InvalidInput(field="user_id", reason="self")
    spaces = await room_spaces(session, access.room)
    if allows(held_pairs(await active_roles(session, user_id, spaces)), Permission.MODERATE_ROOM):
        raise InvalidInput(field="user_id", reason="moderator")
    return user


async def _resolve_flags(
    session: AsyncSession, room: Room, message_id: int, *, resolution: str, actor_id: int | None
) -> int:
    now = utcnow()
    resolved = (
        await session.execute(
            update(MessageFlag)
            .where(MessageFlag.message_id == message_id, MessageFlag.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=actor_id, resolution=resolution)
            .returning(MessageFlag.id)
        )
    ).all()
    if resolved:
        await _to_moderators(
            session,
            room,
            {
                "type": FLAG_RESOLVED,
                "room_id": room.id,
                "message_id": message_id,
                "resolution": resolution,
                "count": len(resolved),
                "by": await _me(session, actor_id) if actor_id else None,
            },
        )
    return len(resolved)


# -- hiding and restoring messages -----------------------------------------------------
async def _hide(
    session: AsyncSession,
    message: Message,
    *,
    actor_id: int | None,
    reason: str,
    pending_review: bool,
    flags: dict[str, int] | None = None,
) -> int:
    """Hide a live message: the text leaves the message and the log (as for a deletion)
    and is kept, for moderators, in ``HiddenMessage`` and the moderation log."""
    now = utcnow()
    original = message.source
    session.add(
        HiddenMessage(
            message_id=message.id,
            source=original,
            reason=reason,
            pending_review=pending_review,
            hidden_by_id=actor_id,
            hidden_at=now,
        )
    )
    message.hidden_at = now
    message.deleted_at = now
    message.source = ""
    message.html = ""
    await session.execute(delete(Mention).where(Mention.message_id == message.id))
    author = await names_of(session, {message.author_id})
    await events.redact(
        session,
        message.id,
        message_shape(message, author_name=author.get(message.author_id or 0)),
    )
    seq, _ = await events.record(
        session,
        message.room_id,
        events.MESSAGE_HIDDEN,
        {"message_id": message.id, "pending_review": pending_review},
        message_id=message.id,
    )
    _log(
        session,
        "message.hidden",
        room_id=message.room_id,
        actor_id=actor_id,
        target_user_id=message.author_id,
        message_id=message.id,
        reason=reason,
        source=original,
        pending_review=pending_review,
        **({"flags": flags} if flags else {}),
    )
    _notice(
        session,
        message.author_id,
        "message_hidden",
        message.room_id,
        message_id=message.id,
        excerpt=" ".join(original.split())[:140],
        reason=reason,
        pending_review=pending_review,
        flags=flags or {},
    )
    return seq


async def check_hide(
    session: AsyncSession, access: RoomAccess, *, message_id: int, reason: str
) -> int | None:
    """Hide a message with a reason (the author is told it). Hiding a message the flags
    hid pending review confirms it; its open flags are resolved as ``hidden``.

    Returns:
        The ``message.hidden`` event's ``seq``, or ``None`` if it was already hidden by a
        moderator.

    Raises:
        MessageDeleted: the author deleted it.
    """
    await _moderator(session, access)
    reason = clean_reason(reason)
    await events.lock_room(session, access.room.id)
    message = await _room_message(session, access, message_id)
    hidden = await session.get(HiddenMessage, message.id)
    if hidden is None and message.deleted_at is not None:
        raise MessageDeleted(message_id=message_id)
    seq: int | None = None
    if hidden is None:
        seq = await _hide(
            session, message, actor_id=access.user_id, reason=reason, pending_review=False
        )
    elif hidden.pending_review:
        hidden.pending_review = False
        hidden.reason = reason
        hidden.hidden_by_id = access.user_id
        seq, _ = await events.record(
            session,
            access.room.id,
            events.MESSAGE_HIDDEN,
            {"message_id": message.id, "pending_review": False},
            message_id=message.id,
        )
        _log(
            session,
            "message.hidden",
            room_id=access.room.id,
            actor_id=access.user_id,
            target_user_id=message.author_id,
            message_id=message.id,
            reason=reason,
            confirmed=True,
        )
        _notice(
            session,
            message.author_id,
            "message_hidden",
            access.room.id,
            message_id=message.id,
            excerpt=" ".join(hidden.source.split())[:140],
            reason=reason,
            pending_review=False,
            flags={},
        )
    await _resolve_flags(
        session, access.room, message.id, resolution="hidden", actor_id=access.user_id
    )
    return seq


async def _restore(
    session: AsyncSession, access: RoomAccess, message: Message, hidden: HiddenMessage, reason: str
) -> int:
    source = hidden.source
    rendered = render_markdown(source, mentions=await mentionable(session, source))
    message.source, message.html = source, rendered.html
    message.hidden_at = None
    message.deleted_at = None
    await session.delete(hidden)
    session.add_all(
        Mention(message_id=message.id, user_id=uid, room_id=message.room_id, seq=message.seq)
        for uid in sorted(rendered.mentioned)
    )
    await session.flush()
    (shape,) = await shape_messages(session, [message])
    seq, _ = await events.record(
        session,
        message.room_id,
        events.MESSAGE_RESTORED,
        {"message": shape},
        message_id=message.id,
    )
    _log(
        session,
        "message.restored",
        room_id=message.room_id,
        actor_id=access.user_id,
        target_user_id=message.author_id,
        message_id=message.id,
        reason=reason,
    )
    _notice(
        session,
        message.author_id,
        "message_restored",
        message.room_id,
        message_id=message.id,
        reason=reason,
    )
    return seq


async def check_restore(
    session: AsyncSession, access: RoomAccess, *, message_id: int, reason: str = ""
) -> int:
    """Show a hidden message again (its open flags are dismissed).

    Raises:
        InvalidInput: ``reason='not_hidden'``.
    """
    await _moderator(session, access)
    reason = clean_reason(reason, required=False)
    await events.lock_room(session, access.room.id)
    message = await _room_message(session, access, message_id)
    hidden = await session.get(HiddenMessage, message.id)
    if hidden is None:
        raise InvalidInput(field="message_id", reason="not_hidden")
    seq = await _restore(session, access, message, hidden, reason)
    await _resolve_flags(
        session, access.room, message.id, resolution="dismissed", actor_id=access.user_id
    )
    return seq


@dataclass(frozen=True, slots=True)
class Dismissed:
    resolved: int
    seq: int | None


async def check_dismiss_flags(
    session: AsyncSession, access: RoomAccess, *, message_id: int, reason: str = ""
) -> Dismissed:
    """Keep a flagged message: its open flags are dismissed, and a message the flags hid
    pending review is shown again."""
    await _moderator(session, access)
    reason = clean_reason(reason, required=False)
    await events.lock_room(session, access.room.id)
    message = await _room_message(session, access, message_id)
    hidden = await session.get(HiddenMessage, message.id)
    seq = None
    if hidden is not None and hidden.pending_review:
        seq = await _restore(session, access, message, hidden, reason)
    resolved = await _resolve_flags(
        session, access.room, message.id, resolution="dismissed", actor_id=access.user_id
    )
    if resolved:
        _log(
            session,
            "flags.dismissed",
            room_id=access.room.id,
            actor_id=access.user_id,
            target_user_id=message.author_id,
            message_id=message.id,
            reason=reason,
            count=resolved,
        )
    return Dismissed(resolved=resolved, seq=seq)


# -- flags -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Flagged:
    flag_id: int
    duplicate: bool
    hidden: bool
    seq: int | None


async def check_flag(
    session: AsyncSession,
    access: RoomAccess,
    *,
    message_id: int,
    reason: str,
    comment: str = "",
    threshold: int,
) -> Flagged:
    """Flag a message for the moderators (once per member and message). When
    ``threshold`` members' flags are open on it, the message is hidden pending review.

    Raises:
        NotAllowed: ``message.flag``; Blocked.
        InvalidInput: ``reason`` not one of :data:`FLAG_REASONS`, flagging one's own
            message (``reason='own_message'``), comment too long.
        MessageDeleted: deleted or already hidden.
    """
    if not access.allows(Permission.FLAG_MESSAGE):
        raise NotAllowed(permission=Permission.FLAG_MESSAGE.value)
    await check_not_blocked(session, access.user_id)
    if reason not in FLAG_REASONS:
        raise InvalidInput(field="reason", reason="value")
    comment = clean_reason(comment, required=False, field="comment")
    room = access.room
    await events.lock_room(session, room.id)
    message = await _room_message(session, access, message_id)
    existing = await session.scalar(
        select(MessageFlag).where(
            MessageFlag.message_id == message.id, MessageFlag.user_id == access.user_id
        )
    )
    if existing is not None:
        return Flagged(
            flag_id=existing.id, duplicate=True, hidden=message.hidden_at is not None, seq=None
        )
    if message.deleted_at is not None:
        raise MessageDeleted(message_id=message_id)
    if message.author_id == access.user_id:
        raise InvalidInput(field="message_id", reason="own_message")
    now = utcnow()
    flag = MessageFlag(
        message_id=message.id,
        room_id=room.id,
        user_id=access.user_id,
        reason=reason,
        comment=comment,
        created_at=now,
    )
    session.add(flag)
    await session.flush()
    _log(
        session,
        "message.flagged",
        room_id=room.id,
        actor_id=access.user_id,
        target_user_id=message.author_id,
        message_id=message.id,
        reason=reason,
        comment=comment,
    )
    open_reasons = Counter(
        await session.scalars(
            select(MessageFlag.reason).where(
                MessageFlag.message_id == message.id, MessageFlag.resolved_at.is_(None)
            )
        )
    )
    open_count = sum(open_reasons.values())
    text = message.source
    seq = None
    if open_count >= threshold:
        seq = await _hide(
            session,
            message,
            actor_id=None,
            reason="",
            pending_review=True,
            flags=dict(sorted(open_reasons.items())),
        )
    names = await names_of(session, {access.user_id, message.author_id})
    await _to_moderators(
        session,
        room,
        {
            "type": FLAG_RAISED,
            "room_id": room.id,
            "flag": {
                "id": flag.id,
                "message_id": message.id,
                "reason": reason,
                "comment": comment,
                "by": person(access.user_id, names),
                "created_at": iso(now),
            },
            "message": {
                "id": message.id,
                "seq": message.seq,
                "author": person(message.author_id, names),
                "excerpt": " ".join(text.split())[:140],
            },
            "open_flags": open_count,
            "hidden": seq is not None,
        },
    )
    return Flagged(flag_id=flag.id, duplicate=False, hidden=seq is not None, seq=seq)


# -- pins --------------------------------------------------------------------------------
async def check_pin(
    session: AsyncSession, access: RoomAccess, *, message_id: int, pin: bool
) -> int | None:
    """Pin or unpin a message of the room.

    Returns:
        The event's ``seq``, or ``None`` when nothing changed.

    Raises:
        MessageDeleted: pinning a deleted or hidden message.
        InvalidInput: ``reason='too_many'`` beyond ``MAX_PINS`` pins.
    """
    await _moderator(session, access)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    message = await _room_message(session, access, message_id)
    existing = await session.get(PinnedMessage, message.id)
    if pin == (existing is not None):
        return None
    me = await _me(session, access.user_id)
    if pin:
        if message.deleted_at is not None:
            raise MessageDeleted(message_id=message_id)
        pins = await session.scalar(
            select(func.count()).select_from(PinnedMessage).where(PinnedMessage.room_id == room_id)
        )
        if (pins or 0) >= MAX_PINS:
            raise InvalidInput(field="message_id", reason="too_many", limit=MAX_PINS)
        session.add(
            PinnedMessage(
                message_id=message.id,
                room_id=room_id,
                pinned_by_id=access.user_id,
                pinned_at=utcnow(),
            )
        )
        author = await names_of(session, {message.author_id})
        payload: dict[str, Any] = {
            "message_id": message.id,
            "author": person(message.author_id, author),
            "excerpt": excerpt(message),
            "pinned_by": me,
        }
    else:
        await session.delete(existing)
        payload = {"message_id": message.id, "unpinned_by": me}
    seq, _ = await events.record(
        session,
        room_id,
        events.MESSAGE_PINNED if pin else events.MESSAGE_UNPINNED,
        payload,
        message_id=message.id,
    )
    _log(
        session,
        "message.pinned" if pin else "message.unpinned",
        room_id=room_id,
        actor_id=access.user_id,
        target_user_id=message.author_id,
        message_id=message.id,
    )
    return seq


# -- the room itself ---------------------------------------------------------------------
async def check_lock(
    session: AsyncSession, access: RoomAccess, *, locked: bool, reason: str = ""
) -> int | None:
    """Lock the room (read-only for all but its moderators) or unlock it."""
    await _moderator(session, access)
    reason = clean_reason(reason, required=False)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    room = await session.get(Room, room_id, populate_existing=True)
    assert room is not None  # noqa: S101 - locked just above
    if locked == (room.locked_at is not None):
        return None
    room.locked_at = utcnow() if locked else None
    payload: dict[str, Any] = {"by": await _me(session, access.user_id)}
    if reason:
        payload["reason"] = reason
    seq, _ = await events.record(
        session, room_id, events.ROOM_LOCKED if locked else events.ROOM_UNLOCKED, payload
    )
    _log(
        session,
        "room.locked" if locked else "room.unlocked",
        room_id=room_id,
        actor_id=access.user_id,
        reason=reason,
    )
    return seq


async def check_slow_mode(session: AsyncSession, access: RoomAccess, *, seconds: int) -> int | None:
    """Set slow mode: ``seconds`` between two messages of a member (0: off)."""
    await _moderator(session, access)
    if not 0 <= seconds <= MAX_SLOW_MODE_SECS:
        raise InvalidInput(field="seconds", reason="out_of_range", limit=MAX_SLOW_MODE_SECS)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    room = await session.get(Room, room_id, populate_existing=True)
    assert room is not None  # noqa: S101 - locked just above
    if room.slow_mode_secs == seconds:
        return None
    room.slow_mode_secs = seconds
    seq, _ = await events.record(
        session,
        room_id,
        events.ROOM_SLOW_MODE,
        {"seconds": seconds, "by": await _me(session, access.user_id)},
    )
    _log(session, "room.slow_mode", room_id=room_id, actor_id=access.user_id, seconds=seconds)
    return seq


def _clean_text(text: str, field: str, *, max_chars: int | None, max_bytes: int | None) -> str:
    text = text.replace("\x00", "").strip()
    if max_chars is not None and len(text) > max_chars:
        raise InvalidInput(field=field, reason="too_long", limit=max_chars)
    if max_bytes is not None and len(text.encode()) > max_bytes:
        raise InvalidInput(field=field, reason="too_long", limit=max_bytes)
    return text


async def check_update_room(
    session: AsyncSession,
    access: RoomAccess,
    *,
    description: str | None = None,
    agenda: str | None = None,
) -> int | None:
    """Set the room's description and/or agenda (markdown; empty clears it)."""
    await _moderator(session, access)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    room = await session.get(Room, room_id, populate_existing=True)
    assert room is not None  # noqa: S101 - locked just above
    changed: list[str] = []
    if description is not None:
        description = _clean_text(
            description, "description", max_chars=MAX_DESCRIPTION_CHARS, max_bytes=None
        )
        if description != room.description or (description and not room.description_html):
            room.description = description
            room.description_html = render_markdown(description).html if description else ""
            changed.append("description")
    if agenda is not None:
        agenda = _clean_text(agenda, "agenda", max_chars=None, max_bytes=MAX_AGENDA_BYTES)
        if agenda != room.agenda:
            room.agenda = agenda
            room.agenda_html = render_markdown(agenda).html if agenda else ""
            changed.append("agenda")
    if not changed:
        return None
    seq, _ = await events.record(
        session,
        room_id,
        events.ROOM_UPDATED,
        {
            "description": room.description,
            "description_html": room.description_html,
            "agenda": room.agenda,
            "agenda_html": room.agenda_html,
            "by": await _me(session, access.user_id),
        },
    )
    _log(session, "room.updated", room_id=room_id, actor_id=access.user_id, fields=changed)
    return seq


# -- announcements -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Announced:
    announcement_id: int
    seq: int


async def check_announce(session: AsyncSession, access: RoomAccess, *, body: str) -> Announced:
    """Post an announcement that the room's members are asked to acknowledge."""
    await _moderator(session, access)
    source = clean_source(body)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    announcement = Announcement(
        room_id=room_id,
        author_id=access.user_id,
        source=source,
        html=render_markdown(source).html,
        created_at=utcnow(),
    )
    session.add(announcement)
    await session.flush()
    names = await names_of(session, {access.user_id})
    seq, _ = await events.record(
        session,
        room_id,
        events.ANNOUNCEMENT_POSTED,
        {"announcement": announcement_shape(announcement, names.get(access.user_id))},
    )
    _log(
        session,
        "announcement.posted",
        room_id=room_id,
        actor_id=access.user_id,
        announcement_id=announcement.id,
    )
    return Announced(announcement_id=announcement.id, seq=seq)


async def check_acknowledge(
    session: AsyncSession, access: RoomAccess, *, announcement_id: int
) -> bool:
    """ "J'ai pris connaissance": seen by the room's moderators (and the member's other
    devices), not by the room.

    Returns:
        ``False`` when the member had already acknowledged it.
    """
    if not access.allows(Permission.ACK_ANNOUNCEMENT):
        raise NotAllowed(permission=Permission.ACK_ANNOUNCEMENT.value)
    # Serialised with the room's writers: a double click from two tabs acknowledges once.
    await events.lock_room(session, access.room.id)
    announcement = await session.get(Announcement, announcement_id)
    if announcement is None or announcement.room_id != access.room.id:
        raise AnnouncementNotFound(announcement_id=announcement_id)
    if await session.get(AnnouncementAck, (announcement_id, access.user_id)) is not None:
        return False
    now = utcnow()
    session.add(
        AnnouncementAck(announcement_id=announcement_id, user_id=access.user_id, acked_at=now)
    )
    await session.flush()
    count = await session.scalar(
        select(func.count())
        .select_from(AnnouncementAck)
        .where(AnnouncementAck.announcement_id == announcement_id)
    )
    frame = {
        "type": ANNOUNCEMENT_ACKNOWLEDGED,
        "room_id": access.room.id,
        "announcement_id": announcement_id,
        "user": await _me(session, access.user_id),
        "acknowledged_at": iso(now),
        "count": count,
    }
    moderators = await moderator_ids(session, access.room)
    for user_id in sorted({*moderators, access.user_id}):
        _to_user(session, user_id, frame)
    return True


# -- members -----------------------------------------------------------------------------
async def check_mute(
    session: AsyncSession, access: RoomAccess, *, user_id: int, seconds: int, reason: str
) -> int:
    """Mute a member in the room for ``seconds`` (a new mute replaces the current one).

    Raises:
        InvalidInput: unknown member, oneself, a moderator of the room, bad duration.
    """
    await _moderator(session, access)
    reason = clean_reason(reason)
    if not 1 <= seconds <= MAX_MUTE_SECS:
        raise InvalidInput(field="seconds", reason="out_of_range", limit=MAX_MUTE_SECS)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    user = await _target(session, access, user_id)
    now = utcnow()
    until = now + dt.timedelta(seconds=seconds)
    mute = await session.get(RoomMute, (room_id, user.id))
    if mute is None:
        mute = RoomMute(room_id=room_id, user_id=user.id)
        session.add(mute)
    mute.until, mute.reason, mute.created_by_id, mute.created_at = (
        until,
        reason,
        access.user_id,
        now,
    )
    seq, _ = await events.record(
        session,
        room_id,
        events.MEMBER_MUTED,
        {"user": {"id": user.id, "name": user.display_name}, "until": iso(until)},
    )
    _log(
        session,
        "member.muted",
        room_id=room_id,
        actor_id=access.user_id,
        target_user_id=user.id,
        reason=reason,
        seconds=seconds,
        until=iso(until),
    )
    _notice(session, user.id, "muted", room_id, until=iso(until), reason=reason)
    return seq


async def check_unmute(session: AsyncSession, access: RoomAccess, *, user_id: int) -> int | None:
    """Lift a member's mute before its end; ``None`` when they were not muted."""
    await _moderator(session, access)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    mute = await session.get(RoomMute, (room_id, user_id))
    if mute is None:
        return None
    await session.delete(mute)
    names = await names_of(session, {user_id})
    seq, _ = await events.record(
        session, room_id, events.MEMBER_UNMUTED, {"user": person(user_id, names)}
    )
    _log(
        session, "member.unmuted", room_id=room_id, actor_id=access.user_id, target_user_id=user_id
    )
    _notice(session, user_id, "unmuted", room_id)
    return seq


async def check_remove(
    session: AsyncSession, access: RoomAccess, *, user_id: int, reason: str
) -> int | None:
    """Remove a member from the room: whatever their roles, they no longer read it, and
    their open connections stop receiving it at once (``removed`` frame).

    Returns:
        The ``member.removed`` event's ``seq``, or ``None`` if already removed.
    """
    await _moderator(session, access)
    reason = clean_reason(reason)
    room_id = access.room.id
    await events.lock_room(session, room_id)
    user = await _target(session, access, user_id)
    existing = await session.scalar(
        select(RoomExclusion).where(
            RoomExclusion.room_id == room_id, RoomExclusion.user_id == user.id
        )
    )
    if existing is not None:
        return None
    session.add(
        RoomExclusion(
            room_id=room_id,
            user_id=user.id,
            reason=reason,
            created_by_id=access.user_id,
            created_at=utcnow(),
        )
    )
    seq, _ = await events.record(
        session,
        room_id,
        events.MEMBER_REMOVED,
        {"user": {"id": user.id, "name": user.display_name}},
    )
    _log(
        session,
        "member.removed",
        room_id=room_id,
        actor_id=access.user_id,
        target_user_id=user.id,
        reason=reason,
    )
    _notice(session, user.id, "removed", room_id, reason=reason, room_name=access.room.name)
    announce_access_changed(session, user.id)
    return seq


async def check_readmit(session: AsyncSession, access: RoomAccess, *, user_id: int) -> bool:
    """Let a removed member back (their roles apply again); ``False`` if not removed."""
    await _moderator(session, access)
    room_id = access.room.id
    removed = await session.execute(
        delete(RoomExclusion)
        .where(RoomExclusion.room_id == room_id, RoomExclusion.user_id == user_id)
        .returning(RoomExclusion.id)
    )
    if not removed.all():
        return False
    _log(
        session,
        "member.readmitted",
        room_id=room_id,
        actor_id=access.user_id,
        target_user_id=user_id,
    )
    _notice(session, user_id, "readmitted", room_id, room_name=access.room.name)
    return True


# -- across the assembly -----------------------------------------------------------------
async def check_block(session: AsyncSession, *, actor_id: int, user_id: int, reason: str) -> bool:
    """Block a member across the assembly: they keep reading every room they could, and
    can no longer post, edit, react or flag anywhere. Not a deactivation: they stay signed
    in, and it is lifted with :func:`check_unblock`.

    Returns:
        ``False`` when the member was already blocked (the reason is updated).

    Raises:
        NotAllowed: ``member.block`` (assembly comité and administrators).
        InvalidInput: unknown member, oneself, or a member of the comité or an
            administrator (``reason='moderator'``).
    """
    await check_assembly(session, actor_id, Permission.BLOCK_MEMBER)
    reason = clean_reason(reason)
    user = await session.get(User, user_id)
    if user is None or user.anonymised_at is not None:
        raise InvalidInput(field="user_id", reason="unknown")
    if user_id == actor_id:
        raise InvalidInput(field="user_id", reason="self")
    if allows(
        held_pairs(await active_roles(session, user_id, [ASSEMBLY])), Permission.MODERATE_ROOM
    ):
        raise InvalidInput(field="user_id", reason="moderator")
    block = await session.get(MemberBlock, user_id)
    new = block is None
    if block is None:
        block = MemberBlock(user_id=user_id, reason=reason)
        session.add(block)
    block.reason, block.created_by_id, block.created_at = reason, actor_id, utcnow()
    _log(
        session,
        "member.blocked",
        room_id=None,
        actor_id=actor_id,
        target_user_id=user_id,
        reason=reason,
    )
    _notice(session, user_id, "blocked", None, reason=reason)
    audit.record(
        session, audit.MEMBER_BLOCKED, actor_id=actor_id, target_user_id=user_id, reason=reason
    )
    return new


async def check_unblock(session: AsyncSession, *, actor_id: int, user_id: int) -> bool:
    """Lift a block; ``False`` when the member was not blocked."""
    await check_assembly(session, actor_id, Permission.BLOCK_MEMBER)
    block = await session.get(MemberBlock, user_id)
    if block is None:
        return False
    await session.delete(block)
    _log(session, "member.unblocked", room_id=None, actor_id=actor_id, target_user_id=user_id)
    _notice(session, user_id, "unblocked", None)
    audit.record(session, audit.MEMBER_UNBLOCKED, actor_id=actor_id, target_user_id=user_id)
    return True
