"""Room events framed once and written straight to each socket (server/wire.py): the
bytes are the WebSocket frames the library would build, and the live server uses the
direct path for every connection it serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from server.wire import Outgoing, text_frame, wire_of
from tests.conftest import LiveServer
from tests.factories import World
from tests.wsclient import ProtocolClient


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_text_frame_is_the_standard_server_frame(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False)
    assert text_frame(payload) == expected


def test_outgoing_frames_once_and_stays_a_string() -> None:
    frame = Outgoing('{"type":"message.posted","texte":"équipe"}')
    assert frame == '{"type":"message.posted","texte":"équipe"}'
    assert wire_of(frame) is wire_of(frame)  # built once, shared
    assert wire_of(str(frame)) == wire_of(frame)


async def test_live_sockets_take_the_direct_path(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await paul.subscribe(room)
    conns = server.state.hub.users[world.id("paul")]
    assert conns
    assert all(c._direct is not None for c in conns)
    # Short and 16-bit length frames with multi-byte text arrive intact.
    for body in ("court", "é" * 3_000, "ü" * 8_000):
        posted = await marie.post(room, body)
        assert posted["type"] == "ack", posted
        event = await paul.wait_event(room, posted["seq"])
        assert event["message"]["source"] == body
    await marie.close()
    await paul.close()


class _CountingTransport:
    """The socket's transport, counting its writes."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def test_a_senders_copy_and_its_ack_leave_in_one_write(
    server: LiveServer, world: World
) -> None:
    """When a send is written at once (an SQLite file, nothing else being written), the
    sender's copy of the message and the ack are one ``transport.write``; on PostgreSQL
    they stay two writes, in the same order (the copy first)."""
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    await marie.subscribe(room)
    (conn,) = server.state.hub.users[world.id("marie")]
    assert conn._direct is not None
    protocol = conn._direct._protocol
    counting = _CountingTransport(protocol.transport)
    protocol.transport = counting
    try:
        for n in range(3):
            posted = await marie.post(room, f"un seul envoi {n}")
            await marie.wait_event(room, posted["seq"])
            frames = [
                (opcode, payload) for write in counting.writes for opcode, payload in _frames(write)
            ]
            assert [json.loads(p)["type"] for _, p in frames] == ["message.posted", "ack"]
            expected = 1 if server.state.db.sqlite_writer is not None else 2
            assert len(counting.writes) == expected
            counting.writes.clear()
    finally:
        protocol.transport = counting.transport
        await marie.close()


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames (lengths below 64 KiB)."""
    frames = []
    while data:
        opcode, size, start = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(data[2:4]), 4
        frames.append((opcode, data[start : start + size]))
        data = data[start + size :]
    return frames
