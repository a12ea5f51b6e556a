"""Group commit of messages: one transaction for a batch, each sender answered on its own."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from rooms.access import access_room
from rooms.actions import moderation
from rooms.actions.messages import Posted, PostRequest, check_post_many
from rooms.errors import InvalidInput, Muted, SlowMode
from rooms.models import Message, Room, RoomEvent
from server.database import Database, make_engine
from server.posting import Poster
from tests.conftest import LiveServer
from tests.factories import World
from tests.wsclient import ProtocolClient


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


async def test_a_batch_posts_each_request_or_says_why_not(server: LiveServer, world: World) -> None:
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
    async with db.transaction() as session:
        results = await check_post_many(session, requests)
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
    server: LiveServer, world: World
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
    async with db.transaction() as session:
        results = await check_post_many(session, requests)
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
    commits = 0
    real_transaction = server.state.db.transaction

    def counting_transaction():  # type: ignore[no-untyped-def]
        nonlocal commits
        commits += 1
        return real_transaction()

    server.state.db.transaction = counting_transaction  # type: ignore[method-assign]
    try:

        async def burst(client: ProtocolClient, n: int) -> list[dict]:
            return [await client.post(room, f"message {n}.{k}") for k in range(5)]

        acks = [
            a
            for batch in await asyncio.gather(*(burst(c, n) for n, c in enumerate(clients)))
            for a in batch
        ]
    finally:
        server.state.db.transaction = real_transaction  # type: ignore[method-assign]
    assert [a["type"] for a in acks] == ["ack"] * 100
    seqs = sorted(a["seq"] for a in acks)
    assert seqs == list(range(seqs[0], seqs[0] + 100))
    assert len({a["message_id"] for a in acks}) == 100
    # Fewer transactions than messages: senders waiting while a batch was written went
    # in together.
    assert commits < 100
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
