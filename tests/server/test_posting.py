"""Group commit of messages: one transaction for a batch, each sender answered on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from rooms.access import access_room
from rooms.actions import moderation
from rooms.actions.messages import Posted, PostRequest, check_post_many
from rooms.errors import InvalidInput, Muted, RoomsError, SlowMode
from rooms.models import Message, Room, RoomEvent
from server.database import Database, make_engine
from server.posting import Poster
from tests.conftest import LiveServer
from tests.factories import World
from tests.wsclient import ProtocolClient

WriteBatch = Callable[[Database, list[PostRequest]], Awaitable[list[Posted | RoomsError]]]


async def _in_a_session(db: Database, requests: list[PostRequest]) -> list[Posted | RoomsError]:
    async with db.transaction() as session:
        return await check_post_many(session, requests)


async def _by_the_poster(db: Database, requests: list[PostRequest]) -> list[Posted | RoomsError]:
    """As the sockets' sends are written: on an SQLite file, with ``sqlite3`` directly."""
    poster = Poster(db)
    try:
        return await poster._write_batch(requests)
    finally:
        await poster.stop()


@pytest.fixture(params=["session", "poster"])
def write_batch(request: pytest.FixtureRequest) -> WriteBatch:
    """Both ways a batch is written apply the same rules (``PostBatch``)."""
    return _in_a_session if request.param == "session" else _by_the_poster


async def _requests(db: Database, world: World, *items: tuple[str, str, str]) -> list[PostRequest]:
    """(who, body, client id) in the group room."""
    async with db.read() as session:
        return [
            PostRequest(
                await access_room(session, world.id(who), world.group_room),
                topic="Sujet",
                source=body,
                client_id=client_id,
            )
            for who, body, client_id in items
        ]


async def test_a_batch_posts_each_request_or_says_why_not(
    server: LiveServer, world: World, write_batch: WriteBatch
) -> None:
    db = server.state.db
    async with db.transaction() as session:
        access = await access_room(session, world.id("copilote"), world.group_room)
        await moderation.check_mute(
            session, access, user_id=world.id("paul"), seconds=600, reason="Calme"
        )
        before = await session.scalar(select(Room.last_seq).where(Room.id == world.group_room))
    assert before is not None
    requests = await _requests(
        db,
        world,
        ("marie", "un", "m-1"),
        ("paul", "réduit au silence", "p-1"),
        ("elodie", "deux", "e-1"),
        ("marie", "un (renvoyé)", "m-1"),  # the same client id in the same batch
        ("elodie", "   ", "e-2"),  # empty
        ("copilote", "trois", "c-1"),
    )
    results = await write_batch(db, requests)
    marie, paul, elodie, resent, empty, copilote = results
    assert isinstance(paul, Muted)
    assert isinstance(empty, InvalidInput)
    assert isinstance(marie, Posted)
    assert isinstance(elodie, Posted)
    assert isinstance(copilote, Posted)
    assert isinstance(resent, Posted)
    # In the order sent, one position each, without a gap.
    assert [marie.seq, elodie.seq, copilote.seq] == [before + 1, before + 2, before + 3]
    assert resent.duplicate
    assert resent.message_id == marie.message_id
    async with db.read() as session:
        last = await session.scalar(select(Room.last_seq).where(Room.id == world.group_room))
        events = list(
            await session.execute(
                select(RoomEvent.seq, RoomEvent.type)
                .where(RoomEvent.room_id == world.group_room, RoomEvent.seq > before)
                .order_by(RoomEvent.seq)
            )
        )
        bodies = list(
            await session.scalars(
                select(Message.source).where(Message.seq > before).order_by(Message.seq)
            )
        )
    assert last == before + 3
    assert [tuple(e) for e in events] == [
        (seq, "message.posted") for seq in range(before + 1, last + 1)
    ]
    assert bodies == ["un", "deux", "trois"]


