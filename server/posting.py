"""Group commit of the sockets' ``send`` frames: one transaction for every message waiting.

A message costs a handful of statements but a transaction costs more: a session, a
``BEGIN``, a commit and, on SQLite, the process's write lock — which every other writer
waits for. So the sends arriving while a batch is being written wait for the next batch
and go in together (``rooms.actions.messages.check_post_many``): under load a batch holds
tens of messages and each pays a fraction of a transaction; alone, a message is written
at once, as before. Each sender is answered after the commit, with its own result.

A batch skips SQLAlchemy's async execution, which cost about as much as the statements
themselves (``Database.write_with_driver``): on an SQLite file, the whole batch is one
synchronous ``sqlite3`` call (``rooms.actions.sqlite_posting``, run by
``server.database.SqliteWriter``), under the process's write gate like every other
writer; on PostgreSQL, the batch runs on the asyncpg driver of a connection kept for
the hot writes (``rooms.actions.pg_posting``, ``server.database.AsyncpgWriters``).
Anything else (an in-memory SQLite) goes through the async session. All three apply
the same steps and rules (``rooms.actions.messages.post_steps``).

If the batch's transaction fails as a whole (a database error; two processes committing
the same client id, which the unique index refuses), its messages are written again one
per transaction through the async session, so that one bad request cannot refuse the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from auth.base import utcnow
from rooms.actions import messages as message_actions
from rooms.actions import pg_posting, sqlite_posting
from rooms.actions.messages import Posted, PostRequest
from rooms.errors import RoomsError
from server.database import Database

log = logging.getLogger(__name__)

MAX_BATCH = 200
T = TypeVar("T")


class Poster:
    """The process's writer of messages (one task, started by the first send)."""

    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[PostRequest, asyncio.Future[Posted]]] = []
        self._writer: asyncio.Task[None] | None = None
        # Database.write_now can write without a wait (an SQLite file) this turn.
        self._turn_free = db.sqlite_writer is not None

    def post_now(self, request: PostRequest) -> Posted | None:
        """Post ``request`` at once, in the caller's turn, or return ``None`` (nothing
        written: then :meth:`post` it); raises what refused it (``RoomsError``).

        When nothing else is being written and the database can be written without a
        wait (``Database.write_now``: an SQLite file), the sender's own task writes and
        publishes its message: no writer task to start, no future to wake. Once per
        turn of the loop: the sends that arrived with it go to the writer's task and
        share a transaction."""
        if not self._turn_free or self._pending or not self._idle:
            return None
        self._turn_free = False
        asyncio.get_running_loop().call_soon(self._next_turn)
        try:
            written = self.db.write_now(sqlite_posting.post_many, [request], utcnow())
        except Exception as exc:
            log.info("a message failed alone (%r): writing it again through the batch", exc)
            return None
        if written is None:
            return None
        (result,) = written[0]
        if isinstance(result, Exception):
            raise result
        return result

    @property
    def _idle(self) -> bool:
        return self._writer is None or self._writer.done()

    async def post(self, request: PostRequest) -> Posted:
        """Post ``request`` in the next batch; raises what refused it (``RoomsError``)."""
        done: asyncio.Future[Posted] = asyncio.get_running_loop().create_future()
        self._pending.append((request, done))
        if self._idle:
            self._writer = asyncio.create_task(self._write(), name="poster")
        return await done

    def _next_turn(self) -> None:
        self._turn_free = True  # only ever scheduled when it was true

    async def _write(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await self._write_batch([request for request, _ in batch])
            except Exception as exc:
                log.info(
                    "a batch of %d messages failed (%r): writing them one by one",
                    len(batch),
                    exc,
                )
                for request, done in batch:
                    await self._write_alone(request, done)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                settle(done, result)

    async def _write_batch(self, requests: list[PostRequest]) -> list[Posted | RoomsError]:
        if not self.db.driver_writes:
            async with self.db.transaction() as session:
                return await message_actions.check_post_many(session, requests)
        return await self.db.write_with_driver(
            sqlite_posting.post_many, pg_posting.post_many, requests, utcnow()
        )

    async def stop(self) -> None:
        """Let the batch being written finish (at shutdown, before the engine closes)."""
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._writer), 5.0)

    async def _write_alone(self, request: PostRequest, done: asyncio.Future[Posted]) -> None:
        """Never raises: every sender gets an answer, whatever happens here."""
        try:
            async with self.db.transaction() as session:
                (result,) = await message_actions.check_post_many(session, [request])
        except IntegrityError as exc:
            # The same client id committed meanwhile (another process, or another room):
            # answer with that message.
            try:
                async with self.db.read() as session:
                    found = await message_actions.find_by_client_id(
                        session, request.access.user_id, request.client_id
                    )
            except Exception as lookup_failed:
                settle(done, lookup_failed)
            else:
                settle(done, found if found is not None else exc)
        except Exception as exc:
            settle(done, exc)
        else:
            settle(done, result)


def settle(done: asyncio.Future[T], result: T | Exception) -> None:
    """Answer a waiting writer's caller (the poster's, the receipts'), unless it went
    away meanwhile (its socket closed)."""
    if done.done():
        return
    if isinstance(result, Exception):
        done.set_exception(result)
    else:
        done.set_result(result)
