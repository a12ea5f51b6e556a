"""In-process broker for the embedded mode and tests: one process, no server needed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from server.broker.base import RESYNC, Handler

log = logging.getLogger(__name__)

_STOP = object()


class MemoryBroker:
    """Hands every message to the subscribed handlers at once, and to ``listen()``
    readers through bounded queues.

    A reader that falls ``queue_limit`` messages behind loses the overflow and is told
    to resynchronise, rather than letting memory grow without bound.
    """

    def __init__(self, queue_limit: int = 10_000) -> None:
        self._queue_limit = queue_limit
        self._handlers: list[Handler] = []
        self._listeners: set[asyncio.Queue[object]] = set()

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        for queue in self._listeners:
            queue.put_nowait(_STOP)

    async def publish(self, channel: str, message: str) -> None:
        self.deliver(channel, message)

    def publish_now(self, channel: str, message: str) -> None:
        self.deliver(channel, message)

    def deliver(self, channel: str, message: str) -> None:
        for handler in self._handlers:
            try:
                handler(channel, message)
            except Exception:
                log.exception("a broker handler failed on %r", channel)
        for queue in self._listeners:
            if queue.qsize() >= self._queue_limit:
                if queue.qsize() == self._queue_limit:
                    queue.put_nowait((RESYNC, ""))
                continue
            queue.put_nowait((channel, message))

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        # A new list each time: a handler may unsubscribe while ``deliver`` iterates.
        self._handlers = [*self._handlers, handler]

        def unsubscribe() -> None:
            self._handlers = [h for h in self._handlers if h is not handler]

        return unsubscribe

    async def listen(self) -> AsyncIterator[tuple[str, str]]:
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            while True:
                item = await queue.get()
                if item is _STOP:
                    return
                yield item  # type: ignore[misc]
        finally:
            self._listeners.discard(queue)
