"""Group commit of the sockets' ``send`` frames: one transaction for every message waiting.

A message costs a handful of statements but a transaction costs more: a session, a
``BEGIN``, a commit and, on SQLite, the process's write lock — which every other writer
waits for. So the sends arriving while a batch is being written wait for the next batch
and go in together (``rooms.actions.messages.check_post_many``): under load a batch holds
tens of messages and each pays a fraction of a transaction; alone, a message is written
at once, as before. Each sender is answered after the commit, with its own result.

If the batch's transaction fails as a whole (a database error; two processes committing
the same client id, which the unique index refuses), its messages are written again one
per transaction, so that one bad request cannot refuse the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import IntegrityError

from rooms.actions import messages as message_actions
from rooms.actions.messages import Posted, PostRequest
from rooms.errors import RoomsError
from server.database import Database

log = logging.getLogger(__name__)

MAX_BATCH = 200


class Poster:
    """The process's writer of messages (one task, started by the first send)."""

    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[PostRequest, asyncio.Future[Posted]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def post(self, request: PostRequest) -> Posted:
        """Post ``request`` in the next batch; raises what refused it (``RoomsError``)."""
        done: asyncio.Future[Posted] = asyncio.get_running_loop().create_future()
        self._pending.append((request, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="poster")
        return await done

    async def _write(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                async with self.db.transaction() as session:
                    results = await message_actions.check_post_many(
                        session, [request for request, _ in batch]
                    )
            except Exception:
                if len(batch) > 1:
                    log.info("a batch of %d messages failed: writing them one by one", len(batch))
                for request, done in batch:
                    await self._write_alone(request, done)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                _settle(done, result)

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
                _settle(done, lookup_failed)
            else:
                _settle(done, found if found is not None else exc)
        except Exception as exc:
            _settle(done, exc)
        else:
            _settle(done, result)


def _settle(done: asyncio.Future[Posted], result: Posted | RoomsError | Exception) -> None:
    if done.done():  # the sender's socket went away meanwhile
        return
    if isinstance(result, Exception):
        done.set_exception(result)
    else:
        done.set_result(result)
