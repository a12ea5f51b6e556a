"""Posting, editing and deleting messages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.models import User
from auth.roles import Permission
from documents.rendering import render_markdown
from rooms import events
from rooms.access import RoomAccess
from rooms.errors import (
    MessageDeleted,
    MessageNotFound,
    NotAllowed,
    NotAuthor,
    RoomsError,
    SlowMode,
)
from rooms.models import Mention, Message, MessageEdit
from rooms.moderation import check_can_write, write_state
from rooms.shapes import message_shape, reply_shape
from rooms.validation import clean_client_id, clean_source, clean_topic

_MENTION_CANDIDATE = re.compile(r"@\*\*([^*\n]{1,120})\*\*")


@dataclass(frozen=True, slots=True)
class Posted:
    """What the sender is told: the message's id and position, and whether it is a resend."""

    message_id: int
    seq: int
    duplicate: bool
    room_id: int


async def mentionable(session: AsyncSession, source: str) -> dict[str, int]:
    """Display names (of active users) that the source may mention, mapped to ids.

    Names match exactly, as the composer's autocomplete writes them (SQLite's ``lower()``
    only folds ASCII, so a case-insensitive match would miss "Élodie"). Only the names
    written as ``@**Nom**`` are looked up, so a message without mentions costs no query.
    """
    names = {m.group(1).strip() for m in _MENTION_CANDIDATE.finditer(source)}
    if not names:
        return {}
    rows = await session.execute(
        select(User.display_name, User.id).where(
            User.display_name.in_(names), User.is_active.is_(True)
        )
    )
    return {str(name): int(user_id) for name, user_id in rows}


