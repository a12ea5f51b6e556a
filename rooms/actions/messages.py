"""Posting, editing and deleting messages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
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
from rooms.moderation import WriteState, check_can_write, write_refusal, write_state
from rooms.shapes import NewMessage, message_shape, reply_shape
from rooms.validation import clean_client_id, clean_source, clean_topic

_MENTION_CANDIDATE = re.compile(r"@\*\*([^*\n]{1,120})\*\*")


@dataclass(frozen=True, slots=True)
class Posted:
    """What the sender is told: the message's id and position, and whether it is a resend."""

    message_id: int
    seq: int
    duplicate: bool
    room_id: int


def mention_candidates(source: str) -> set[str]:
    """The names written ``@**Nom**`` in ``source`` (members or not)."""
    return {m.group(1).strip() for m in _MENTION_CANDIDATE.finditer(source)}


async def mentionable(session: AsyncSession, source: str) -> dict[str, int]:
    """Display names (of active users) that the source may mention, mapped to ids.

    Names match exactly, as the composer's autocomplete writes them (SQLite's ``lower()``
    only folds ASCII, so a case-insensitive match would miss "Élodie"). Only the names
    written as ``@**Nom**`` are looked up, so a message without mentions costs no query.
    """
    names = mention_candidates(source)
    return await _mentionable(session, names) if names else {}


async def _mentionable(session: AsyncSession, names: set[str]) -> dict[str, int]:
    rows = await session.execute(MENTIONABLE, {"names": sorted(names)})
    return {str(name): int(user_id) for name, user_id in rows}


