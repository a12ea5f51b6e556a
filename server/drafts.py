"""Live co-editing of drafts: the standard Yjs sync and awareness protocol over WebSocket.

The stock ``y-websocket`` client connects unchanged to ``/ws/drafts/<draft id>``. For
each draft followed by a local socket this process holds a :class:`DraftRoom`: the
pycrdt document, loaded from the database *before* any client is served, and its
sockets. An editor's update is validated (size, decodable, draft not locked, the member
may edit), stored in the append-only log, committed, and only then applied and sent to
the other sockets; other processes receive it through the broker (``draft:<id>``).

Nothing relies on the broker arriving: each room remembers which logged updates it has
applied and, on a timer and after a broker reconnection, reads the ones it has not seen
from the database (the log is the truth; a missed relay is repaired from it).

Read-only sockets (observers, members of a draft not opened to them, everyone when the
draft is locked) are never asked for their state (no sync step 1), and one that sends a
non-empty update anyway is closed with 4003 and the update is not applied. Roles are
re-checked when they change, so a withdrawn right applies to open sockets at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pycrdt import (
    Awareness,
    Decoder,
    Doc,
    Encoder,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
)
from sqlalchemy import select
from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.base import utcnow
from auth.roles import Permission
from auth.sessions import live_session_ids
from documents import actions as draft_actions
from documents import crdt, pg_store, sqlite_store
from documents.errors import DocumentsError, DraftNotFound
from documents.models import Draft, DraftUpdate
from rooms.access import access_draft
from rooms.errors import NotAllowed, RoomsError
from server import errors
from server.broker import RESYNC, Broker
from server.broker.inbox import Inbox
from server.database import Database
from server.wire import RAW_SEND, OutgoingBytes, direct_writer

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOSE_READ_ONLY = 4003
CLOSE_BAD_UPDATE = 4400
SEND_QUEUE_LIMIT = 1_000
UNLOAD_GRACE_SECS = 30.0
SNAPSHOT_CHECK_SECS = 5.0  # at most this often per draft being edited


class DraftSocket:
    """One editor's or reader's connection to a draft."""

    def __init__(self, websocket: WebSocket, user_id: int, session_id: str, user_name: str) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.user_name = user_name  # what its awareness states say, whatever it sends
        self.session_id = session_id
        self.can_edit = False
        self.client_ids: set[int] = set()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closing: tuple[int, str] | None = None
        # server/wire.py: a broadcast is framed once and written straight to the socket
        # while nothing waits in the queue (``_sending``: the writer holds a message).
        self._direct = direct_writer(websocket.scope.get(RAW_SEND))
        self._sending = False

    def send(self, message: bytes) -> None:
        if self.closing is not None:
            return
        if (
            self._direct is not None
            and not self._sending
            and self.queue.empty()
            and self._direct(message)
        ):
            return
        if self.queue.qsize() >= SEND_QUEUE_LIMIT:
            # It stopped reading: drop it; on reconnect, sync brings it up to date.
            self.close(errors.CLOSE_SLOW_CONSUMER, "slow_consumer")
            return
        self.queue.put_nowait(message)

    def close(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
            self.queue.put_nowait(None)

    async def run_sender(self) -> None:
        while (message := await self.queue.get()) is not None:
            self._sending = True
            try:
                if not (self._direct is not None and self._direct(message)):
                    await self.websocket.send_bytes(message)
            finally:
                self._sending = False


class DraftRoom:
    def __init__(self, draft_id: int, doc: Doc, last_id: int) -> None:
        self.draft_id = draft_id
        self.doc = doc
        self.awareness = Awareness(doc)
        # Which socket of this process speaks for each awareness client id.
        self.owners: dict[int, DraftSocket] = {}
        self.sockets: set[DraftSocket] = set()
        self.seen: set[int] = set()  # logged update ids applied since ``floor``
        self.floor = last_id  # every logged update up to here is in ``doc``
        self.unload: asyncio.TimerHandle | None = None
        # Group commit: updates waiting for the next write, and the task writing them.
        self.pending: list[tuple[DraftSocket, bytes, asyncio.Future[int]]] = []
        self.writer: asyncio.Task[None] | None = None
        # Updates stored since the last snapshot (unknown when loaded: look at once).
        self.unsnapshotted = draft_actions.SNAPSHOT_EVERY
        self.snapshot_checked = 0.0

    def broadcast(self, message: bytes, *, skip: DraftSocket | None = None) -> None:
        message = OutgoingBytes(message)  # framed once for all the sockets
        for socket in tuple(self.sockets):
            if socket is not skip:
                socket.send(message)

    def apply_logged(self, update_id: int, data: bytes, *, skip: DraftSocket | None = None) -> None:
        """Apply a logged update once and forward it to the local sockets (but ``skip``,
        the socket it came from)."""
        if update_id <= self.floor or update_id in self.seen:
            return
        self.seen.add(update_id)
        self.doc.apply_update(data)
        self.broadcast(create_update_message(data), skip=skip)


class DraftHub:
    """Every draft room of this process, fed by sockets, the broker and the log."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        poll_secs: float = 5.0,
        session_check_secs: float = 60.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.poll_secs = poll_secs
        self.session_check_secs = session_check_secs
        self.rooms: dict[int, DraftRoom] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # The broker's messages: handled at once when they can be (server/broker/inbox.py).
        self._inbox = Inbox(self._on_message_now, self._on_message, name="drafts-inbox")
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self.broker.subscribe(self._inbox)
        self._tasks = [asyncio.create_task(self._tick(), name="drafts-tick")]

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._inbox.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- rooms -----------------------------------------------------------------------
    async def room(self, draft_id: int) -> DraftRoom:
        """The loaded room; loading completes before anyone is served from it."""
        lock = self._loading.setdefault(draft_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(draft_id)
            if room is None:
                async with self.db.read() as session:
                    doc, last_id = await draft_actions.load_doc(session, draft_id)
                room = self.rooms[draft_id] = DraftRoom(draft_id, doc, last_id)
        if room.unload is not None:
            room.unload.cancel()
            room.unload = None
        return room

    def leave(self, room: DraftRoom, socket: DraftSocket) -> None:
        room.sockets.discard(socket)
        # Only the ids the awareness holds a clock for (an update it found stale set
        # none): the clock is what tells the others they left.
        gone = [client for client in socket.client_ids if client in room.awareness.meta]
        for client in socket.client_ids:
            if room.owners.get(client) is socket:
                del room.owners[client]
        if gone:
            room.awareness.remove_awareness_states(gone, "server")
            room.broadcast(create_awareness_message(room.awareness.encode_awareness_update(gone)))
        if not room.sockets:
            loop = asyncio.get_running_loop()
            room.unload = loop.call_later(UNLOAD_GRACE_SECS, self._unload, room)

    def _unload(self, room: DraftRoom) -> None:
        if not room.sockets and self.rooms.get(room.draft_id) is room:
            del self.rooms[room.draft_id]
            self._loading.pop(room.draft_id, None)

    # -- the log and the broker ------------------------------------------------------
    async def repair(self, room: DraftRoom) -> None:
        """Apply logged updates this room has not seen (lost or late relays)."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(DraftUpdate.id, DraftUpdate.created_at).where(
                        DraftUpdate.draft_id == room.draft_id, DraftUpdate.id > room.floor
                    )
                )
            ).all()
            missing = [i for i, _ in rows if i not in room.seen]
            if missing:
                found = await session.execute(
                    select(DraftUpdate.id, DraftUpdate.data)
                    .where(DraftUpdate.id.in_(missing))
                    .order_by(DraftUpdate.id)
                )
                for update_id, data in found:
                    room.apply_logged(int(update_id), bytes(data))
        # Raise the floor over old rows, all applied, so the next query stays small.
        settled = utcnow() - draft_actions.SETTLE
        old = sorted(
            i
            for i, created in rows
            if (created if created.tzinfo else created.replace(tzinfo=dt.UTC)) < settled
        )
        if old and all(i in room.seen for i in old):
            room.floor = max(room.floor, old[-1])
            room.seen = {i for i in room.seen if i > room.floor}

    def _on_message_now(self, channel: str, message: str) -> bool:
        """The broker's message handled at once (True), or left to :meth:`_on_message`
        (False, nothing done): a resync, or a control that rechecks a draft's sockets."""
        if not channel.startswith("draft"):
            return channel != RESYNC  # the rooms' messages: not ours
        kind, _, rest = channel.partition(":")
        if kind == "draft":
            draft_id, _, sub = rest.partition(":")
            room = self.rooms.get(int(draft_id))
            if room is None:
                return True
            if sub == "control":
                return False
            update_id, data = draft_actions.decode_relay(message)
            room.apply_logged(update_id, data)
        elif kind == "draft-awareness":
            draft_id, _, origin = rest.partition(":")
            room = self.rooms.get(int(draft_id))
            if room is not None and origin != str(id(self)):
                payload = base64.b64decode(message)
                room.awareness.apply_awareness_update(payload, "remote")
                room.broadcast(create_awareness_message(payload))
        return True

    async def _on_message(self, channel: str, message: str) -> None:
        """What :meth:`_on_message_now` declined: a resync, a draft's control."""
        if channel == RESYNC:
            for room in list(self.rooms.values()):
                await self.repair(room)
            return
        room = self.rooms.get(int(channel.split(":")[1]))
        if room is not None:  # unloaded meanwhile: nobody to recheck
            await self.recheck(room)

    async def _tick(self) -> None:
        last_sessions = time.monotonic()
        while True:
            await asyncio.sleep(self.poll_secs)
            for room in list(self.rooms.values()):
                try:
                    await self.repair(room)
                    if room.sockets:  # being edited: keep hourly automatic versions
                        async with self.db.transaction() as session:
                            await draft_actions.maybe_auto_version(session, room.draft_id)
                except Exception:
                    log.exception("draft %s repair failed", room.draft_id)
            if time.monotonic() - last_sessions < self.session_check_secs:
                continue
            last_sessions = time.monotonic()
            try:
                await self.check_sessions()
                # A mandate's end date changes rights without an announcement.
                for room in list(self.rooms.values()):
                    await self.recheck(room)
            except Exception:
                log.exception("draft session check failed")

    # -- rights ----------------------------------------------------------------------
    async def recheck(self, room: DraftRoom) -> None:
        """Apply a lock or a role change to the open sockets of ``room`` now."""
        for socket in tuple(room.sockets):
            await self._refresh_rights(socket, room.draft_id)

    async def on_control(self, user_id: int, data: dict[str, Any]) -> None:
        """The chat hub relays a member's control messages (sessions, roles) here."""
        ended = data.get("sessions")
        for room in list(self.rooms.values()):
            for socket in tuple(room.sockets):
                if socket.user_id != user_id:
                    continue
                if data.get("op") == "sessions_ended" and (
                    ended is None or socket.session_id in ended
                ):
                    socket.close(errors.CLOSE_SESSION_ENDED, "session_ended")
                elif data.get("op") == "access_changed":
                    await self._refresh_rights(socket, room.draft_id)

    async def check_sessions(self) -> None:
        sockets = [s for room in self.rooms.values() for s in room.sockets]
        if not sockets:
            return
        async with self.db.read() as session:
            live = await live_session_ids(session, sorted({s.session_id for s in sockets}))
        for socket in sockets:
            if socket.session_id not in live:
                socket.close(errors.CLOSE_SESSION_ENDED, "session_ended")

    async def _refresh_rights(self, socket: DraftSocket, draft_id: int) -> None:
        try:
            async with self.db.read() as session:
                access = await access_draft(session, socket.user_id, draft_id)
        except (RoomsError, DocumentsError):
            socket.close(4404, "draft_not_found")
            return
        if socket.can_edit and not access.can_edit:
            # Locked, or the right withdrawn: tell the page now (it turns read-only).
            socket.close(CLOSE_READ_ONLY, "read_only")
        socket.can_edit = access.can_edit

    # -- one socket ------------------------------------------------------------------
    async def handle(self, socket: DraftSocket, room: DraftRoom, message: bytes) -> None:
        if not message:
            return
        if message[0] == YMessageType.SYNC:
            await self._on_sync(socket, room, message)
        elif message[0] == YMessageType.AWARENESS:
            entries = _decoded(_awareness_entries, _decoded(read_message, message[1:]))
            entries = _own_entries(room, socket, entries)
            if not entries:
                return
            payload = _awareness_update(entries)
            room.awareness.apply_awareness_update(payload, socket)
            for client, _, _ in entries:
                room.owners[client] = socket
                socket.client_ids.add(client)
            # To everyone, the sender too (as the reference server does): a lone editor
            # then still hears from the server, and y-websocket keeps its socket.
            room.broadcast(create_awareness_message(payload))
            await self.broker.publish(
                f"draft-awareness:{room.draft_id}:{id(self)}", base64.b64encode(payload).decode()
            )

    async def _on_sync(self, socket: DraftSocket, room: DraftRoom, message: bytes) -> None:
        subtype = message[1] if len(message) > 1 else -1
        if subtype == YSyncMessageType.SYNC_STEP1:
            reply = _decoded(handle_sync_message, message[1:], room.doc)
            if reply is not None:
                socket.send(reply)
            return
        if subtype not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            return
        update = _decoded(read_message, message[2:])
        if update == crdt.EMPTY_UPDATE:
            return
        if not socket.can_edit:
            socket.close(CLOSE_READ_ONLY, "read_only")
            return
        try:
            # Once durable, the writer applied it and sent it to the others.
            await self._store(room, socket, update)
        except (DocumentsError, RoomsError) as exc:
            code = (
                CLOSE_READ_ONLY if exc.code in ("forbidden", "draft_locked") else CLOSE_BAD_UPDATE
            )
            socket.close(code, exc.code)

    async def _store(self, room: DraftRoom, socket: DraftSocket, update: bytes) -> int:
        """Make ``update`` durable; its id once committed. Updates arriving while a write
        is under way wait for the next one, and go in together (group commit): one
        transaction, one read of the draft and one snapshot check for the batch, so fifty
        people typing cost a few writes a second, not 250.

        The right to edit is the socket's ``can_edit``, read when it opened and again
        whenever the member's roles change (``access_changed``), the draft is locked or
        reopened (``recheck``) and every ``session_check_secs``; the lock itself is read
        in the transaction (``documents.actions.check_update``)."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        room.pending.append((socket, update, done))
        if room.writer is None or room.writer.done():
            room.writer = asyncio.create_task(self._write(room))
        return await done

    async def _write(self, room: DraftRoom) -> None:
        while room.pending:
            batch, room.pending = room.pending, []
            results: list[int | Exception] = []
            senders = [(s, update) for s, update, _ in batch if s.can_edit]
            allowed = [(update, s.user_id) for s, update in senders]
            committed = functools.partial(_apply_stored, room, senders)
            try:
                stored = iter(await self._store_updates(room, allowed, committed))
                for socket, _, _ in batch:
                    if socket.can_edit:
                        results.append(next(stored))
                    else:
                        results.append(NotAllowed(permission=Permission.EDIT_DRAFT.value))
                await self._maybe_snapshot(room, len(allowed))
            except Exception as exc:  # the whole batch failed: tell each sender
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, _, done), result in zip(batch, results, strict=True):
                if done.done():  # its socket went away meanwhile (``committed`` applied it)
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    async def _store_updates(
        self,
        room: DraftRoom,
        updates: list[tuple[bytes, int | None]],
        committed: Callable[[list[int | DocumentsError]], None],
    ) -> list[int | DocumentsError]:
        """One transaction for the batch: on an SQLite file with ``sqlite3`` directly
        (``documents.sqlite_store``), on PostgreSQL through asyncpg
        (``documents.pg_store``), elsewhere through the session. ``committed`` gets the
        results once they are durable, before the outbox is published."""
        if not updates:
            return []
        if self.db.driver_writes:
            return await self.db.write_with_driver(
                sqlite_store.store_updates,
                pg_store.store_updates,
                room.draft_id,
                updates,
                utcnow(),
                committed=committed,
            )
        async with self.db.transaction() as session:
            draft = await session.get(Draft, room.draft_id)
            if draft is None:
                results = [DraftNotFound(draft_id=room.draft_id) for _ in updates]
            else:
                results = await draft_actions.check_store_updates(session, draft, updates)
        # Published already: on the in-process broker the relay is only queued (the loop
        # has not run it yet); through Redis it could come first, and ``apply_logged``
        # then sends the update once to everyone, its sender included (Yjs ignores it).
        committed(results)
        return results

    async def _maybe_snapshot(self, room: DraftRoom, stored: int) -> None:
        """Look for a snapshot to write once enough updates were stored since the last
        one, at most every ``SNAPSHOT_CHECK_SECS`` (the check is two queries: once per
        batch, it was a fifth of co-editing's database time)."""
        room.unsnapshotted += stored
        now = time.monotonic()
        if (
            room.unsnapshotted < draft_actions.SNAPSHOT_EVERY
            or now - room.snapshot_checked < SNAPSHOT_CHECK_SECS
        ):
            return
        room.snapshot_checked = now
        async with self.db.transaction() as session:
            if await draft_actions.maybe_snapshot(session, room.draft_id):
                room.unsnapshotted = 0


def _apply_stored(
    room: DraftRoom, senders: list[tuple[DraftSocket, bytes]], ids: list[int | DocumentsError]
) -> None:
    """Durable: apply each stored update and send it to the others here — before the
    relay (the outbox) reaches this process, which would then send each update twice to
    the others and back to its sender."""
    for (sender, update), update_id in zip(senders, ids, strict=True):
        if isinstance(update_id, int):
            room.apply_logged(update_id, update, skip=sender)


AwarenessEntry = tuple[int, int, Any]  # client id, clock, state (``None``: it left)


def _awareness_entries(payload: bytes) -> list[AwarenessEntry]:
    """An awareness update's entries, read to the end and every state parsed, so that
    applying it cannot fail half-way (``leave`` removes the ids a socket set)."""
    decoder = Decoder(payload)
    entries = []
    for _ in range(decoder.read_var_uint()):
        client, clock = decoder.read_var_uint(), decoder.read_var_uint()
        state = json.loads(decoder.read_var_string())
        if state is not None and not isinstance(state, dict):
            raise ValueError("an awareness state is an object or null")
        entries.append((client, clock, state))
    return entries


def _own_entries(
    room: DraftRoom, socket: DraftSocket, entries: list[AwarenessEntry]
) -> list[AwarenessEntry]:
    """What a socket may say of itself: its states name its member, whatever it sent
    (the presence list and the carets show ``user.name``), and it speaks only for client
    ids no other member's socket holds here — the same member's may hand one over (a
    page reconnecting keeps its Yjs client id while the server still holds the old
    socket). Entries for another member's client are dropped, not refused: refusing
    would close the socket, which y-websocket takes as final."""
    own = []
    for client, clock, state in entries:
        owner = room.owners.get(client)
        if owner is not None and owner is not socket:
            if owner.user_id != socket.user_id:
                continue
            owner.client_ids.discard(client)
        if state is not None:
            user = state.get("user")
            user = {**(user if isinstance(user, dict) else {})}
            user.update(id=socket.user_id, name=socket.user_name)
            state = {**state, "user": user}
        own.append((client, clock, state))
    return own


def _awareness_update(entries: list[AwarenessEntry]) -> bytes:
    """The awareness update of ``entries`` (y-protocols' encoding)."""
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for client, clock, state in entries:
        encoder.write_var_uint(client)
        encoder.write_var_uint(clock)
        encoder.write_var_string(json.dumps(state, separators=(",", ":"), ensure_ascii=False))
    return encoder.to_bytes()


def _decoded(decode: Callable[..., T], *args: Any) -> T:
    """``decode(*args)``, where a message that does not decode raises ``ValueError``
    (what closes the socket with ``CLOSE_BAD_UPDATE``): pycrdt's decoders raise whatever
    a truncated or garbled message makes them meet (``IndexError``, ``TypeError``…)."""
    try:
        return decode(*args)
    except Exception as exc:
        raise ValueError(f"undecodable Yjs message: {exc!r}") from exc


async def draft_endpoint(websocket: WebSocket) -> None:
    """``/ws/drafts/{draft_id}``: authenticate, authorise, serve the Yjs protocol."""
    from server.gateway import origin_allowed

    state = websocket.app.state.atelier
    if not origin_allowed(websocket, state.settings.allowed_origins):
        await websocket.close(errors.CLOSE_FORBIDDEN_ORIGIN)
        return
    found = await state.authenticate_session(websocket.cookies)
    await websocket.accept()
    if found is None:
        await websocket.close(errors.CLOSE_NOT_AUTHENTICATED, "not_authenticated")
        return
    user, session_id = found
    draft_id = int(websocket.path_params["draft_id"])
    try:
        async with state.db.read() as session:
            access = await access_draft(session, user.id, draft_id)
    except (RoomsError, DocumentsError):
        await websocket.close(4404, "draft_not_found")
        return
    hub: DraftHub = state.drafts
    socket = DraftSocket(websocket, user.id, session_id, user.display_name)
    socket.can_edit = access.can_edit
    room = await hub.room(draft_id)
    room.sockets.add(socket)
    if socket.can_edit:
        socket.send(create_sync_message(room.doc))
    if room.awareness.states:
        socket.send(
            create_awareness_message(
                room.awareness.encode_awareness_update(list(room.awareness.states))
            )
        )
    sender = asyncio.create_task(socket.run_sender())

    async def receive() -> None:
        while socket.closing is None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                continue  # the Yjs protocol is binary; text frames are ignored
            try:
                await hub.handle(socket, room, data)
            except (ValueError, RuntimeError):
                socket.close(CLOSE_BAD_UPDATE, "invalid_update")

    receiver = asyncio.create_task(receive())
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
        hub.leave(room, socket)
    if socket.closing is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(*socket.closing), 1.0)
