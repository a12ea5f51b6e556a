"""A Yjs client in Python (pycrdt) speaking the y-websocket protocol to a real server."""

from __future__ import annotations

import asyncio
import contextlib

from pycrdt import (
    Doc,
    Text,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
)
from websockets.asyncio.client import ClientConnection, connect


class YClient:
    """Keeps a local document in sync; local edits are sent as they happen."""

    def __init__(self, ws: ClientConnection, doc: Doc | None = None) -> None:
        self.ws = ws
        self.doc = doc or Doc()
        self.text: Text = self.doc.get("markdown", type=Text)
        self.synced = asyncio.Event()
        self.changed = asyncio.Event()
        self.closed_code: int | None = None
        self.updates_received = 0  # sync update messages from the server
        self.awareness_received: list[bytes] = []  # awareness updates from the server
        self._remote = False
        self._subscription = self.doc.observe(self._on_change)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, cookie: str, doc: Doc | None = None) -> YClient:
        ws = await connect(url, additional_headers={"Cookie": f"atelier_session={cookie}"})
        client = cls(ws, doc)
        await ws.send(create_sync_message(client.doc))
        return client

    def _on_change(self, event: TransactionEvent) -> None:
        if self._remote:
            return
        update = event.update
        if update and update != b"\x00\x00":
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().create_task(self._send(create_update_message(update)))

    async def _send(self, message: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send(message)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes) and message[0] == YMessageType.AWARENESS:
                    self.awareness_received.append(read_message(message[1:]))
                    self.changed.set()
                    continue
                if not isinstance(message, bytes) or message[0] != YMessageType.SYNC:
                    continue
                self._remote = True
                try:
                    reply = handle_sync_message(message[1:], self.doc)
                finally:
                    self._remote = False
                if reply is not None:
                    await self.ws.send(reply)
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    self.synced.set()
                elif message[1] == YSyncMessageType.SYNC_UPDATE:
                    self.updates_received += 1
                self.changed.set()
        except Exception:  # noqa: S110 - the close code is what tests look at
            pass
        finally:
            self.closed_code = self.ws.close_code
            self.changed.set()

    async def send_raw_update(self, update: bytes) -> None:
        from pycrdt import write_var_uint

        await self.ws.send(
            bytes([YMessageType.SYNC, YSyncMessageType.SYNC_UPDATE])
            + write_var_uint(len(update))
            + update
        )

    async def wait_text(self, expected: str, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while str(self.text) != expected:
                if self._reader.done():
                    raise ConnectionError(f"closed with {self.closed_code}: {self.text!s}")
                self.changed.clear()
                await self.changed.wait()

    async def wait_closed(self, timeout: float = 10) -> int | None:
        async with asyncio.timeout(timeout):
            await self._reader
        return self.closed_code

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._reader
