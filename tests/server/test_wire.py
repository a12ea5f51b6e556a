"""Room events framed once and written straight to each socket (server/wire.py): the
bytes are the WebSocket frames the library would build, and the live server uses the
direct path for every connection it serves."""

from __future__ import annotations

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