async def test_slow_mode_counts_a_message_earlier_in_the_batch(
    server: LiveServer, world: World, write_batch: WriteBatch
) -> None:
    db = server.state.db
    async with db.transaction() as session:
        access = await access_room(session, world.id("copilote"), world.group_room)
        await moderation.check_slow_mode(session, access, seconds=30)
    requests = await _requests(
        db,
        world,
        ("marie", "premier", "m-1"),
        ("marie", "trop tôt", "m-2"),
        ("paul", "à mon tour", "p-1"),
        ("copilote", "les copilotes ne sont pas ralentis", "c-1"),
        ("copilote", "vraiment pas", "c-2"),
    )
    results = await write_batch(db, requests)
    first, second, paul, cop1, cop2 = results
    assert isinstance(second, SlowMode)
    assert second.data["retry_after"] == 30
    assert all(isinstance(r, Posted) for r in (first, paul, cop1, cop2))


async def test_concurrent_senders_share_transactions_and_lose_nothing(
    server: LiveServer, world: World
) -> None:
    """Twenty sockets send at once, five messages each: every message is acknowledged
    once with its own position, and everybody receives all of them in order."""
    room = world.group_room
    people = ["marie", "paul", "elodie", "copilote", "rapporteur"]
    clients = [
        await ProtocolClient.connect(server.ws_url, world.cookies[people[i % len(people)]])
        for i in range(20)
    ]
    for client in clients:
        await client.subscribe(room)
    poster, db = server.state.poster, server.state.db
    batches: list[int] = []
    real_write_batch, real_write_now = poster._write_batch, db.write_now

    async def counting(requests: list[PostRequest]) -> list[Posted | RoomsError]:
        results = await real_write_batch(requests)
        batches.append(sum(isinstance(r, Posted) for r in results))
        return results

    def counting_now(*args: Any) -> Any:
        # A send written in its own task (server/posting.py: one per turn of the loop).
        written = real_write_now(*args)
        if written is not None:
            batches.append(sum(isinstance(r, Posted) for r in written[0]))
        return written

    poster._write_batch = counting  # type: ignore[method-assign]
    db.write_now = counting_now  # type: ignore[method-assign]
    try:

        async def burst(client: ProtocolClient, n: int) -> list[dict]:
            return [await client.post(room, f"message {n}.{k}") for k in range(5)]

        acks = [
            a
            for batch in await asyncio.gather(*(burst(c, n) for n, c in enumerate(clients)))
            for a in batch
        ]
    finally:
        poster._write_batch = real_write_batch  # type: ignore[method-assign]
        del db.write_now
    assert [a["type"] for a in acks] == ["ack"] * 100
    seqs = sorted(a["seq"] for a in acks)
    assert seqs == list(range(seqs[0], seqs[0] + 100))
    assert len({a["message_id"] for a in acks}) == 100
    # Fewer transactions than messages: senders waiting while a batch was written went
    # in together (and no batch failed over to one message per transaction).
    assert sum(batches) == 100
    assert len(batches) < 100
    for client in clients:
        await client.wait_event(room, seqs[-1])
        got = [e["seq"] for e in client.events(room, frozenset({"message.posted"}))]
        assert got == seqs
        await client.close()


async def test_two_processes_committing_the_same_client_id_answer_one_message(
    server: LiveServer, world: World, database_url: str
) -> None:
    """The unique index refuses the second commit; its batch is written again one message
    at a time, and the resend answers with the first message."""
    other = Database(make_engine(database_url), server.state.broker)
    try:
        first, second = Poster(server.state.db), Poster(other)
        client_id = uuid.uuid4().hex
        (in_group,) = await _requests(server.state.db, world, ("marie", "ici", client_id))
        async with other.read() as session:
            in_chantier = PostRequest(
                await access_room(session, world.id("marie"), world.chantier_room),
                topic="Sujet",
                source="là",
                client_id=client_id,
            )
        a, b = await asyncio.gather(first.post(in_group), second.post(in_chantier))
        assert a.message_id == b.message_id
        assert sorted([a.duplicate, b.duplicate]) == [False, True]
        async with other.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(Message).where(Message.client_id == client_id)
            )
        assert count == 1
    finally:
        await other.dispose()


async def test_a_refused_send_is_an_error_frame(server: LiveServer, world: World) -> None:
    louise = await ProtocolClient.connect(server.ws_url, world.cookies["observer"])
    refused = await louise.post(world.group_room, "je voudrais dire")
    assert refused["type"] == "error"
    assert refused["code"] == "forbidden"
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    assert (await marie.post(world.group_room, "   "))["code"] == "invalid_input"
    for c in (louise, marie):
        await c.close()


