"""One WebSocket connection's outgoing side: a bounded queue and per-room positions.

Why a hand-made queue: frames are shared strings (encoded once per event for all
recipients), and the overflow policy is asymmetric — ephemeral frames (typing, presence)
are dropped first, from half capacity on; a durable frame that does not fit means the
client stopped reading, so the connection is closed and the client resumes by ``seq``.
The room is never slowed down by one slow member.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rooms.access import RoomAccess


@dataclass(slots=True)
class Follow:
    """A room this connection receives: last position delivered, and a buffer while the
    connection is catching up (``None`` once live)."""

    pos: int
    buffer: list[tuple[int, str]] | None = field(default_factory=list)


class Connection:
    def __init__(
        self,
        user_id: int,
        user_name: str,
        *,
        send: Callable[[str], Awaitable[None]],
        on_overflow: Callable[[], None],
        limit: int,
        locale: str = "fr",
        session_id: str = "",
        direct: Callable[[str], bool] | None = None,
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        # Set by the hub when the sign-in session behind this socket ends.
        self.ended = asyncio.Event()
        self.user_name = user_name
        self.locale = locale
        self.rooms: dict[int, Follow] = {}
        # The member's access per room, with the monotonic time it was read
        # (``Session.room_access``); emptied when their roles or exclusions change.
        self.access: dict[int, tuple[RoomAccess, float]] = {}
        self._send = send
        # server/wire.py: writes a frame to the socket at once, when nothing is queued.
        self._direct = direct
        self._sending = False
        self._on_overflow = on_overflow
        self._limit = limit
        self._queue: collections.deque[str] = collections.deque()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self.closed = False

    # -- enqueueing (synchronous: called from the hub's dispatch) --------------------
    def offer(self, frame: str) -> None:
        """Queue a durable frame; overflowing closes the connection."""
        if self.closed:
            return
        if not self._queue and not self._sending and self._direct and self._direct(frame):
            return
        if len(self._queue) >= self._limit:
            self.closed = True
            self._on_overflow()
            return
        self._queue.append(frame)
        self._ready.set()

    def offer_ephemeral(self, frame: str) -> None:
        """Queue a frame that may be dropped (typing, presence) when the queue is half full."""
        if self.closed:
            return
        if not self._queue and not self._sending and self._direct and self._direct(frame):
            return
        if len(self._queue) < self._limit // 2:
            self._queue.append(frame)
            self._ready.set()

    def deliver(self, room_id: int, seq: int, frame: str) -> bool:
        """Deliver a room event in order; returns False when a gap needs a catch-up."""
        follow = self.rooms.get(room_id)
        if follow is None:
            return True
        if follow.buffer is not None:
            follow.buffer.append((seq, frame))
            return True
        if seq <= follow.pos:
            return True
        if seq != follow.pos + 1:
            follow.buffer = [(seq, frame)]
            return False
        follow.pos = seq
        self.offer(frame)
        return True

    async def wait_capacity(self) -> None:
        """Wait until the queue is a quarter full at most (catch-up backpressure)."""
        while len(self._queue) > self._limit // 4 and not self.closed:
            self._drained.clear()
            await self._drained.wait()

    async def flush(self) -> None:
        """Wait until the writer has sent what is queued (callers bound the wait)."""
        while self._queue and not self.closed:
            self._drained.clear()
            await self._drained.wait()

    @property
    def crowded(self) -> bool:
        """Half full: replays pause here so live frames keep room to arrive."""
        return len(self._queue) >= self._limit // 2

    @property
    def backlog(self) -> int:
        return len(self._queue)

    # -- sending (the connection's writer task) --------------------------------------
    async def run_sender(self) -> None:
        """Write queued frames to the socket until the connection closes."""
        queue = self._queue
        while not self.closed:
            await self._ready.wait()
            while queue:
                frame = queue.popleft()
                if not (self._direct and self._direct(frame)):
                    # Flow control (or no direct path): the server's send waits for room.
                    self._sending = True
                    try:
                        await self._send(frame)
                    finally:
                        self._sending = False
                if len(queue) <= self._limit // 4:
                    self._drained.set()
            self._ready.clear()
            self._drained.set()
