"""Read receipts gathered for a moment, then written together in one transaction.

Every member reading a room sends a ``read`` frame after each message it shows (the
browser waits 0.6 s for more): in a plenary's room of 158 members a message brings 158
receipts, each of which was a transaction of its own — about 1.65 ms of CPU each on
SQLite, far more than the message and its deliveries (docs/performance.md, findings 38
and 39). A receipt is not urgent: nobody waits on it but the member's other devices,
whose unread counts follow a quarter of a second later. So the receipts arriving within
``DELAY_SECS`` of the first wait for it and go in one transaction
(``rooms.actions.reading.check_mark_read_many``: the rooms' ends read once, one upsert
for all the markers).

The socket that sent one does not wait: the gateway answers it (``ack`` or ``error``)
when its batch is written, and goes on reading the socket's next frames meanwhile — a
``send`` right after a ``read`` is not held back by it.

If the batch's transaction fails as a whole (a database error), its receipts are written
again one per transaction, so that one bad receipt cannot refuse the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from rooms.actions.reading import Receipt, check_mark_read_many
from server.database import Database
from server.posting import settle

log = logging.getLogger(__name__)

DELAY_SECS = 0.25
MAX_BATCH = 1000

Counts = dict[str, Any]


class Receipts:
    """The process's writer of read receipts (one task while some are waiting)."""

    def __init__(self, db: Database, delay: float = DELAY_SECS, max_batch: int = MAX_BATCH):
        self.db = db
        self.delay = delay
        self.max_batch = max_batch
        self._pending: list[tuple[Receipt, asyncio.Future[Counts]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._waiting: asyncio.Future[None] | None = None  # the gathering delay
        self._stopping = False

    def mark(self, receipt: Receipt) -> asyncio.Future[Counts]:
        """Queue ``receipt``; the future is its room's unread counts for the member once
        written, or the error that refused it (``RoomsError``)."""
        done: asyncio.Future[Counts] = asyncio.get_running_loop().create_future()
        self._pending.append((receipt, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="receipts")
        return done

    async def stop(self) -> None:
        """Write what is waiting now (at shutdown, before the engine closes)."""
        self._stopping = True
        _release(self._waiting)
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._writer), 5.0)

    async def _gather(self) -> None:
        """Let the receipts of the next ``delay`` seconds join the batch."""
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        self._waiting = waiting = loop.create_future()
        timer = loop.call_later(self.delay, _release, waiting)
        try:
            await waiting
        finally:
            timer.cancel()
            self._waiting = None

    async def _write(self) -> None:
        while self._pending:
            await self._gather()
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                async with self.db.transaction() as session:
                    results = await check_mark_read_many(session, [r for r, _ in batch])
            except Exception as exc:
                log.info("a batch of %d receipts failed (%r): one by one", len(batch), exc)
                for receipt, done in batch:
                    await self._write_alone(receipt, done)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                settle(done, result)

    async def _write_alone(self, receipt: Receipt, done: asyncio.Future[Counts]) -> None:
        """Never raises: every receipt gets an answer."""
        try:
            async with self.db.transaction() as session:
                (result,) = await check_mark_read_many(session, [receipt])
        except Exception as exc:
            settle(done, exc)
        else:
            settle(done, result)


def _release(waiting: asyncio.Future[None] | None) -> None:
    if waiting is not None and not waiting.done():
        waiting.set_result(None)
