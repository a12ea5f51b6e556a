"""A WebSocket client for Atelier processes: pipelined sends, waits, room events in order.

Frames are kept in arrival order. Acknowledgements resolve the request that asked for
them (by ``id``), so a test can keep many ``send`` frames in flight — the server handles
one connection's frames in order, so the seq order of one sender's messages is the order
they were sent in.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.events import MESSAGE_POSTED, ROOM_EVENT_TYPES

Frame = dict[str, Any]
_request_ids = itertools.count(1)


class RequestFailed(AssertionError):
    """The server answered a request with an ``error`` frame."""


class ChatClient:
    """One WebSocket connection as a signed-in member; use :meth:`open`."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.frames: list[Frame] = []
        self.ack_latencies: list[float] = []
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read(), name=f"ws-reader-{name}")

    @classmethod
    async def open(cls, ws_url: str, cookie: str, name: str = "client") -> ChatClient:
        ws = await connect(
            ws_url,
            additional_headers={"Cookie": f"atelier_session={cookie}"},
            max_size=None,
            proxy=None,
        )
        client = cls(ws, name)
        await client.wait_for(lambda f: f["type"] == "hello", what="hello")
        return client

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if frame["type"] in ("ack", "error"):
                    future = self._pending.pop(frame.get("id") or "", None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                async with self._arrived:
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass  # a dropped socket ends the waits below
        finally:
            closed = ConnectionError(f"{self.name}: socket closed ({self.ws.close_code})")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(closed)
            self._pending.clear()
            async with self._arrived:
                self._arrived.notify_all()

    # -- sending -----------------------------------------------------------------------
    async def send(self, frame_type: str, **fields: Any) -> asyncio.Future[Frame]:
        """Send a frame; the future resolves to its ``ack`` or ``error`` frame."""
        request_id = f"{self.name}-{next(_request_ids)}"
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self.ws.send(json.dumps({"type": frame_type, "id": request_id, **fields}))
        return future

    async def request(self, frame_type: str, timeout: float = 10, **fields: Any) -> Frame:
        """Send a frame and return its ``ack``; an ``error`` answer raises."""
        future = await self.send(frame_type, **fields)
        async with asyncio.timeout(timeout):
            answer = await future
        if answer["type"] == "error":
            raise RequestFailed(f"{self.name}: {frame_type} refused: {answer}")
        return answer

    async def subscribe(self, room_id: int, after_seq: int | None = None) -> Frame:
        """Follow ``room_id`` (from now, or resuming after ``after_seq``); returns ``live``."""
        start = len(self.frames)
        room: dict[str, int] = {"room_id": room_id}
        if after_seq is not None:
            room["after_seq"] = after_seq
        await self.request("subscribe", rooms=[room])
        return await self.wait_for(
            lambda f: f["type"] == "live" and f["room_id"] == room_id,
            start=start,
            what=f"live frame for room {room_id}",
        )

    async def post_many(
        self,
        room_id: int,
        bodies: Sequence[str],
        *,
        in_flight: int = 20,
        topic: str = "Montée en charge",
        on_ack: Callable[[int], None] | None = None,
        before_send: Callable[[int], Awaitable[None]] | None = None,
        timeout: float = 30,
    ) -> list[Frame]:
        """Send ``bodies`` as messages (``client_id`` = body) with up to ``in_flight``
        unacknowledged; returns the acks in order.

        ``on_ack(n)`` runs when the n-th ack arrives; ``await before_send(i)`` runs before
        ``bodies[i]`` is sent. Each message's send-to-ack time is added to
        ``ack_latencies``. An ``error`` answer fails the call."""
        window = asyncio.Semaphore(in_flight)
        futures: list[asyncio.Future[Frame]] = []
        acked = 0

        def acknowledged(sent_at: float, _: asyncio.Future[Frame]) -> None:
            nonlocal acked
            self.ack_latencies.append(time.monotonic() - sent_at)
            window.release()
            acked += 1
            if on_ack is not None:
                on_ack(acked)

        async with asyncio.timeout(timeout):
            for index, body in enumerate(bodies):
                if before_send is not None:
                    await before_send(index)
                await window.acquire()
                future = await self.send(
                    "send", room_id=room_id, topic=topic, body=body, client_id=body
                )
                future.add_done_callback(functools.partial(acknowledged, time.monotonic()))
                futures.append(future)
            answers = await asyncio.gather(*futures)
        errors = [a for a in answers if a["type"] != "ack"]
        assert not errors, f"{self.name}: {len(errors)} sends refused, first: {errors[0]}"
        return answers

    # -- receiving ---------------------------------------------------------------------
    async def wait_until(
        self, condition: Callable[[], bool], timeout: float = 10, what: str = "condition"
    ) -> None:
        """Wait until ``condition()`` holds (checked after every received frame)."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                while not condition():
                    if self._reader.done():
                        raise ConnectionError(
                            f"{self.name}: closed ({self.ws.close_code}) waiting for {what}"
                        )
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"{self.name}: no {what} within {timeout}s") from None

    async def wait_for(
        self,
        predicate: Callable[[Frame], bool],
        timeout: float = 10,
        *,
        start: int = 0,
        what: str = "matching frame",
    ) -> Frame:
        """The first frame from index ``start`` on that matches ``predicate``."""
        found: list[Frame] = []
        scanned = start

        def seen() -> bool:
            nonlocal scanned
            while not found and scanned < len(self.frames):
                if predicate(self.frames[scanned]):
                    found.append(self.frames[scanned])
                scanned += 1
            return bool(found)

        await self.wait_until(seen, timeout, what)
        return found[0]

    def room_events(self, room_id: int, event_type: str | None = None) -> list[Frame]:
        """Room events received for ``room_id`` (of ``event_type`` if given), in order."""
        return [
            f
            for f in self.frames
            if f["type"] in ROOM_EVENT_TYPES
            and f.get("room_id") == room_id
            and (event_type is None or f["type"] == event_type)
        ]

    def posted_bodies(self, room_id: int) -> list[str]:
        return [f["message"]["source"] for f in self.room_events(room_id, MESSAGE_POSTED)]

    async def wait_posted(self, room_id: int, body: str, timeout: float = 10) -> Frame:
        return await self.wait_for(
            lambda f: (
                f["type"] == MESSAGE_POSTED
                and f["room_id"] == room_id
                and f["message"]["source"] == body
            ),
            timeout,
            what=f"message {body!r}",
        )
