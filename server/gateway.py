"""The chat WebSocket endpoint: one socket per browser tab, multiplexing its rooms.

Handshake: the session cookie must name a live session and ``Origin`` (when sent, as
browsers always do) must be this site or an allowed origin; otherwise the socket is
refused before it opens. Then the connection runs two tasks — reading frames and writing
its queue — and when either ends, the other is cancelled.

Every frame is parsed by ``server.protocol``, rate-limited for writes, and handled in its
own transaction: ``rooms.access.access_room`` checks the member's current roles, then one
``check_*`` action runs; the acknowledgement goes out after commit. The frequent frames
(``send``, ``typing``) use the access the socket keeps per room (``Session.room_access``):
it is dropped as soon as the member's roles or exclusions change (the ``access_changed``
control message) and read again at least every ``ACCESS_TTL_SECS`` (a mandate's end date).
Blocks, mutes, the room lock and slow mode are read on every write. An
error answers with an ``error`` frame carrying the request's ``id`` and a stable code;
the connection stays up unless the client keeps sending errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.roles import Permission
from rooms.access import RoomAccess, access_room, require
from rooms.actions import messages as message_actions
from rooms.actions import moderation, polls, proxies
from rooms.actions.messages import Posted, PostRequest
from rooms.actions.reactions import check_react
from rooms.actions.reading import Receipt
from rooms.actions.topics import check_move_messages, check_rename_topic
from rooms.errors import RoomsError
from rooms.events import room_channel
from rooms.limits import MAX_MESSAGE_SOURCE_BYTES, MAX_TOPIC_CHARS
from rooms.models import Room
from rooms.moderation import check_can_write
from rooms.validation import clean_topic
from server import errors
from server.connection import Connection
from server.protocol import (
    ACK,
    ERROR,
    HELLO,
    MAX_FRAME_BYTES,
    PONG,
    TYPING,
    Command,
    ProtocolError,
    encode,
    parse_frame,
)
from server.state import AppState
from server.wire import RAW_SEND, direct_writer

log = logging.getLogger(__name__)

ABUSE_ERRORS = 30
ACCESS_TTL_SECS = 60.0
_KEPT_ROOMS: weakref.WeakValueDictionary[int, Room] = weakref.WeakValueDictionary()
ABUSE_WINDOW_SECS = 60.0
# Read receipts of one socket waiting for their batch (server/receipts.py); beyond, the
# socket's next frame waits for one of them to be written.
MAX_READS_WAITING = 16
WRITE_FRAMES = frozenset(
    {
        "send",
        "edit",
        "delete",
        "react",
        "topic.rename",
        "messages.move",
        "message.hide",
        "message.restore",
        "message.pin",
        "message.unpin",
        "message.flag",
        "flags.dismiss",
        "room.lock",
        "room.unlock",
        "room.slow_mode",
        "room.update",
        "announcement.post",
        "announcement.ack",
        "member.mute",
        "member.unmute",
        "member.remove",
        "member.readmit",
        "member.block",
        "member.unblock",
        "poll.create",
        "poll.vote",
        "poll.close",
        "poll.extend",
        "proxy.give",
        "proxy.revoke",
    }
)


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Same-site or explicitly allowed; absent Origin means a non-browser client."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    host = websocket.headers.get("host", "")
    return origin in allowed or origin in (f"http://{host}", f"https://{host}")


class Session:
    """One authenticated connection: reads frames, dispatches them, reports errors."""

    __slots__ = ("conn", "errors", "reads", "state", "websocket")

    def __init__(self, state: AppState, websocket: WebSocket, conn: Connection) -> None:
        self.state = state
        self.websocket = websocket
        self.conn = conn
        self.errors: list[float] = []
        self.reads: set[asyncio.Future[Any]] = set()  # receipts not yet written

    @property
    def user_id(self) -> int:
        return self.conn.user_id

    def ack(self, command: Command, **fields: Any) -> None:
        self.conn.offer(encode(ACK, id=command.id, **fields))

    def fail(self, exc: Exception, request_id: str | None) -> None:
        code, message, data = errors.describe(exc, self.conn.locale)
        self.conn.offer(encode(ERROR, id=request_id, code=code, message=message, **data))
        now = time.monotonic()
        self.errors = [t for t in self.errors if now - t < ABUSE_WINDOW_SECS] + [now]

    async def room_access(self, room_id: int, permission: Permission) -> RoomAccess:
        """The member's access to ``room_id``, read at most every ``ACCESS_TTL_SECS``
        (no session at all when it is kept).

        Only a granted access is kept: a refusal is read again on the next frame.
        """
        now = time.monotonic()
        kept = self.conn.access.get(room_id)
        if kept is None or now - kept[1] >= ACCESS_TTL_SECS:
            async with self.state.db.read() as session:
                access = await access_room(session, self.user_id, room_id)
                # Out of the session: a later rollback must not expire the room's
                # attributes under the kept access.
                session.expunge(access.room)
            # One ``Room`` per room for every socket of the process (memory per idle
            # socket is a target); a kept access is only trusted for the room's id.
            room = _KEPT_ROOMS.setdefault(room_id, access.room)
            access = dataclasses.replace(access, room=room)
            self.conn.access[room_id] = (access, now)
        else:
            access = kept[0]
        return require(access, permission)

    @property
    def abusive(self) -> bool:
        return len(self.errors) >= ABUSE_ERRORS

    async def receive_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None and message.get("bytes") is not None:
                raw = message["bytes"]
            command: Command | None = None
            try:
                command = parse_frame(raw)
                if command.type in WRITE_FRAMES:
                    wait = self.state.rate_limiter.take(self.user_id)
                    if wait:
                        raise errors.RateLimited(wait)
                await HANDLERS[command.type](self, command)
            except (ProtocolError, RoomsError, errors.RateLimited) as exc:
                request_id = command.id if command else getattr(exc, "request_id", None)
                self.fail(exc, request_id)
            except Exception as exc:
                log.exception("frame failed for user %s", self.user_id)
                self.fail(exc, command.id if command else None)
            if self.abusive:
                # The member's client sees why: its error frames go out before the close.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.conn.flush(), 2.0)
                await self.websocket.close(errors.CLOSE_ABUSE)
                return

    # -- handlers --------------------------------------------------------------------
    async def on_subscribe(self, command: Command) -> None:
        for room_id, after_seq in command["rooms"]:
            try:
                await self.room_access(room_id, Permission.READ_ROOM)
            except RoomsError as exc:
                self.fail(exc, command.id)
                continue
            await self.state.hub.follow(self.conn, room_id, after_seq)
        self.ack(command)

    async def on_unsubscribe(self, command: Command) -> None:
        for room_id in command["room_ids"]:
            await self.state.hub.unfollow(self.conn, room_id)
        self.ack(command)

    async def on_send(self, command: Command) -> None:
        access = await self.room_access(command["room_id"], Permission.POST_MESSAGE)
        request = PostRequest(
            access,
            topic=command["topic"],
            source=command["body"],
            client_id=command["client_id"],
            reply_to_id=command["reply_to"],
            author_name=self.conn.user_name,
        )
        # Written at once when nothing else is (server/posting.py); then the sender's
        # own copy of the message and the ack leave in one write (Connection.held).
        with self.conn.held():
            posted = self.state.poster.post_now(request)
            if posted is not None:
                self._ack_send(command, posted)
        if posted is None:
            # Written with the other sends waiting (group commit).
            self._ack_send(command, await self.state.poster.post(request))

    def _ack_send(self, command: Command, posted: Posted) -> None:
        # ``room_id`` is where the message is: a client_id reused in another room
        # answers with the first message, in its own room.
        self.ack(
            command,
            room_id=posted.room_id,
            client_id=command["client_id"],
            message_id=posted.message_id,
            seq=posted.seq,
            duplicate=posted.duplicate,
        )

    async def on_edit(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await message_actions.check_edit(
                session, access, message_id=command["message_id"], source=command["body"]
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_delete(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await message_actions.check_delete(
                session, access, message_id=command["message_id"]
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_react(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await check_react(
                session,
                access,
                message_id=command["message_id"],
                emoji=command["emoji"],
                add=command["op"] == "add",
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_topic_rename(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await check_rename_topic(session, access, old=command["old"], new=command["new"])
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_messages_move(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await check_move_messages(
                session, access, message_ids=command["message_ids"], topic=command["topic"]
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_read(self, command: Command) -> None:
        # The kept access, as for a send: a receipt follows every message a member reads.
        access = await self.room_access(command["room_id"], Permission.READ_ROOM)
        # Written with the others of the next quarter second (server/receipts.py) and
        # answered then; this socket's next frames are not held back meanwhile.
        # A socket that sends them faster than they are written waits, as it did when
        # each was written before its next frame was read: the waiting ones stay few.
        while len(self.reads) >= MAX_READS_WAITING:
            await asyncio.wait(self.reads, return_when=asyncio.FIRST_COMPLETED)
        written = self.state.receipts.mark(Receipt(access, command["seq"], command["topic"]))
        self.reads.add(written)
        written.add_done_callback(functools.partial(self._answer_read, command))

    def _answer_read(self, command: Command, written: asyncio.Future[Any]) -> None:
        self.reads.discard(written)
        if written.cancelled():
            return
        exc = written.exception()
        if exc is None:
            self.ack(command, room_id=command["room_id"])
            return
        if not isinstance(exc, RoomsError):
            log.error("read receipt failed for user %s", self.user_id, exc_info=exc)
        self.fail(exc, command.id)

    async def on_typing(self, command: Command) -> None:
        room_id = command["room_id"]
        if room_id not in self.conn.rooms:
            return
        access = await self.room_access(room_id, Permission.POST_MESSAGE)
        async with self.state.db.read() as session:
            try:
                await check_can_write(session, access)
            except RoomsError:
                # Muted, blocked or locked out: nobody should see them "typing"; no
                # error either (typing is ephemeral, the client sends it per keystroke).
                return
        frame = encode(
            TYPING,
            room_id=room_id,
            topic=clean_topic(command["topic"]),
            user={"id": self.user_id, "name": self.conn.user_name},
        )
        await self.state.broker.publish(room_channel(room_id), frame)

    async def on_ping(self, command: Command) -> None:
        self.conn.offer(encode(PONG, id=command.id))

    # -- moderation (rooms/actions/moderation.py) ------------------------------------
    async def on_message_hide(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_hide(
                session, access, message_id=command["message_id"], reason=command["reason"]
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_message_restore(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_restore(
                session,
                access,
                message_id=command["message_id"],
                reason=command["reason"] or "",
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_message_pin(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_pin(
                session,
                access,
                message_id=command["message_id"],
                pin=command.type == "message.pin",
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_message_flag(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            flagged = await moderation.check_flag(
                session,
                access,
                message_id=command["message_id"],
                reason=command["reason"],
                comment=command["comment"] or "",
                threshold=self.state.settings.flag_hide_threshold,
            )
        self.ack(
            command,
            room_id=command["room_id"],
            message_id=command["message_id"],
            flag_id=flagged.flag_id,
            duplicate=flagged.duplicate,
            hidden=flagged.hidden,
            seq=flagged.seq,
        )

    async def on_flags_dismiss(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            dismissed = await moderation.check_dismiss_flags(
                session,
                access,
                message_id=command["message_id"],
                reason=command["reason"] or "",
            )
        self.ack(
            command, room_id=command["room_id"], resolved=dismissed.resolved, seq=dismissed.seq
        )

    async def on_room_lock(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_lock(
                session,
                access,
                locked=command.type == "room.lock",
                reason=command["reason"] or "",
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_room_slow_mode(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_slow_mode(session, access, seconds=command["seconds"])
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_room_update(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_update_room(
                session, access, description=command["description"], agenda=command["agenda"]
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_announcement_post(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            posted = await moderation.check_announce(session, access, body=command["body"])
        self.ack(
            command,
            room_id=command["room_id"],
            announcement_id=posted.announcement_id,
            seq=posted.seq,
        )

    async def on_announcement_ack(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            new = await moderation.check_acknowledge(
                session, access, announcement_id=command["announcement_id"]
            )
        self.ack(
            command,
            room_id=command["room_id"],
            announcement_id=command["announcement_id"],
            duplicate=not new,
        )

    async def on_member_mute(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_mute(
                session,
                access,
                user_id=command["user_id"],
                seconds=command["seconds"],
                reason=command["reason"],
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_member_unmute(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_unmute(session, access, user_id=command["user_id"])
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_member_remove(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await moderation.check_remove(
                session, access, user_id=command["user_id"], reason=command["reason"]
            )
        self.ack(command, room_id=command["room_id"], seq=seq)

    async def on_member_readmit(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            changed = await moderation.check_readmit(session, access, user_id=command["user_id"])
        self.ack(command, room_id=command["room_id"], changed=changed)

    async def on_member_block(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            if command.type == "member.block":
                changed = await moderation.check_block(
                    session,
                    actor_id=self.user_id,
                    user_id=command["user_id"],
                    reason=command["reason"],
                )
            else:
                changed = await moderation.check_unblock(
                    session, actor_id=self.user_id, user_id=command["user_id"]
                )
        self.ack(command, user_id=command["user_id"], changed=changed)

    # -- polls (rooms/actions/polls.py) ------------------------------------------------
    async def on_poll_create(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            poll_id, seq = await polls.check_create(
                session,
                access,
                topic=command["topic"],
                kind=command["kind"],
                question=command["question"],
                options=command["options"],
                settings=command["settings"],
                secret=bool(command["secret"]),
                visibility=command["visibility"] or "live",
                quorum=command["quorum"],
                closes_in_minutes=command["closes_in_minutes"],
                opens_in_minutes=command["opens_in_minutes"],
                remind_minutes=command["remind_minutes"],
            )
        self.ack(command, room_id=command["room_id"], poll_id=poll_id, seq=seq)

    async def on_poll_vote(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            voted = await polls.check_vote(
                session,
                access,
                poll_id=command["poll_id"],
                ballot=command["ballot"],
                receipt=command["receipt"],
                for_user_id=command["for_user_id"],
            )
        fields: dict[str, Any] = {"replaced": voted.replaced}
        if voted.receipt is not None:
            fields["receipt"] = voted.receipt
        if voted.counts is not None:
            fields["counts"] = voted.counts
        self.ack(
            command, room_id=command["room_id"], poll_id=voted.poll_id, seq=voted.seq, **fields
        )

    async def on_poll_close(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await polls.check_close(
                session, access, poll_id=command["poll_id"], outcome=command["outcome"]
            )
        self.ack(command, room_id=command["room_id"], poll_id=command["poll_id"], seq=seq)

    async def on_poll_extend(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await polls.check_extend(
                session,
                access,
                poll_id=command["poll_id"],
                closes_in_minutes=command["closes_in_minutes"],
            )
        self.ack(command, room_id=command["room_id"], poll_id=command["poll_id"], seq=seq)

    async def on_proxy_give(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            proxy_id, seq = await proxies.check_give(
                session,
                access,
                holder_id=command["holder_id"],
                poll_id=command["poll_id"],
                until=command["until"],
            )
        self.ack(command, room_id=command["room_id"], proxy_id=proxy_id, seq=seq)

    async def on_proxy_revoke(self, command: Command) -> None:
        async with self.state.db.transaction() as session:
            access = await access_room(session, self.user_id, command["room_id"])
            seq = await proxies.check_revoke(session, access, proxy_id=command["proxy_id"])
        self.ack(command, room_id=command["room_id"], proxy_id=command["proxy_id"], seq=seq)


# One table for the process (not a dict of bound methods per socket): frame type -> handler.
HANDLERS: dict[str, Callable[[Session, Command], Awaitable[None]]] = {
    "subscribe": Session.on_subscribe,
    "unsubscribe": Session.on_unsubscribe,
    "send": Session.on_send,
    "edit": Session.on_edit,
    "delete": Session.on_delete,
    "react": Session.on_react,
    "typing": Session.on_typing,
    "read": Session.on_read,
    "topic.rename": Session.on_topic_rename,
    "messages.move": Session.on_messages_move,
    "ping": Session.on_ping,
    "message.hide": Session.on_message_hide,
    "message.restore": Session.on_message_restore,
    "message.pin": Session.on_message_pin,
    "message.unpin": Session.on_message_pin,
    "message.flag": Session.on_message_flag,
    "flags.dismiss": Session.on_flags_dismiss,
    "room.lock": Session.on_room_lock,
    "room.unlock": Session.on_room_lock,
    "room.slow_mode": Session.on_room_slow_mode,
    "room.update": Session.on_room_update,
    "announcement.post": Session.on_announcement_post,
    "announcement.ack": Session.on_announcement_ack,
    "member.mute": Session.on_member_mute,
    "member.unmute": Session.on_member_unmute,
    "member.remove": Session.on_member_remove,
    "member.readmit": Session.on_member_readmit,
    "member.block": Session.on_member_block,
    "member.unblock": Session.on_member_block,
    "poll.create": Session.on_poll_create,
    "poll.vote": Session.on_poll_vote,
    "poll.close": Session.on_poll_close,
    "poll.extend": Session.on_poll_extend,
    "proxy.give": Session.on_proxy_give,
    "proxy.revoke": Session.on_proxy_revoke,
}


async def chat_endpoint(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.atelier
    if not origin_allowed(websocket, state.settings.allowed_origins):
        # Refused before the handshake completes (HTTP 403): a page of another site
        # must not even get an open socket carrying the member's cookie.
        await websocket.close(errors.CLOSE_FORBIDDEN_ORIGIN)
        return
    found = await state.authenticate_session(websocket.cookies)
    if found is None:
        # Accept then close: a browser cannot read a refused handshake's status, but it
        # can read this close code and send the member to the sign-in page.
        await websocket.accept()
        await websocket.close(errors.CLOSE_NOT_AUTHENTICATED, "not_authenticated")
        return
    await websocket.accept()
    user, session_id = found

    conn = Connection(
        user.id,
        user.display_name,
        send=websocket.send_text,
        limit=state.settings.send_queue_limit,
        locale=user.locale,
        session_id=session_id,
        direct=direct_writer(websocket.scope.get(RAW_SEND)),
    )
    state.hub.register(conn)
    conn.offer(
        encode(
            HELLO,
            user={"id": user.id, "name": user.display_name},
            limits={
                "frame_bytes": MAX_FRAME_BYTES,
                "body_bytes": MAX_MESSAGE_SOURCE_BYTES,
                "topic_chars": MAX_TOPIC_CHARS,
            },
        )
    )
    session = Session(state, websocket, conn)
    # This task reads; writing needs none while the socket keeps up (server/connection.py).
    # When the socket must close (session ended, overflow), the connection interrupts
    # the read by cancelling this task, which then closes the socket with its code.
    endpoint = asyncio.current_task()
    assert endpoint is not None  # noqa: S101
    conn.on_stop = endpoint.cancel
    try:
        if not conn.stopping:
            await session.receive_loop()
    except asyncio.CancelledError:
        if not conn.stopping:
            raise  # the server is shutting down
        endpoint.uncancel()
    except (WebSocketDisconnect, Exception):
        log.debug("chat socket of user %s ended by an error", user.id, exc_info=True)
    finally:
        conn.on_stop = None
        conn.shut()
        await state.hub.unregister(conn)
    if conn.ended:
        # Signed out, session revoked or account deactivated.
        await _close(websocket, errors.CLOSE_SESSION_ENDED, within=1.0)
    elif conn.overflowed:
        # The member stopped reading: the close frame may never get through a full
        # socket, so it gets a moment and then the connection is dropped. The client
        # resumes from its last seq when it comes back.
        await _close(websocket, errors.CLOSE_SLOW_CONSUMER, within=1.0)


async def _close(websocket: WebSocket, code: int, within: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code), within)
