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
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from rooms.access import RoomAccess
from server.wire import DirectWriter


@dataclass(slots=True)
class Follow:
    """A room this connection receives: last position delivered, and a buffer while the
    connection is catching up (``None`` once live)."""

    pos: int
    buffer: list[tuple[int, str]] | None = field(default_factory=list)


class Connection:
    """Per socket: what the hub and the gateway need, and no idle task.

    Memory per idle socket is a target (docs/performance.md, finding 7): the queue and
    its writer task exist only while frames wait (the direct path writes the others at
    once), the future the replays and ``flush`` wait on is made only when waited on, and
    the endpoint is told to stop by a callback rather than by a task waiting on an event.
    """

    __slots__ = (
        "_direct",
        "_drained",
        "_limit",
        "_queue",
        "_send",
        "_writer",
        "access",
        "closed",
        "ended",
        "locale",
        "on_stop",
        "overflowed",
        "rooms",
        "session_id",
        "user_id",
        "user_name",
    )

    def __init__(
        self,
        user_id: int,
        user_name: str,
        *,
        send: Callable[[str], Awaitable[None]],
        limit: int,
        locale: str = "fr",
        session_id: str = "",
        direct: DirectWriter | None = None,
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.user_name = user_name
        self.locale = locale
        self.rooms: dict[int, Follow] = {}
        # The member's access per room, with the monotonic time it was read
        # (``Session.room_access``); emptied when their roles or exclusions change.
        self.access: dict[int, tuple[RoomAccess, float]] = {}
        self.closed = False
        # Why the endpoint must close the socket: the sign-in session behind it ended
        # (set by the hub), or the member stopped reading (a durable frame did not fit).
        self.ended = False
        self.overflowed = False
        self._send = send
        # server/wire.py: writes a frame to the socket at once, when nothing is queued.
        self._direct = direct
        self._limit = limit
        self._queue: collections.deque[str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        # Called (once) when the socket must close: session ended, overflow, write failed.
        self.on_stop: Callable[[], None] | None = None

    # -- the endpoint's side ---------------------------------------------------------
    def end(self) -> None:
        """The sign-in session ended: the endpoint closes the socket (4001)."""
        self.ended = True
        self._stop()

    @property
    def stopping(self) -> bool:
        """The socket must close (``on_stop`` was or would have been called)."""
        return self.ended or self.overflowed or self.closed

    def shut(self) -> None:
        """The endpoint is closing: stop writing, release whoever waits."""
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
        self._wake_drained()

    def _stop(self) -> None:
        callback, self.on_stop = self.on_stop, None
        if callback is not None:
            callback()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The frames written to the socket inside leave together, in one write, at the
        end (``DirectWriter.hold``). The caller must not await inside."""
        direct = self._direct
        if direct is None:
            yield
            return
        direct.hold()
        try:
            yield
        finally:
            direct.release()

    # -- enqueueing (synchronous: called from the hub's dispatch) --------------------
    def offer(self, frame: str) -> None:
        """Queue a durable frame; overflowing closes the connection."""
        if self.closed:
            return
        if self._writer is None and self._direct and self._direct(frame):
            return
        if self.backlog >= self._limit:
            self.closed = True
            self.overflowed = True
            self._stop()
            return
        self._push(frame)

    def offer_ephemeral(self, frame: str) -> None:
        """Queue a frame that may be dropped (typing, presence) when the queue is half full."""
        if self.closed:
            return
        if self._writer is None and self._direct and self._direct(frame):
            return
        if self.backlog < self._limit // 2:
            self._push(frame)

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
        while self.backlog > self._limit // 4 and not self.closed:
            await self._wait_drained()

    async def flush(self) -> None:
        """Wait until the writer has sent what is queued (callers bound the wait)."""
        while (self._queue or self._writer is not None) and not self.closed:
            await self._wait_drained()

    @property
    def crowded(self) -> bool:
        """Half full: replays pause here so live frames keep room to arrive."""
        return self.backlog >= self._limit // 2

    @property
    def backlog(self) -> int:
        return len(self._queue) if self._queue is not None else 0

    async def _wait_drained(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        await self._drained

    def _wake_drained(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- sending (a task only while frames wait) -------------------------------------
    def _push(self, frame: str) -> None:
        if self._queue is None:
            self._queue = collections.deque()
        self._queue.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(self._queue))

    async def _write(self, queue: collections.deque[str]) -> None:
        """Write the queued frames, in order, then end (the direct path takes over)."""
        try:
            while queue and not self.closed:
                frame = queue.popleft()
                if not (self._direct and self._direct(frame)):
                    # Flow control (or no direct path): the server's send waits for room.
                    await self._send(frame)
                if len(queue) <= self._limit // 4:
                    self._wake_drained()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The socket is gone: the endpoint closes and unregisters it.
            self.closed = True
            self._stop()
        finally:
            self._writer = None
            if not queue:
                self._queue = None
            self._wake_drained()
