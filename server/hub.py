"""The per-process hub: turns the broker's doorbell into gap-free, ordered room streams.

For every room followed by at least one local connection the hub keeps a ``Feed`` with
the last position it dispatched. A durable event arriving:

- at ``position + 1`` is dispatched to the room's connections (the same string to all);
- at or below ``position`` is a duplicate and dropped;
- beyond ``position + 1`` reveals a lost or reordered publish: the missing events are
  read from the database, in order, before going on.

So each feed is contiguous whatever the broker does. A connection that joins catches up
with *subscribe first, then read the database, then deliver only what is newer*
(:meth:`Hub.follow`). A timer also compares each feed with ``rooms.last_seq`` so that an
event whose publish was lost is delivered even if no later event reveals the gap, and a
broker reconnection (``RESYNC``) triggers the same check at once.

Presence is shared between processes without storage: each hub announces its local
members per room on ``presence:<room>`` when they change and every
``PRESENCE_HEARTBEAT_SECS``; an announcement not renewed within ``PRESENCE_TTL_SECS``
expires (a crashed process's members go offline).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from auth.sessions import TOUCH_EVERY, live_session_ids, touch_sessions
from rooms.access import access_room
from rooms.actions import polls
from rooms.errors import RoomsError
from rooms.models import Room
from rooms.queries import list_events, unread_counts
from server.broker import RESYNC, Broker
from server.broker.inbox import Inbox
from server.connection import Connection, Follow
from server.database import Database
from server.protocol import LIVE, PRESENCE, REMOVED, RESET, UNREAD, encode
from server.wire import Outgoing

log = logging.getLogger(__name__)

CATCH_UP_CHUNK = 1_000
PRESENCE_HEARTBEAT_SECS = 20.0
PRESENCE_TTL_SECS = 60.0
TOUCH_SECS = TOUCH_EVERY.total_seconds()


@dataclass(slots=True)
class Feed:
    position: int
    followers: set[Connection] = field(default_factory=set)


class Hub:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        replay_limit: int = 50_000,
        poll_secs: float = 5.0,
        session_check_secs: float = 60.0,
        on_reminders: Callable[[list[polls.Reminder]], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.replay_limit = replay_limit
        self.poll_secs = poll_secs
        self.session_check_secs = session_check_secs
        # When this process last recorded each socket's session as used (monotonic).
        self._touched: dict[str, float] = {}
        # Mail for the poll reminders (server/reminders.py), sent after they commit.
        self.on_reminders = on_reminders
        self.instance = uuid.uuid4().hex[:12]
        self.feeds: dict[int, Feed] = {}
        self.users: dict[int, set[Connection]] = {}
        self._local_presence: dict[int, Counter[tuple[int, str]]] = {}
        self._presence: dict[int, dict[str, tuple[dict[str, str], float]]] = {}
        # Connections that joined a room and wait for its list (sent once, by the next
        # presence message about the room, whatever it says).
        self._presence_waiting: dict[int, set[Connection]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._mail_tasks: set[asyncio.Task[None]] = set()
        # Other parts of the process told about a member's sessions or roles changing
        # (the drafts' sockets): ``listener(user_id, message)``.
        self.control_listeners: list[Callable[[int, dict[str, Any]], Awaitable[None]]] = []
        # Fire-and-forget repairs: the loop only keeps weak references to tasks.
        self._repairs: set[asyncio.Task[None]] = set()
        # The broker's messages: handled at once when they can be (server/broker/inbox.py).
        self._inbox = Inbox(self._on_message_now, self._on_message, name="hub-inbox")
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._unsubscribe = self.broker.subscribe(self._inbox)
        self._tasks = [asyncio.create_task(self._tick(), name="hub-tick")]

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._inbox.close()
        tasks = [*self._tasks, *self._repairs]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- connections -----------------------------------------------------------------
    def register(self, conn: Connection) -> None:
        self.users.setdefault(conn.user_id, set()).add(conn)

    async def unregister(self, conn: Connection) -> None:
        for room_id in list(conn.rooms):
            await self.unfollow(conn, room_id)
        conns = self.users.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.users[conn.user_id]

    def connections_of(self, user_id: int) -> set[Connection]:
        return set(self.users.get(user_id, ()))

    async def follow(self, conn: Connection, room_id: int, after_seq: int | None) -> None:
        """Start delivering ``room_id`` to ``conn`` from ``after_seq`` (``None``: from now).

        Registers first so no live event can slip between the database read and the
        switch to live; replays the log in chunks with backpressure; sends ``reset`` when
        the resume point cannot be replayed; ends with a ``live`` frame, the member's
        unread counts and the room's presence.
        """
        if room_id in conn.rooms:
            await self.unfollow(conn, room_id)
        # Read before registering: what commits in between is read by the catch-up,
        # which runs after (in its own session: a snapshot taken now would miss it).
        last_seq = await self._last_seq(room_id)
        feed = self.feeds.get(room_id) or self.feeds.setdefault(room_id, Feed(last_seq))
        follow = Follow(pos=after_seq or 0)
        conn.rooms[room_id] = follow
        feed.followers.add(conn)
        if after_seq is None:
            follow.pos = last_seq
        elif after_seq > last_seq or last_seq - after_seq > self.replay_limit:
            conn.offer(encode(RESET, room_id=room_id, last_seq=last_seq))
            follow.pos = last_seq
        await self._catch_up(conn, room_id, follow)
        conn.offer(encode(LIVE, room_id=room_id, seq=follow.pos))
        async with self.db.read() as session:
            counts = (await unread_counts(session, conn.user_id, [room_id]))[room_id]
        conn.offer(encode(UNREAD, room_id=room_id, **counts))
        await self._presence_joined(conn, room_id)

    async def unfollow(self, conn: Connection, room_id: int) -> None:
        if conn.rooms.pop(room_id, None) is None:
            return
        feed = self.feeds.get(room_id)
        if feed is not None:
            feed.followers.discard(conn)
            if not feed.followers:
                del self.feeds[room_id]
        await self._presence_left(conn, room_id)

    async def _catch_up(self, conn: Connection, room_id: int, follow: Follow) -> None:
        """Replay the log after ``follow.pos``, then merge the buffered live events."""
        while not conn.closed:
            async with self.db.read() as session:
                rows = await list_events(session, room_id, after=follow.pos, limit=CATCH_UP_CHUNK)
            for seq, frame in rows:
                if conn.crowded:
                    # Replay at the pace the member reads: a replay must never be what
                    # overflows the queue (live events wait in ``follow.buffer``).
                    await conn.wait_capacity()
                    if conn.closed:
                        return
                conn.offer(frame)
                follow.pos = seq
            if len(rows) == CATCH_UP_CHUNK:
                continue
            if self._drain(conn, follow):
                return
            # A gap inside the buffer: read again (the buffer keeps filling meanwhile).

    @staticmethod
    def _drain(conn: Connection, follow: Follow) -> bool:
        buffered = follow.buffer or []
        for index, (seq, frame) in enumerate(buffered):
            if seq <= follow.pos:
                continue
            if seq != follow.pos + 1:
                follow.buffer = buffered[index:]
                return False
            follow.pos = seq
            conn.offer(frame)
        follow.buffer = None
        return True

    async def _resync_connection(self, conn: Connection, room_id: int) -> None:
        follow = conn.rooms.get(room_id)
        if follow is not None:
            await self._catch_up(conn, room_id, follow)

    # -- feeds -----------------------------------------------------------------------
    async def _last_seq(self, room_id: int) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(Room.last_seq).where(Room.id == room_id)) or 0)

    def _dispatch(self, room_id: int, seq: int, frame: str) -> None:
        feed = self.feeds.get(room_id)
        if feed is None or seq <= feed.position:
            return
        feed.position = seq
        frame = Outgoing(frame)  # framed once for all its recipients (server/wire.py)
        for conn in tuple(feed.followers):
            if not conn.deliver(room_id, seq, frame):
                task = asyncio.create_task(self._resync_connection(conn, room_id))
                self._repairs.add(task)
                task.add_done_callback(self._repairs.discard)

    async def _fill(self, room_id: int, up_to: int | None = None) -> None:
        """Dispatch what the database has beyond the feed's position."""
        feed = self.feeds.get(room_id)
        while feed is not None and (up_to is None or feed.position < up_to):
            async with self.db.read() as session:
                rows = await list_events(
                    session, room_id, after=feed.position, limit=CATCH_UP_CHUNK
                )
            for seq, frame in rows:
                self._dispatch(room_id, seq, frame)
            if len(rows) < CATCH_UP_CHUNK:
                return
            feed = self.feeds.get(room_id)

    async def _on_durable(self, room_id: int, seq: int, frame: str) -> None:
        feed = self.feeds.get(room_id)
        if feed is None or seq <= feed.position:
            return
        if seq > feed.position + 1:
            await self._fill(room_id, up_to=seq - 1)
        self._dispatch(room_id, seq, frame)

    async def resync(self) -> None:
        """Compare every feed with the database and deliver what the broker missed."""
        if not self.feeds:
            return
        async with self.db.read() as session:
            rows = await session.execute(
                select(Room.id, Room.last_seq).where(Room.id.in_(list(self.feeds)))
            )
            behind = [
                room_id
                for room_id, last in rows
                if room_id in self.feeds and last > self.feeds[room_id].position
            ]
        for room_id in behind:
            await self._fill(room_id)

    # -- broker ----------------------------------------------------------------------
    def _on_message_now(self, channel: str, message: str) -> bool:
        """The broker's message handled at once (True), or left to :meth:`_on_message`
        (False, nothing done): a gap to fill from the database, a resync, a control."""
        kind, _, rest = channel.partition(":")
        if kind == "room":
            room, _, seq = rest.partition(":")
            room_id = int(room)
            feed = self.feeds.get(room_id)
            if not seq:
                for conn in tuple(feed.followers) if feed else ():
                    conn.offer_ephemeral(message)
                return True
            position = int(seq)
            if feed is None or position <= feed.position:
                return True
            if position == feed.position + 1:
                self._dispatch(room_id, position, message)
                return True
            return False
        if kind == "user":
            for conn in tuple(self.users.get(int(rest), ())):
                conn.offer(message)
            return True
        if kind == "presence":
            self._on_presence(int(rest), message)
            return True
        return channel != RESYNC and kind != "control"

    async def _on_message(self, channel: str, message: str) -> None:
        """What :meth:`_on_message_now` declined: a resync, a gap, a control."""
        if channel == RESYNC:
            await self.resync()
            # Presence announcements sent while the broker was away are lost too.
            for room_id in list(self._local_presence):
                await self._announce(room_id)
            return
        kind, _, rest = channel.partition(":")
        if kind == "room":
            room, _, seq = rest.partition(":")
            await self._on_durable(int(room), int(seq), message)
        elif kind == "control":
            await self._on_control(int(rest), json.loads(message))

    # -- sessions and access ---------------------------------------------------------
    async def _on_control(self, user_id: int, data: dict[str, Any]) -> None:
        """A member's sessions ended or their roles changed: act on their sockets now."""
        for listener in self.control_listeners:
            await listener(user_id, data)
        conns = tuple(self.users.get(user_id, ()))
        if data.get("op") == "sessions_ended":
            ended = data.get("sessions")
            for conn in conns:
                if ended is None or conn.session_id in ended:
                    conn.end()
        elif data.get("op") == "access_changed":
            for conn in conns:
                conn.access.clear()
                await self.recheck_rooms(conn)

    async def recheck_rooms(self, conn: Connection) -> None:
        """Stop delivering the rooms ``conn``'s member may no longer read."""
        for room_id in list(conn.rooms):
            try:
                async with self.db.read() as session:
                    await access_room(session, conn.user_id, room_id)
            except RoomsError as exc:
                await self.unfollow(conn, room_id)
                # Removed by the room's moderators, or roles withdrawn.
                reason = "excluded" if exc.code == "room_excluded" else "access_revoked"
                conn.offer(encode(REMOVED, room_id=room_id, reason=reason))

    async def check_sessions(self) -> None:
        """End sockets whose session was revoked, expired or whose member was deactivated.

        The control message does this at once; this timer is the safety net for a lost
        publish (or a deactivation made outside Atelier), so no socket outlives its
        session by more than ``session_check_secs``. Open sockets count as use of their
        sessions, written only when ``TOUCH_EVERY`` has passed since this process last
        wrote it: with 10 000 sockets, a write every few minutes, not every check.
        """
        conns = [c for group in self.users.values() for c in group if c.session_id]
        ids = sorted({c.session_id for c in conns})
        live: set[str] = set()
        for start in range(0, len(ids), 500):
            async with self.db.read() as session:
                live |= await live_session_ids(session, ids[start : start + 500])
        now = time.monotonic()
        touched = {i: self._touched.get(i, -TOUCH_SECS) for i in ids if i in live}
        due = [i for i, last in touched.items() if now - last >= TOUCH_SECS]
        for start in range(0, len(due), 500):
            async with self.db.transaction() as session:
                await touch_sessions(session, due[start : start + 500])
        self._touched = touched | dict.fromkeys(due, now)
        for conn in conns:
            if conn.session_id not in live:
                conn.end()

    async def run_due_polls(self) -> None:
        """Open scheduled polls, send reminders, close polls past their deadline: one
        indexed read when nothing is due; each act re-checks under the room lock, so two
        instances act once."""
        async with self.db.read() as session:
            if not await polls.any_due(session):
                return
        reminders: list[polls.Reminder] = []
        async with self.db.transaction() as session:
            await polls.run_due_polls(session, reminders=reminders)
        if reminders and self.on_reminders is not None:
            # Mail is slow and may fail: it must not hold up the tick, nor undo anything.
            task = asyncio.create_task(self.on_reminders(reminders))
            self._mail_tasks.add(task)
            task.add_done_callback(self._mail_tasks.discard)

    async def _tick(self) -> None:
        last_heartbeat = last_sessions = time.monotonic()
        while True:
            await asyncio.sleep(self.poll_secs)
            try:
                await self.resync()
                if time.monotonic() - last_sessions >= self.session_check_secs:
                    last_sessions = time.monotonic()
                    await self.check_sessions()
                await self.run_due_polls()
                now = time.monotonic()
                if now - last_heartbeat >= PRESENCE_HEARTBEAT_SECS:
                    last_heartbeat = now
                    for room_id in list(self._local_presence):
                        await self._announce(room_id)
                for room_id in list(self._presence):
                    self._expire_presence(room_id)
            except Exception:
                log.exception("hub tick failed")

    # -- presence --------------------------------------------------------------------
    async def _presence_joined(self, conn: Connection, room_id: int) -> None:
        counter = self._local_presence.setdefault(room_id, Counter())
        counter[(conn.user_id, conn.user_name)] += 1
        if counter[(conn.user_id, conn.user_name)] == 1:
            self._presence_waiting.setdefault(room_id, set()).add(conn)
            await self._announce(room_id)
        else:
            conn.offer_ephemeral(self._presence_frame(room_id))

    async def _presence_left(self, conn: Connection, room_id: int) -> None:
        self._presence_waiting.get(room_id, set()).discard(conn)
        counter = self._local_presence.get(room_id)
        if counter is None:
            return
        key = (conn.user_id, conn.user_name)
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]
            if not counter:
                del self._local_presence[room_id]
            await self._announce(room_id)

    async def _announce(self, room_id: int) -> None:
        users = {str(uid): name for uid, name in self._local_presence.get(room_id, ())}
        await self.broker.publish(
            f"presence:{room_id}",
            json.dumps({"i": self.instance, "u": users, "ttl": PRESENCE_TTL_SECS}),
        )

    def _on_presence(self, room_id: int, message: str) -> None:
        data = json.loads(message)
        before = self._online(room_id)
        rooms = self._presence.setdefault(room_id, {})
        if data["u"]:
            rooms[data["i"]] = (data["u"], time.monotonic() + float(data["ttl"]))
        else:
            rooms.pop(data["i"], None)
        waiting = self._presence_waiting.pop(room_id, None)
        if self._online(room_id) != before:
            self._broadcast_presence(room_id)
        elif waiting:
            # Unchanged (a heartbeat, or a member already online elsewhere): only the
            # connections that just joined need the list — not every follower.
            frame = self._presence_frame(room_id)
            for conn in waiting:
                if room_id in conn.rooms:
                    conn.offer_ephemeral(frame)

    def _expire_presence(self, room_id: int) -> None:
        now = time.monotonic()
        rooms = self._presence.get(room_id, {})
        stale = [i for i, (_, expires) in rooms.items() if expires < now]
        if stale:
            for instance in stale:
                del rooms[instance]
            self._broadcast_presence(room_id)

    def _online(self, room_id: int) -> dict[str, str]:
        merged: dict[str, str] = {}
        for users, _ in self._presence.get(room_id, {}).values():
            merged.update(users)
        return merged

    def _presence_frame(self, room_id: int) -> str:
        online = self._online(room_id)
        users = sorted(
            ({"id": int(uid), "name": name} for uid, name in online.items()),
            key=lambda u: str(u["name"]).casefold(),
        )
        return encode(PRESENCE, room_id=room_id, users=users)

    def _broadcast_presence(self, room_id: int) -> None:
        feed = self.feeds.get(room_id)
        if feed is None:
            return
        frame = self._presence_frame(room_id)
        for conn in tuple(feed.followers):
            conn.offer_ephemeral(frame)
