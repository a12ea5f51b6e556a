"""A consumer's side of the broker: each message handled at once when it can be, in order.

Why not a queue and a task per consumer: every message then cost each consumer (the hub,
the drafts) a wake-up of its task, and reached the sockets one turn of the loop after its
commit. Almost every message needs no database — the next event of a room, presence, a
member's own frame — so the broker calls the consumer's ``now`` at once, in the
publisher's turn. A message that ``now`` declines (a gap to fill from the database, a
resynchronisation, a session check) goes to ``later`` in a task; what arrives meanwhile
queues behind it and is offered to ``now``, then ``later``, in turn, so the consumer
still sees every message in the broker's order. Past
``limit`` queued messages the rest are dropped and ``later`` receives ``RESYNC`` once the
queue is drained: the consumer then re-reads what it follows, as after a lost publish.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable

from server.broker.base import RESYNC

log = logging.getLogger(__name__)


class Inbox:
    """``inbox(channel, message)`` is what a consumer subscribes to the broker."""

    def __init__(
        self,
        now: Callable[[str, str], bool],
        later: Callable[[str, str], Awaitable[None]],
        *,
        name: str,
        limit: int = 10_000,
    ) -> None:
        """``now(channel, message)`` handles a message synchronously and returns True, or
        returns False (having done nothing) when it must go to ``later``, which then
        only ever receives what ``now`` declined."""
        self._now = now
        self._later = later
        self._name = name
        self._limit = limit
        self._waiting: collections.deque[tuple[str, str]] | None = None
        self._overflowed = False
        self._task: asyncio.Task[None] | None = None

    def __call__(self, channel: str, message: str) -> None:
        waiting = self._waiting
        if waiting is not None:
            if len(waiting) < self._limit:
                waiting.append((channel, message))
            else:
                self._overflowed = True
            return
        if self._handled_now(channel, message):
            return
        self._waiting = collections.deque([(channel, message)])
        self._task = asyncio.get_running_loop().create_task(self._drain(), name=self._name)

    def _handled_now(self, channel: str, message: str) -> bool:
        """``now``'s answer; a message it failed on is logged and counts as handled."""
        try:
            return self._now(channel, message)
        except Exception:
            log.exception("%s could not handle a message on %r", self._name, channel)
            return True

    @property
    def busy(self) -> bool:
        """Messages are waiting behind one that needs the database."""
        return self._waiting is not None

    async def _drain(self) -> None:
        waiting = self._waiting
        assert waiting is not None  # noqa: S101
        try:
            first = True
            while waiting:
                channel, message = waiting.popleft()
                # The first was declined already; the others are offered to ``now`` first.
                if first or not self._handled_now(channel, message):
                    await self._handled_later(channel, message)
                first = False
                if not waiting and self._overflowed:
                    self._overflowed = False
                    waiting.append((RESYNC, ""))
        finally:
            self._waiting = None

    async def _handled_later(self, channel: str, message: str) -> None:
        try:
            await self._later(channel, message)
        except Exception:
            log.exception("%s could not handle a message on %r", self._name, channel)

    async def close(self) -> None:
        """Stop handling what waits (at shutdown)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
