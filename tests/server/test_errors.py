"""Untrusted input: every bad frame gets a structured error, and nothing half-happens."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import pytest
from sqlalchemy import delete, func, select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from auth.roles import Role
from rooms.actions.structure import do_grant_role, do_revoke_role
from rooms.models import Membership, Message, Room
from server import gateway
from tests.conftest import LiveServer, live_server
from tests.factories import World, build_world
from tests.wsclient import ProtocolClient


async def test_handshake_needs_a_session(server: LiveServer, world: World) -> None:
    for cookie in (None, "forged-token"):
        client = await connect(
            server.ws_url,
            additional_headers={"Cookie": f"atelier_session={cookie}"} if cookie else {},
        )
        with pytest.raises(Exception):  # noqa: B017, PT011 - the close is what matters
            await client.recv()
        assert client.close_code == 4401


async def test_handshake_refuses_a_foreign_origin(server: LiveServer, world: World) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await ProtocolClient.connect(
            server.ws_url, world.cookies["marie"], origin="https://evil.example"
        )
    assert refused.value.response.status_code == 403
    same_site = await ProtocolClient.connect(
        server.ws_url, world.cookies["marie"], origin=server.base_url
    )
    await same_site.close()


@pytest.mark.parametrize(
    ("raw", "code", "extra"),
    [
        ("pas du json", "bad_json", {}),
        ("[1, 2]", "bad_json", {}),
        # A lone surrogate is no text (it could not be stored), NaN is not JSON.
        ('{"type": "send", "id": "s1", "room_id": 1, "topic": "t", "body": "\\ud800",'
         ' "client_id": "c"}', "bad_json", {}),
        ('{"type": "ping", "id": "n1", "pad": NaN}', "bad_json", {}),
        ('{"type": "danse", "id": "a1"}', "unknown_type", {"id": "a1"}),
        ('{"type": "send", "id": "a2", "room_id": "1"}', "bad_frame", {"id": "a2"}),
        ('{"type": "send", "id": "a3", "room_id": true, "topic": "t", "body": "b",'
         ' "client_id": "c"}', "bad_frame", {"field": "room_id", "reason": "type"}),
        ('{"type": "read", "id": "a4"}', "bad_frame", {"field": "room_id", "reason": "missing"}),
        ('{"type": "react", "id": "a5", "room_id": 1, "message_id": 1, "emoji": "x",'
         ' "op": "toggle"}', "bad_frame", {"field": "op", "reason": "value"}),
        ('{"type": "subscribe", "id": "a6", "rooms": [{"room_id": 1, "after_seq": -1}]}',
         "bad_frame", {"field": "after_seq"}),
    ],
)  # fmt: skip
async def test_malformed_frames_get_an_error_frame_and_the_connection_stays(
    server: LiveServer, world: World, raw: str, code: str, extra: dict
) -> None:
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    await marie.send_raw(raw)
    error = await marie.wait_for(lambda f: f["type"] == "error")
    assert error["code"] == code
    assert error["message"]  # a French sentence for the member
    for key, value in extra.items():
        assert error[key] == value
    assert (await marie.request("ping"))["type"] == "pong"
    await marie.close()


async def test_binary_and_oversized_frames(server: LiveServer, world: World) -> None:
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    await marie.send_raw(b"\x00\x01")
    assert (await marie.wait_for(lambda f: f["type"] == "error"))["code"] == "binary_frame"
    big = json.dumps({"type": "ping", "id": "x", "pad": "a" * 70_000})
    await marie.send_raw(big)
    error = await marie.wait_for(lambda f: f.get("code") == "frame_too_large")
    assert error["limit"] == 64 * 1024
    await marie.close()


async def test_oversized_or_empty_body_is_refused_and_nothing_is_written(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    too_long = await marie.post(room, "é" * 9000)  # 18 000 bytes of UTF-8 > 16 KiB
    assert (too_long["code"], too_long["field"], too_long["reason"]) == (
        "invalid_input",
        "body",
        "too_long",
    )
    blank = await marie.post(room, "   \n ")
    assert (blank["code"], blank["reason"]) == ("invalid_input", "empty")
    no_topic = await marie.post(room, "texte", topic="  ")
    assert (no_topic["code"], no_topic["field"]) == ("invalid_input", "topic")
    async with server.state.db.read() as session:
        assert await session.scalar(select(func.count(Message.id))) == 0
    await marie.close()


async def test_rooms_one_cannot_see_or_write(server: LiveServer, world: World) -> None:
    henri = await ProtocolClient.connect(server.ws_url, world.cookies["other"])
    hidden = await henri.request("subscribe", rooms=[{"room_id": world.group_room}])
    # The refusal of a room comes as an error with the request id, then the ack.
    error = next(f for f in henri.frames if f["type"] == "error")
    assert (error["code"], error["id"]) == ("room_not_found", hidden["id"])
    post = await henri.post(world.group_room, "intrus")
    assert post["code"] == "room_not_found"
    missing = await henri.post(10**9, "nulle part")
    assert missing["code"] == "room_not_found"

    louise = await ProtocolClient.connect(server.ws_url, world.cookies["observer"])
    await louise.subscribe(world.group_room)  # observers read…
    refused = await louise.post(world.group_room, "je voudrais dire")
    assert refused["code"] == "forbidden"  # …but do not write
    assert "rôle" in refused["message"]

    expired = await ProtocolClient.connect(server.ws_url, world.cookies["expired"])
    gone = await expired.post(world.group_room, "mandat échu")
    assert gone["code"] == "room_not_found"
    for c in (henri, louise, expired):
        await c.close()


async def test_a_withdrawn_role_applies_to_the_next_frame(server: LiveServer, world: World) -> None:
    room = world.group_room
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await paul.subscribe(room)
    assert (await paul.post(room, "encore membre"))["type"] == "ack"
    group = await group_space(server, room)
    async with server.state.db.transaction() as session:
        assert await do_revoke_role(session, world.id("paul"), group) == 1
    await paul.wait_for(lambda f: f["type"] == "removed" and f["room_id"] == room)
    refused = await paul.post(room, "plus membre")
    assert refused["code"] == "room_not_found"
    await paul.close()


async def test_a_granted_role_applies_to_the_next_frame(server: LiveServer, world: World) -> None:
    room = world.group_room
    louise = await ProtocolClient.connect(server.ws_url, world.cookies["observer"])
    await louise.subscribe(room)
    assert (await louise.post(room, "puis-je ?"))["code"] == "forbidden"
    # The refusal is not kept; a granted access is, until the member's roles change.
    group = await group_space(server, room)
    async with server.state.db.transaction() as session:
        await do_grant_role(session, world.id("observer"), group, Role.MEMBER)
    await asyncio.sleep(0.3)  # the control message reaches the hub (no frame to wait for)
    assert (await louise.post(room, "oui"))["type"] == "ack"
    await louise.close()


async def test_access_kept_by_a_socket_expires(
    server: LiveServer, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change nobody announced (a mandate reaching its end date, a manual edit of the
    database) applies once the socket's access expires."""
    room = world.group_room
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    assert (await paul.post(room, "encore membre"))["type"] == "ack"
    async with server.state.db.transaction() as session:
        await session.execute(delete(Membership).where(Membership.user_id == world.id("paul")))
    # Still kept: within ACCESS_TTL_SECS, only announced changes apply at once.
    assert (await paul.post(room, "pas encore relu"))["type"] == "ack"
    monkeypatch.setattr(gateway, "ACCESS_TTL_SECS", 0.0)  # what was read has expired
    refused = await paul.post(room, "plus membre")
    assert refused["code"] == "room_not_found"
    await paul.close()


