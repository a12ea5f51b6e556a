"""The broker interface: a doorbell between Atelier processes, never the source of truth.

A broker carries ``(channel, message)`` strings to every process's hub. It may lose or
reorder messages (Redis pub/sub is at-most-once); the hub repairs that from the database
by position. When a broker knows it may have lost messages (a reconnection, an overflow)
it yields :data:`RESYNC` so the hub re-reads every room it follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

RESYNC = ""
"""Channel name of the marker telling the listener that messages may have been lost."""

Handler = Callable[[str, str], None]
"""``handler(channel, message)``, called by the broker for every message it delivers."""


class Broker(Protocol):
    async def connect(self) -> None:
        """Open connections; called once in the application's lifespan."""

    async def disconnect(self) -> None:
        """Close connections and end every ``listen()`` iterator."""

    async def publish(self, channel: str, message: str) -> None:
        """:meth:`publish_now`, for callers that await."""

    def publish_now(self, channel: str, message: str) -> None:
        """Deliver to this process at once and queue for the others (the backend is
        written by a task of the broker's): it never waits, so a writer can commit and
        publish in one turn of the loop (``Database.write_now``).

        Never raises for a backend failure: the write it announces is already committed,
        and the other processes repair the loss by position.
        """

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` with every ``(channel, message)`` published by any process,
        plus ``(RESYNC, "")``, synchronously as each arrives (in the publisher's turn for
        this process's own messages); returns what unsubscribes it. A handler must not
        block and should not raise (what it raises is logged). ``server.broker.inbox``
        is the hubs' handler."""
        ...

    def listen(self) -> AsyncIterator[tuple[str, str]]:
        """The same messages through a queue, for a reader that awaits each one."""
        ...