async def _author_name(session: AsyncSession, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return await session.scalar(select(User.display_name).where(User.id == user_id))


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
class Pending:
    """A request past the checks that need no database: cleaned, not a copy of another."""

    index: int
    request: PostRequest
    topic: str
    source: str
    client_id: str


@dataclass(slots=True)
class _Accepted:
    index: int
    request: PostRequest
    message: NewMessage
    mentioned: list[int]
    reply: dict[str, Any] | None
    author_name: str | None


class PostBatch:
    """The rules of posting a batch of messages, without the database (sans I/O).

    The caller reads, for each :meth:`clean` request in turn (unless
    :meth:`answered_as_copy`), the room's
    :class:`~rooms.moderation.WriteState` (under the room lock), the parent of a reply,
    the names a message mentions and the author's name when unknown, and hands them to
    :meth:`accept`; then writes :meth:`message_rows`, :meth:`mention_rows`,
    :meth:`advances` and :meth:`events`. :func:`post_steps` is that caller, for every
    store (the session, ``sqlite3``, asyncpg).

    Each result is the ``Posted`` or the error that refused that request, which then
    wrote nothing — the others go on. Requests are taken in room id order (rooms are
    locked in that order, so that two processes' batches cannot deadlock); within a room
    they keep their order. A resend of a client id in the same batch answers like a
    resend after it; slow mode counts a message earlier in the batch.
    """

    def __init__(self, requests: Sequence[PostRequest], now: dt.datetime) -> None:
        self.requests = requests
        self.now = now
        self.accepted: list[_Accepted] = []
        self._results: list[Posted | RoomsError | None] = [None] * len(requests)
        self._first_seq: dict[int, int] = {}  # the room's position before this batch
        self._last_seq: dict[int, int] = {}  # ... with this batch's messages
        self._in_batch: dict[tuple[int, str], int] = {}  # (author, client id) -> accepted
        self._copies: list[tuple[int, int]] = []  # (request index, index in ``accepted``)
        self._posting: set[tuple[int, int]] = set()  # (room, author) of accepted requests

    def clean(self) -> list[Pending]:
        """The requests that need the database, in room order; the others are answered
        (not allowed, invalid input)."""
        requests = self.requests
        cleaned: list[Pending] = []
        for index in sorted(range(len(requests)), key=lambda i: requests[i].access.room.id):
            request = requests[index]
            try:
                if not request.access.allows(Permission.POST_MESSAGE):
                    raise NotAllowed(permission=Permission.POST_MESSAGE.value)
                client_id = clean_client_id(request.client_id)
                topic = clean_topic(request.topic)
                source = clean_source(request.source)
            except RoomsError as exc:
                self._results[index] = exc
                continue
            cleaned.append(Pending(index, request, topic, source, client_id))
        return cleaned

    def answered_as_copy(self, pending: Pending) -> bool:
        """A client id already accepted in this batch: answered with that message."""
        first = self._in_batch.get((pending.request.access.user_id, pending.client_id))
        if first is None:
            return False
        self._copies.append((pending.index, first))
        return True

    def answered_earlier(self, pending: Pending, state: WriteState) -> bool:
        """Answer a resend of a committed client id with its first result."""
        if state.earlier_id is None:
            return False
        self._results[pending.index] = Posted(
            state.earlier_id, int(state.earlier_seq or 0), True, int(state.earlier_room_id or 0)
        )
        return True

    def check(self, pending: Pending, state: WriteState) -> None:
        """Raises what the moderation refuses (``rooms.moderation.write_refusal``)."""
        access = pending.request.access
        refusal = write_refusal(access, state, posting=True, now=self.now)
        if refusal is not None:
            raise refusal
        room_id = access.room.id
        if (
            state.slow_mode_secs
            and not access.allows_moderate
            and (room_id, access.user_id) in self._posting
        ):
            raise SlowMode(
                room_id=room_id, seconds=state.slow_mode_secs, retry_after=state.slow_mode_secs
            )

    def refuse(self, pending: Pending, error: RoomsError) -> None:
        self._results[pending.index] = error

    def accept(
        self,
        pending: Pending,
        state: WriteState,
        *,
        parent: Message | None,
        parent_author: str | None,
        mentions: Mapping[str, int],
        author_name: str | None,
    ) -> None:
        """Take the message; raises ``MessageNotFound`` for a reply to no message here."""
        request = pending.request
        room_id, author_id = request.access.room.id, request.access.user_id
        if request.reply_to_id is not None and (parent is None or parent.room_id != room_id):
            raise MessageNotFound(message_id=request.reply_to_id)
        rendered = render_markdown(pending.source, mentions=mentions)
        self._first_seq.setdefault(room_id, state.last_seq)
        seq = self._last_seq.get(room_id, state.last_seq) + 1
        self._last_seq[room_id] = seq
        message = NewMessage(
            room_id=room_id,
            seq=seq,
            topic=pending.topic,
            author_id=author_id,
            client_id=pending.client_id,
            source=pending.source,
            html=rendered.html,
            reply_to_id=parent.id if parent else None,
            created_at=self.now,
        )
        self._in_batch[(author_id, pending.client_id)] = len(self.accepted)
        self._posting.add((room_id, author_id))
        reply = reply_shape(parent, parent_author) if parent else None
        self.accepted.append(
            _Accepted(
                pending.index, request, message, sorted(rendered.mentioned), reply, author_name
            )
        )

    def number(self, ids: Iterable[int]) -> None:
        """The accepted messages' ids, in order, once inserted."""
        for item, message_id in zip(self.accepted, ids, strict=True):
            item.message.id = message_id

    def message_rows(self) -> list[dict[str, Any]]:
        """The accepted messages' columns, without ids (each store chooses how to get them)."""
        return [{c: getattr(item.message, c) for c in MESSAGE_COLUMNS} for item in self.accepted]

    def mention_rows(self) -> list[dict[str, Any]]:
        return [
            {"message_id": m.id, "user_id": uid, "room_id": m.room_id, "seq": m.seq}
            for item in self.accepted
            for m in (item.message,)
            for uid in item.mentioned
        ]

    def advances(self) -> list[dict[str, int]]:
        """Parameters of ``rooms.events.ADVANCE``: each room's position moved once."""
        return [
            {"room": room_id, "before": self._first_seq[room_id], "after": seq}
            for room_id, seq in self._last_seq.items()
        ]

    def events(self) -> list[events.Appended]:
        """The ``message.posted`` events (after :meth:`number`)."""
        return [
            events.Appended(
                item.message.room_id,
                item.message.seq,
                events.MESSAGE_POSTED,
                {
                    "message": message_shape(
                        item.message,
                        author_name=item.author_name,
                        mentions=item.mentioned,
                        reply=item.reply,
                    )
                },
                message_id=item.message.id,
            )
            for item in self.accepted
        ]

    def results(self) -> list[Posted | RoomsError]:
        for item in self.accepted:
            message = item.message
            self._results[item.index] = Posted(message.id, message.seq, False, message.room_id)
        for index, first in self._copies:
            message = self.accepted[first].message
            self._results[index] = Posted(message.id, message.seq, True, message.room_id)
        done = [result for result in self._results if result is not None]
        if len(done) != len(self.requests):  # pragma: no cover - every path sets one
            raise RuntimeError("a post request got no result")
        return done


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


PostSteps = Generator[tuple[str, Any], Any, list[Posted | RoomsError]]


def post_steps(requests: Sequence[PostRequest], now: dt.datetime) -> PostSteps:
    """Posting a batch as a sequence of database steps (sans I/O): each ``yield`` is
    ``(step, argument)`` and receives the step's result from the store that runs it.

    Steps (a store implements each as a method): ``prefetch`` (the ``Pending`` requests,
    before any other step: a store may read their states at once), ``state`` (the
    :class:`WriteState` of a ``Pending``, under the room lock), ``parent`` (a reply's
    parent and its author's name, or ``(None, None)``), ``author`` (a user's display
    name), ``mentionable`` (names -> ids), ``insert_messages`` (the rows; returns their
    ids in order), ``advance`` (``rooms.events.ADVANCE``'s parameters, one per room),
    ``append`` (the events) and ``insert_mentions``, in that order (a store may hold
    the writes until ``append`` and send them together). The three stores — the async
    session, ``sqlite3``, asyncpg — differ only in how they run a step.
    """
    batch = PostBatch(requests, now)
    cleaned = batch.clean()
    if cleaned:
        yield ("prefetch", cleaned)
    for pending in cleaned:
        if batch.answered_as_copy(pending):
            continue
        request = pending.request
        try:
            state = yield ("state", pending)
            if batch.answered_earlier(pending, state):
                continue
            batch.check(pending, state)
            parent, parent_author = (None, None)
            if request.reply_to_id is not None:
                parent, parent_author = yield ("parent", request.reply_to_id)
            author_name = request.author_name
            if author_name is None:
                author_name = yield ("author", request.access.user_id)
            names = mention_candidates(pending.source)
            batch.accept(
                pending,
                state,
                parent=parent,
                parent_author=parent_author,
                mentions=(yield ("mentionable", names)) if names else {},
                author_name=author_name,
            )
        except RoomsError as exc:
            batch.refuse(pending, exc)
    if batch.accepted:
        batch.number((yield ("insert_messages", batch.message_rows())))
        yield ("advance", batch.advances())
        yield ("append", batch.events())
        if mention_rows := batch.mention_rows():
            yield ("insert_mentions", mention_rows)
    return batch.results()


async def run_steps(steps: PostSteps, store: Any) -> list[Posted | RoomsError]:
    """Run :func:`post_steps` on a store whose steps are coroutines."""
    result: Any = None
    try:
        while True:
            step, argument = steps.send(result)
            result = await getattr(store, step)(argument)
    except StopIteration as done:
        return done.value


def run_steps_sync(steps: PostSteps, store: Any) -> list[Posted | RoomsError]:
    """Run :func:`post_steps` on a store whose steps are plain functions."""
    result: Any = None
    try:
        while True:
            step, argument = steps.send(result)
            result = getattr(store, step)(argument)
    except StopIteration as done:
        return done.value


def parent_message(row: Sequence[Any] | None) -> tuple[Message | None, str | None]:
    """A reply's parent from a row of :data:`PARENT` (transient: for its shape)."""
    if row is None:
        return None, None
    message_id, room_id, author_id, source, deleted_at, author = row
    parent = Message(
        id=message_id, room_id=room_id, author_id=author_id, source=source, deleted_at=deleted_at
    )
    return parent, author


class _SessionStore:
    """:func:`post_steps` in the caller's ``AsyncSession`` (any database)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def prefetch(self, pending: list[Pending]) -> None:
        """Each state is read under its room's lock, in turn."""

    async def state(self, pending: Pending) -> WriteState:
        # Under the room lock: a concurrent first send of this client id has committed.
        return await write_state(
            self.session, pending.request.access, lock=True, client_id=pending.client_id
        )

    async def parent(self, message_id: int) -> tuple[Message | None, str | None]:
        connection = await self.session.connection()
        return parent_message((await connection.execute(PARENT, {"id": message_id})).first())

    async def author(self, user_id: int) -> str | None:
        return await _author_name(self.session, user_id)

    async def mentionable(self, names: set[str]) -> dict[str, int]:
        return await _mentionable(self.session, names)

    async def insert_messages(self, rows: list[dict[str, Any]]) -> list[int]:
        connection = await self.session.connection()
        return list((await connection.execute(INSERT_MESSAGES, rows)).scalars())

    async def insert_mentions(self, rows: list[dict[str, Any]]) -> None:
        connection = await self.session.connection()
        await connection.execute(INSERT_MENTIONS, rows)

    async def advance(self, moves: list[dict[str, int]]) -> None:
        for move in moves:
            await events.advance(
                self.session, move["room"], before=move["before"], after=move["after"]
            )

    async def append(self, appended: list[events.Appended]) -> None:
        await events.append_many(self.session, appended)


async def check_post_many(
    session: AsyncSession, requests: Sequence[PostRequest]
) -> list[Posted | RoomsError]:
    """Post several messages in the caller's transaction (:class:`PostBatch`'s rules).

    Each request costs one read (:func:`rooms.moderation.write_state`: the room lock, the
    position, the moderation facts and an earlier send of its client id); the messages,
    then their events, are inserted together (Core statements: the ORM's unit of work
    was a fifth of a send), and each room's position is moved once.
    """
    return await run_steps(post_steps(requests, utcnow()), _SessionStore(session))


_MESSAGES = Message.__table__
MESSAGE_COLUMNS = (
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
INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
# The drivers' paths choose the ids first, so that the insert is one ``executemany``.
INSERT_MESSAGES_WITH_IDS = insert(_MESSAGES).values(
    {column: bindparam(column) for column in ("id", *MESSAGE_COLUMNS)}
)
INSERT_MENTIONS = insert(Mention.__table__).values(
    {column: bindparam(column) for column in ("message_id", "user_id", "room_id", "seq")}
)


_USERS = User.__table__
PARENT = (
    select(
        _MESSAGES.c.id,
        _MESSAGES.c.room_id,
        _MESSAGES.c.author_id,
        _MESSAGES.c.source,
        _MESSAGES.c.deleted_at,
        _USERS.c.display_name,
    )
    .select_from(_MESSAGES.outerjoin(_USERS, _USERS.c.id == _MESSAGES.c.author_id))
    .where(_MESSAGES.c.id == bindparam("id"))
)
AUTHOR = select(_USERS.c.display_name).where(_USERS.c.id == bindparam("id"))
# Who ``@**Nom**`` may mention (see :func:`mentionable`).
MENTIONABLE = select(_USERS.c.display_name, _USERS.c.id).where(
    _USERS.c.display_name.in_(bindparam("names", expanding=True)), _USERS.c.is_active.is_(True)
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
