"""A real SMTP server for the tests (aiosmtpd), collecting what Atelier sends."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import Message

from aiosmtpd.controller import Controller

from tests.services import free_port


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._arrived = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = envelope.content  # type: ignore[attr-defined]
        self.messages.append(email.message_from_bytes(content))
        self._loop.call_soon_threadsafe(self._arrived.set)
        return "250 OK"

    async def wait_for(self, to: str, timeout: float = 10) -> Message:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages:
                    if to in str(message["To"]):
                        return message
                self._arrived.clear()
                await self._arrived.wait()

    @staticmethod
    def link(message: Message) -> str:
        body = message.get_payload(decode=True)
        text = body.decode() if isinstance(body, bytes) else str(message.get_payload())
        found = re.search(r"https?://\S+", text)
        assert found, text
        return found.group(0)


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Mailbox, str]]:
    """A listening SMTP server and the ``SMTP_URL`` that reaches it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
