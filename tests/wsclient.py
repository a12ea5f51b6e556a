"""A WebSocket test client that speaks Atelier's protocol over a real socket."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from rooms.events import ROOM_EVENT_TYPES

Frame = dict[str, Any]
_ids = itertools.count(1)


class ProtocolClient:
    """Keeps every received frame in ``frames`` so tests can look back as well as wait."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self._cursor = 0
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed_code: int | None = None

    @classmethod
    async def connect(
        cls, ws_url: str, cookie: str | None, *, origin: str | None = None, **kwargs: Any
    ) -> ProtocolClient:
        headers = {"Cookie": f"atelier_session={cookie}"} if cookie else {}
        if origin:
            headers["Origin"] = origin
        ws = await connect(ws_url, additional_headers=headers, max_size=None, **kwargs)
        client = cls(ws)
        await client.wait_for(lambda f: f["type"] == "hello")
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self._arrived.set()
        except Exception:  # noqa: S110 - the close code is what tests look at
            pass
        finally:
            self.closed_code = self.ws.close_code
            self._arrived.set()

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def send(self, frame_type: str, **fields: Any) -> str:
        request_id = fields.pop("id", None) or f"r{next(_ids)}"
        await self.ws.send(json.dumps({"type": frame_type, "id": request_id, **fields}))
        return request_id

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 10) -> Frame:
        """The first frame (not yet consumed by a previous wait) that matches."""
        async with asyncio.timeout(timeout):
            while True:
                for index in range(self._cursor, len(self.frames)):
                    if predicate(self.frames[index]):
                        return self.frames[index]
                if self._reader.done():
                    raise ConnectionError(f"closed with code {self.closed_code}")
                self._arrived.clear()
                await self._arrived.wait()

    async def request(self, frame_type: str, timeout: float = 10, **fields: Any) -> Frame:
        """Send a frame and return its ``ack`` or ``error`` (matched by request id)."""
        request_id = await self.send(frame_type, **fields)
        return await self.wait_for(
            lambda f: f.get("id") == request_id and f["type"] in ("ack", "error", "pong"), timeout
        )

    async def subscribe(self, room_id: int, after_seq: int | None = None) -> Frame:
        room: dict[str, int] = {"room_id": room_id}
        if after_seq is not None:
            room["after_seq"] = after_seq
        ack = await self.request("subscribe", rooms=[room])
        assert ack["type"] == "ack", ack
        await self.wait_for(lambda f: f["type"] == "live" and f["room_id"] == room_id)
        return ack

    async def post(self, room_id: int, body: str, topic: str = "Sujet", **fields: Any) -> Frame:
        fields.setdefault("client_id", str(uuid.uuid4()))
        return await self.request("send", room_id=room_id, topic=topic, body=body, **fields)

    def events(self, room_id: int, types: frozenset[str] | None = None) -> list[Frame]:
        """Room events received for ``room_id``, in arrival order."""
        wanted = types or ROOM_EVENT_TYPES
        return [f for f in self.frames if f["type"] in wanted and f.get("room_id") == room_id]

    async def wait_event(self, room_id: int, seq: int, timeout: float = 10) -> Frame:
        return await self.wait_for(
            lambda f: (
                f["type"] in ROOM_EVENT_TYPES
                and f.get("room_id") == room_id
                and f.get("seq") == seq
            ),
            timeout,
        )

    async def quiet(self, seconds: float = 0.3) -> list[Frame]:
        """Frames that arrive during ``seconds`` (to assert that nothing more comes)."""
        start = len(self.frames)
        await asyncio.sleep(seconds)
        return self.frames[start:]