async def _author_name(session: AsyncSession, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return await session.scalar(select(User.display_name).where(User.id == user_id))


async def _reply(session: AsyncSession, room_id: int, reply_to_id: int | None) -> Message | None:
    if reply_to_id is None:
        return None
    parent = await session.get(Message, reply_to_id)
    if parent is None or parent.room_id != room_id:
        raise MessageNotFound(message_id=reply_to_id)
    return parent


async def find_by_client_id(session: AsyncSession, author_id: int, client_id: str) -> Posted | None:
    """The earlier result of a send with this ``client_id``, if any (idempotent resend)."""
    row = await session.execute(
        select(Message.id, Message.seq, Message.room_id).where(
            Message.author_id == author_id, Message.client_id == client_id
        )
    )
    found = row.first()
    if found is None:
        return None
    return Posted(message_id=found[0], seq=found[1], duplicate=True, room_id=found[2])


@dataclass(frozen=True, slots=True)
class PostRequest:
    """One message to post: the sender's access to the room and what the client sent.

    ``author_name`` is the sender's display name when the caller knows it (the socket
    does), which saves a query on every message.
    """

    access: RoomAccess
    topic: str
    source: str
    client_id: str
    reply_to_id: int | None = None
    author_name: str | None = None


@dataclass(slots=True)
class _Accepted:
    index: int
    request: PostRequest
    message: Message
    mentioned: list[int]
    parent: Message | None


async def check_post(
    session: AsyncSession,
    access: RoomAccess,
    *,
    topic: str,
    source: str,
    client_id: str,
    reply_to_id: int | None = None,
    author_name: str | None = None,
) -> Posted:
    """Validate and post a message; a resend of ``client_id`` returns the first result.

    Raises:
        NotAllowed: the caller may not post here.
        Blocked, RoomLocked, Muted, SlowMode: see ``rooms.moderation.check_can_write``.
        InvalidInput: empty or oversized body, bad topic or client id.
        MessageNotFound: ``reply_to_id`` is not a message of this room.
    """
    request = PostRequest(access, topic, source, client_id, reply_to_id, author_name)
    (result,) = await check_post_many(session, [request])
    if isinstance(result, RoomsError):
        raise result
    return result


async def check_post_many(
    session: AsyncSession, requests: Sequence[PostRequest]
) -> list[Posted | RoomsError]:
    """Post several messages in the caller's transaction (group commit of the sockets'
    sends); each result is the ``Posted`` or the error that refused that request, which
    then wrote nothing — the others go on.

    Each request costs one read (:func:`rooms.moderation.write_state`: the room lock, the
    position, the moderation facts and an earlier send of its client id); the messages,
    then their events, are inserted together, and each room's position is moved once.
    Rooms are locked in id order, so that two processes' batches cannot deadlock;
    within a room, the requests keep their order. A resend of a client id in the same
    batch answers like a resend after it; slow mode counts a message earlier in the
    batch.
    """
    results: list[Posted | RoomsError | None] = [None] * len(requests)
    accepted: list[_Accepted] = []
    last_seq: dict[int, int] = {}  # the room's position, this batch's messages included
    first_seq: dict[int, int] = {}  # the room's position before this batch
    in_batch: dict[tuple[int, str], int] = {}  # (author, client id) -> index in ``accepted``
    copies: list[tuple[int, int]] = []  # (request index, index in ``accepted``)
    posting: set[tuple[int, int]] = set()  # (room, author) of the accepted requests
    for index in sorted(range(len(requests)), key=lambda i: requests[i].access.room.id):
        request = requests[index]
        access = request.access
        try:
            if not access.allows(Permission.POST_MESSAGE):
                raise NotAllowed(permission=Permission.POST_MESSAGE.value)
            client_id = clean_client_id(request.client_id)
            topic = clean_topic(request.topic)
            source = clean_source(request.source)
            room_id, author_id = access.room.id, access.user_id
            if (author_id, client_id) in in_batch:
                copies.append((index, in_batch[(author_id, client_id)]))
                continue
            # Under the room lock: a concurrent first send of this client id has
            # committed by now.
            state = await write_state(session, access, lock=True, client_id=client_id)
            if state.earlier_id is not None:
                earlier = await find_by_client_id(session, author_id, client_id)
                if earlier is not None:
                    results[index] = earlier
                    continue
            await check_can_write(session, access, posting=True, state=state)
            if (
                state.slow_mode_secs
                and not access.allows_moderate
                and (room_id, author_id) in posting
            ):
                raise SlowMode(
                    room_id=room_id,
                    seconds=state.slow_mode_secs,
                    retry_after=state.slow_mode_secs,
                )
            parent = await _reply(session, room_id, request.reply_to_id)
            rendered = render_markdown(source, mentions=await mentionable(session, source))
        except RoomsError as exc:
            results[index] = exc
            continue
        first_seq.setdefault(room_id, state.last_seq)
        seq = last_seq.get(room_id, state.last_seq) + 1
        last_seq[room_id] = seq
        message = Message(
            room_id=room_id,
            seq=seq,
            topic=topic,
            author_id=author_id,
            client_id=client_id,
            source=source,
            html=rendered.html,
            reply_to_id=parent.id if parent else None,
            created_at=utcnow(),
        )
        in_batch[(author_id, client_id)] = len(accepted)
        posting.add((room_id, author_id))
        accepted.append(_Accepted(index, request, message, sorted(rendered.mentioned), parent))
    if accepted:
        # Inserted together, in one statement (Core: the ORM's unit of work was a fifth
        # of a send); ``Message`` objects stay transient, for the shapes.
        connection = await session.connection()
        ids = (
            await connection.execute(
                _INSERT_MESSAGES, [_message_row(item.message) for item in accepted]
            )
        ).scalars()
        for item, message_id in zip(accepted, ids, strict=True):
            item.message.id = message_id
        for room_id, seq in last_seq.items():
            await events.advance(session, room_id, before=first_seq[room_id], after=seq)
        await events.append_many(session, [await _record_post(session, a) for a in accepted])
        for item in accepted:
            message = item.message
            results[item.index] = Posted(message.id, message.seq, False, message.room_id)
    for index, source_index in copies:
        first = accepted[source_index].message
        results[index] = Posted(first.id, first.seq, duplicate=True, room_id=first.room_id)
    done = [result for result in results if result is not None]
    if len(done) != len(requests):  # pragma: no cover - every branch above sets one
        raise RuntimeError("a post request got no result")
    return done


_MESSAGES = Message.__table__
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
_MESSAGE_COLUMNS = (
    "room_id",
    "seq",
    "topic",
    "author_id",
    "client_id",
    "source",
    "html",
    "reply_to_id",
    "created_at",
)


def _message_row(message: Message) -> dict[str, Any]:
    return {column: getattr(message, column) for column in _MESSAGE_COLUMNS}


async def _record_post(session: AsyncSession, item: _Accepted) -> events.Appended:
    """The posted message's mentions, and its ``message.posted`` event."""
    message, parent = item.message, item.parent
    room_id = message.room_id
    session.add_all(
        Mention(message_id=message.id, user_id=uid, room_id=room_id, seq=message.seq)
        for uid in item.mentioned
    )
    reply = reply_shape(parent, await _author_name(session, parent.author_id)) if parent else None
    author_name = item.request.author_name
    if author_name is None:
        author_name = await _author_name(session, message.author_id)
    shape = message_shape(message, author_name=author_name, mentions=item.mentioned, reply=reply)
    return events.Appended(
        room_id, message.seq, events.MESSAGE_POSTED, {"message": shape}, message_id=message.id
    )


async def _own_live_message(session: AsyncSession, access: RoomAccess, message_id: int) -> Message:
    message = await session.get(Message, message_id, with_for_update=True)
    if message is None or message.room_id != access.room.id:
        raise MessageNotFound(message_id=message_id)
    if message.deleted_at is not None:
        raise MessageDeleted(message_id=message_id)
    if message.author_id != access.user_id:
        raise NotAuthor(message_id=message_id)
    return message


async def check_edit(
    session: AsyncSession, access: RoomAccess, *, message_id: int, source: str
) -> int | None:
    """Replace the text of one's own message, keeping the former text in its history.

    Returns:
        The event's ``seq``, or ``None`` when the text is unchanged (nothing recorded).
    """
    if not access.allows(Permission.EDIT_OWN_MESSAGE):
        raise NotAllowed(permission=Permission.EDIT_OWN_MESSAGE.value)
    source = clean_source(source)
    await events.lock_room(session, access.room.id)
    message = await _own_live_message(session, access, message_id)
    if source == message.source:
        return None
    await check_can_write(session, access)
    rendered = render_markdown(source, mentions=await mentionable(session, source))
    now = utcnow()
    session.add(MessageEdit(message_id=message.id, source=message.source, edited_at=now))
    message.source, message.html, message.edited_at = source, rendered.html, now
    await session.execute(delete(Mention).where(Mention.message_id == message.id))
    mentioned = sorted(rendered.mentioned)
    session.add_all(
        Mention(message_id=message.id, user_id=uid, room_id=message.room_id, seq=message.seq)
        for uid in mentioned
    )
    seq, _ = await events.record(
        session,
        message.room_id,
        events.MESSAGE_EDITED,
        {
            "message_id": message.id,
            "source": source,
            "html": rendered.html,
            "edited_at": message_shape(message, author_name=None)["edited_at"],
            "mentions": mentioned,
        },
        message_id=message.id,
    )
    return seq


async def check_delete(session: AsyncSession, access: RoomAccess, *, message_id: int) -> int:
    """Delete one's own message: a tombstone stays, its text and edit history are erased,
    and its earlier events are redacted so that no catch-up replays the text."""
    if not access.allows(Permission.DELETE_OWN_MESSAGE):
        raise NotAllowed(permission=Permission.DELETE_OWN_MESSAGE.value)
    await events.lock_room(session, access.room.id)
    message = await _own_live_message(session, access, message_id)
    message.deleted_at = utcnow()
    message.source = ""
    message.html = ""
    await session.execute(delete(MessageEdit).where(MessageEdit.message_id == message.id))
    await session.execute(delete(Mention).where(Mention.message_id == message.id))
    await events.redact(
        session,
        message.id,
        message_shape(message, author_name=await _author_name(session, message.author_id)),
    )
    seq, _ = await events.record(
        session,
        message.room_id,
        events.MESSAGE_DELETED,
        {"message_id": message.id},
        message_id=message.id,
    )
    return seq
