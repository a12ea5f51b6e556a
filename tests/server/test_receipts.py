"""Read receipts are gathered and written together (``server.receipts``); the socket that
sent one goes on meanwhile and gets its answer once it is written."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError

from rooms.access import RoomAccess, access_room
from rooms.actions.reading import Receipt
from rooms.errors import InvalidInput
from rooms.models import ReadMarker, Room
from server.database import Database
from server.gateway import MAX_READS_WAITING
from server.receipts import Receipts
from tests.conftest import LiveServer
from tests.factories import World, build_world
from tests.wsclient import ProtocolClient


async def _accesses(db: Database, world: World, *who: str) -> list[RoomAccess]:
    async with db.transaction() as session:
        await session.execute(update(Room).where(Room.id == world.group_room).values(last_seq=9))
        return [await access_room(session, world.id(name), world.group_room) for name in who]


async def _markers(db: Database) -> set[tuple[int, str, int]]:
    async with db.read() as session:
        rows = await session.execute(select(ReadMarker.user_id, ReadMarker.topic, ReadMarker.seq))
        return set(rows)


def _marker_writes(db: Database) -> tuple[list[int], Any]:
    """How many markers each write of ``read_markers`` carried, and the listener."""
    writes: list[int] = []

    def heard(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO read_markers"):
            writes.append(len(params) if many else 1)

    event.listen(db.engine.sync_engine, "before_cursor_execute", heard)
    return writes, heard


async def test_receipts_within_the_delay_are_one_write(db: Database) -> None:
    world = await build_world(db)
    marie, paul, elodie = await _accesses(db, world, "marie", "paul", "elodie")
    receipts = Receipts(db, delay=0.2)
    writes, heard = _marker_writes(db)
    try:
        first = receipts.mark(Receipt(marie, 3))
        await asyncio.sleep(0.05)
        assert not first.done(), "written before the delay"
        others = [receipts.mark(Receipt(paul, 9)), receipts.mark(Receipt(elodie, 4, "Sujet"))]
        counts = await asyncio.gather(first, *others)
        # The batch's three markers in one write; then, as nothing is unread in the
        # room (it holds no message), Marie's and Élodie's room markers catch up with
        # its end in a second (finding 40).
        assert writes == [3, 2]
        # What arrives while nothing waits starts a batch of its own.
        late = await receipts.mark(Receipt(marie, 9))
        assert writes == [3, 2, 1]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", heard)
        await receipts.stop()
    nothing = {"unread": 0, "mentions": 0, "topics": {}}
    assert counts == [nothing, nothing, nothing]  # no message was written in the room
    assert late == nothing
    assert await _markers(db) == {
        (world.id("marie"), "", 9),
        (world.id("paul"), "", 9),
        (world.id("elodie"), "Sujet", 4),
        (world.id("elodie"), "", 9),
    }


async def test_stop_writes_what_waits_at_once(db: Database) -> None:
    world = await build_world(db)
    (marie,) = await _accesses(db, world, "marie")
    receipts = Receipts(db, delay=60)
    waiting = receipts.mark(Receipt(marie, 9))
    await asyncio.sleep(0)
    started = time.monotonic()
    await receipts.stop()
    assert time.monotonic() - started < 5
    assert waiting.done()
    assert await _markers(db) == {(world.id("marie"), "", 9)}


async def test_a_refused_receipt_refuses_only_itself(db: Database) -> None:
    """Past the room's end: refused by the rule, the others of the batch written. A
    member that no longer exists: the database refuses the whole batch, which is then
    written receipt by receipt."""
    world = await build_world(db)
    marie, paul = await _accesses(db, world, "marie", "paul")
    ghost = dataclasses.replace(paul, user_id=10**6)
    receipts = Receipts(db, delay=0.05)
    try:
        past = receipts.mark(Receipt(marie, 10))
        written = receipts.mark(Receipt(paul, 9))
        with pytest.raises(InvalidInput):
            await past
        assert (await written)["unread"] == 0
        unknown = receipts.mark(Receipt(ghost, 1))
        kept = receipts.mark(Receipt(marie, 9))
        assert (await kept)["unread"] == 0
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            await unknown
    finally:
        await receipts.stop()
    assert await _markers(db) == {(world.id("paul"), "", 9), (world.id("marie"), "", 9)}


async def test_a_send_after_a_read_is_not_held_back(server: LiveServer, world: World) -> None:
    """The receipt waits for its batch; the socket's next frame does not wait for it."""
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    elodie = await ProtocolClient.connect(server.ws_url, world.cookies["elodie"])
    await elodie.subscribe(room)
    posted = await marie.post(room, "Bonjour")
    read_id = await elodie.send("read", room_id=room, seq=posted["seq"])
    sent = await elodie.post(room, "Réponse")
    assert sent["type"] == "ack"
    answered = [f.get("id") for f in elodie.frames if f["type"] in ("ack", "error")]
    assert read_id not in answered, "the send's ack came after the receipt's"
    read = await elodie.wait_for(lambda f: f.get("id") == read_id)
    assert read == {"type": "ack", "id": read_id, "room_id": room}
    # Written after her reply: what follows the message she read is her own, so her
    # marker is at the room's end (finding 40).
    assert (world.id("elodie"), "", sent["seq"]) in await _markers(server.state.db)
    refused_id = await elodie.send("read", room_id=room, seq=10**6)
    refused = await elodie.wait_for(lambda f: f.get("id") == refused_id)
    assert (refused["type"], refused["code"], refused["field"]) == ("error", "invalid_input", "seq")
    await marie.close()
    await elodie.close()


async def test_a_socket_flooding_receipts_waits_for_them(server: LiveServer, world: World) -> None:
    """Receipts are not rate-limited, and the socket no longer waits for each: past
    ``MAX_READS_WAITING`` waiting for their batch, its next frame waits for them, so a
    client cannot pile them up in the server."""
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    await marie.post(room, "Bonjour")
    reads = [await marie.send("read", room_id=room, seq=0) for _ in range(MAX_READS_WAITING + 4)]
    ping = await marie.send("ping")
    await marie.wait_for(lambda f: f.get("id") == ping and f["type"] == "pong")
    answered = {f.get("id") for f in marie.frames if f["type"] == "ack"}
    assert len(answered & set(reads)) >= MAX_READS_WAITING
    for request_id in reads:
        assert (await marie.wait_for(lambda f, r=request_id: f.get("id") == r))["type"] == "ack"
    await marie.close()