async def group_space(server: LiveServer, room_id: int) -> str:
    async with server.state.db.read() as session:
        room = await session.get(Room, room_id)
        assert room is not None
        return f"group:{room.group_id}"


async def test_unknown_messages(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    for frame, fields in [
        ("edit", {"body": "x"}),
        ("delete", {}),
        ("react", {"emoji": "👍", "op": "add"}),
    ]:
        error = await marie.request(frame, room_id=room, message_id=10**9, **fields)
        assert error["code"] == "message_not_found", frame
    await marie.close()


async def test_flooding_is_rate_limited_without_losing_the_connection(database_url: str) -> None:
    async with live_server(database_url, rate_limit_messages=5, rate_limit_window_secs=60) as srv:
        world = await build_world(srv.state.db)
        marie = await ProtocolClient.connect(srv.ws_url, world.cookies["marie"])
        results = [await marie.post(world.group_room, f"m{i}") for i in range(8)]
        assert [r["type"] for r in results] == ["ack"] * 5 + ["error"] * 3
        assert results[-1]["code"] == "rate_limited"
        assert results[-1]["retry_after"] > 0
        # Reading is not limited, and the connection is still usable.
        assert (await marie.request("subscribe", rooms=[{"room_id": world.group_room}]))[
            "type"
        ] == "ack"
        await marie.close()


async def test_a_client_that_keeps_sending_garbage_is_disconnected(
    server: LiveServer, world: World
) -> None:
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    for _ in range(40):
        await marie.send_raw("{")
    with pytest.raises(ConnectionError):
        await marie.wait_for(lambda f: False, timeout=5)
    assert marie.closed_code == 1008
    assert sum(f["type"] == "error" for f in marie.frames) >= 29


async def test_a_slow_reader_is_cut_off_and_resumes_without_loss(database_url: str) -> None:
    async with live_server(database_url, rate_limit_messages=100_000, send_queue_limit=20) as srv:
        world = await build_world(srv.state.db)
        room = world.group_room
        # A reader that stops reading: the client library stops pulling from the socket
        # once its own small queue is full, so the server's queue fills up.
        # No compression (x * 15000 would shrink to nothing) and a tiny receive buffer
        # keep the kernel from absorbing megabytes on its behalf.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        slow = await ProtocolClient.connect(
            srv.ws_url, world.cookies["paul"], max_queue=1, sock=sock, compression=None
        )
        await slow.subscribe(room)
        slow._reader.cancel()
        fast = await ProtocolClient.connect(srv.ws_url, world.cookies["elodie"])
        await fast.subscribe(room)
        marie = await ProtocolClient.connect(srv.ws_url, world.cookies["marie"])
        body = "x" * 15_000
        acks = []
        for i in range(250):
            acks.append(await marie.post(room, f"{i} {body}"))
        assert all(a["type"] == "ack" for a in acks)
        # The others were not held back…
        await fast.wait_event(room, acks[-1]["seq"], timeout=30)
        # …and the server dropped the slow one (it would read close code 4008, but it
        # is not reading anything any more).
        paul_id = world.id("paul")
        async with asyncio.timeout(30):
            while srv.state.hub.users.get(paul_id):
                await asyncio.sleep(0.05)
        slow.ws.transport.abort()
        again = await ProtocolClient.connect(srv.ws_url, world.cookies["paul"])
        await again.subscribe(room, after_seq=0)
        assert [e["seq"] for e in again.events(room)] == [a["seq"] for a in acks]
        for c in (fast, marie, again):
            await c.close()


async def test_duplicate_client_id_across_rooms_is_one_message(
    server: LiveServer, world: World
) -> None:
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    client_id = str(uuid.uuid4())
    first = await marie.post(world.group_room, "ici", client_id=client_id)
    second = await marie.post(world.chantier_room, "là", client_id=client_id)
    assert second["message_id"] == first["message_id"]
    assert second["duplicate"] is True
    assert second["room_id"] == world.group_room  # where the message really is
    await marie.close()


async def test_a_dead_connection_is_detected_by_ping(database_url: str) -> None:
    async with live_server(
        database_url, ws_ping_interval_secs=0.3, ws_ping_timeout_secs=0.3
    ) as srv:
        world = await build_world(srv.state.db)
        # A peer that vanished without closing: it never answers pings.
        silent = await ProtocolClient.connect(srv.ws_url, world.cookies["paul"], ping_interval=None)
        await silent.subscribe(world.group_room)
        silent.ws.transport.pause_reading()
        async with asyncio.timeout(10):
            while srv.state.hub.users.get(world.id("paul")):
                await asyncio.sleep(0.05)
        silent.ws.transport.abort()