async def test_each_backend_writes_through_its_driver(
    server: LiveServer, world: World, database_url: str
) -> None:
    """An SQLite file is written by ``Database.sqlite_writer``; PostgreSQL through asyncpg."""
    db = server.state.db
    assert (db.sqlite_writer is not None) == database_url.startswith("sqlite")
    assert db.asyncpg == database_url.startswith("postgresql+asyncpg")


async def test_a_batch_that_cannot_be_written_is_written_one_by_one(
    server: LiveServer, world: World
) -> None:
    """A room deleted after its access was read fails the whole batch; the other messages
    are then written one per transaction, and that sender gets the failure."""
    db = server.state.db
    kept, gone = await _requests(db, world, ("marie", "reste", "m-1"), ("paul", "perdu", "p-1"))
    async with db.transaction() as session:
        chantier = await access_room(session, world.id("rapporteur"), world.chantier_room)
    orphan = PostRequest(chantier, topic="Sujet", source="dans le vide", client_id="r-1")
    async with db.transaction() as session:
        await session.execute(delete(Room).where(Room.id == world.chantier_room))
    poster = Poster(db)
    try:
        results = await asyncio.gather(
            *(poster.post(r) for r in (kept, orphan, gone)), return_exceptions=True
        )
    finally:
        await poster.stop()
    first, failed, second = results
    assert isinstance(first, Posted)
    assert isinstance(second, Posted)
    assert isinstance(failed, Exception)
    assert not isinstance(failed, RoomsError)
    assert second.seq == first.seq + 1


async def test_the_live_frame_is_what_history_and_catch_up_give(
    server: LiveServer, world: World
) -> None:
    """What the writer stores (dates, reply, mentions, rendered HTML) reads back through
    the ORM exactly as the live frame carried it."""
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    await marie.subscribe(room)
    parent = await marie.post(room, "Première **idée**")
    reply = await marie.post(
        room, "Oui @**Paul Sicard**, voir www.laregion.fr", reply_to=parent["message_id"]
    )
    live = (await marie.wait_event(room, reply["seq"]))["message"]
    assert live["reply_to"]["id"] == parent["message_id"]
    assert live["mentions"] == [world.id("paul")]
    paul_id = world.id("paul")
    assert f'data-user-id="{paul_id}"' in live["html"]
    assert live["created_at"].endswith("Z")
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies["marie"]}
    ) as http:
        page = (await http.get(f"/api/rooms/{room}/messages")).json()
    (stored,) = [m for m in page["messages"] if m["id"] == reply["message_id"]]
    assert stored == live
    later = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await later.subscribe(room, after_seq=parent["seq"] - 1)
    replayed = await later.wait_event(room, reply["seq"])
    assert replayed["message"] == live
    for client in (marie, later):
        await client.close()


async def test_a_batch_over_several_rooms_moves_each_position_once(
    server: LiveServer, world: World, write_batch: WriteBatch
) -> None:
    """Messages to two rooms, interleaved: each room's positions follow on without a gap,
    in the order sent."""
    db = server.state.db
    rooms = (world.group_room, world.chantier_room)
    async with db.read() as session:
        access = {r: await access_room(session, world.id("rapporteur"), r) for r in rooms}
        before = {r: await session.scalar(select(Room.last_seq).where(Room.id == r)) for r in rooms}
    order = [world.chantier_room, world.group_room, world.chantier_room, world.group_room]
    requests = [
        PostRequest(access[r], topic="Sujet", source=f"n° {i}", client_id=f"multi-{i}")
        for i, r in enumerate(order)
    ]
    results = await write_batch(db, requests)
    assert all(isinstance(r, Posted) for r in results)
    got = [(r.room_id, r.seq) for r in results if isinstance(r, Posted)]
    chantier, group = before[world.chantier_room], before[world.group_room]
    assert got == [
        (world.chantier_room, chantier + 1),
        (world.group_room, group + 1),
        (world.chantier_room, chantier + 2),
        (world.group_room, group + 2),
    ]
    async with db.read() as session:
        for room in rooms:
            assert await session.scalar(select(Room.last_seq).where(Room.id == room)) == (
                before[room] + 2
            )
