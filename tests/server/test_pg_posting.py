"""PostgreSQL's optimistic batch write: the states are read without the rooms' locks, so
a room that another transaction moves between that read and the write must make the
batch read again — never a message written on a stale state, never a gap or a twin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from rooms.access import access_room
from rooms.actions import moderation, pg_posting
from rooms.actions.messages import Posted, PostRequest, check_post_many
from rooms.errors import RoomLocked
from rooms.models import Message, Room, RoomEvent
from server.database import Database
from server.posting import Poster
from tests.conftest import LiveServer
from tests.factories import World

Meanwhile = Callable[[], Awaitable[None]]


@pytest.fixture
def on_postgres(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the optimistic write is PostgreSQL's (SQLite writes under its lock)")


@pytest.fixture
def between_read_and_write(monkeypatch: pytest.MonkeyPatch) -> list[Meanwhile]:
    """Commit the queued writes, one per batch attempt, just before the attempt writes
    (after its states were read); returns the queue."""
    queue: list[Meanwhile] = []
    write = pg_posting._Store.write

    async def write_after_the_others(store: pg_posting._Store) -> None:
        if queue:
            await queue.pop(0)()
        await write(store)

    monkeypatch.setattr(pg_posting._Store, "write", write_after_the_others)
    return queue


async def _post(db: Database, world: World, who: str, body: str, client_id: str) -> Posted:
    async with db.transaction() as session:
        access = await access_room(session, world.id(who), world.group_room)
        (result,) = await check_post_many(
            session, [PostRequest(access, topic="Sujet", source=body, client_id=client_id)]
        )
    assert isinstance(result, Posted)
    return result


async def _send(db: Database, world: World, who: str, body: str) -> Posted | Exception:
    async with db.read() as session:
        access = await access_room(session, world.id(who), world.group_room)
    poster = Poster(db)
    try:
        return await poster.post(PostRequest(access, topic="Sujet", source=body, client_id=body))
    except Exception as exc:
        return exc
    finally:
        await poster.stop()


async def _room(db: Database, room_id: int) -> tuple[int, list[int], list[int]]:
    """The room's position, its messages' positions and its events' positions."""
    async with db.read() as session:
        last = await session.scalar(select(Room.last_seq).where(Room.id == room_id))
        messages = (
            await session.scalars(select(Message.seq).where(Message.room_id == room_id))
        ).all()
        logged = (
            await session.scalars(select(RoomEvent.seq).where(RoomEvent.room_id == room_id))
        ).all()
    return int(last or 0), sorted(messages), sorted(logged)


@pytest.mark.usefixtures("on_postgres")
async def test_a_room_moved_between_read_and_write_is_read_again(
    server: LiveServer, world: World, between_read_and_write: list[Meanwhile]
) -> None:
    db = server.state.db
    before, _, _ = await _room(db, world.group_room)
    between_read_and_write.append(lambda: _post(db, world, "paul", "plus rapide", "p-1"))
    marie = await _send(db, world, "marie", "m-1")
    assert isinstance(marie, Posted)
    assert marie.seq == before + 2, "written after Paul's message, not over its position"
    last, messages, logged = await _room(db, world.group_room)
    assert last == before + 2
    assert messages[-2:] == [before + 1, before + 2]
    assert logged == list(range(1, last + 1)), "one event per position, no gap, no twin"
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.client_id == "m-1")
        )
    assert count == 1


@pytest.mark.usefixtures("on_postgres")
async def test_a_room_locked_between_read_and_write_refuses_the_send(
    server: LiveServer, world: World, between_read_and_write: list[Meanwhile]
) -> None:
    db = server.state.db
    before, _, _ = await _room(db, world.group_room)

    async def lock() -> None:
        async with db.transaction() as session:
            access = await access_room(session, world.id("copilote"), world.group_room)
            await moderation.check_lock(session, access, locked=True)

    between_read_and_write.append(lock)
    refused = await _send(db, world, "marie", "trop tard")
    assert isinstance(refused, RoomLocked)
    last, messages, _ = await _room(db, world.group_room)
    assert last == before + 1, "only the lock's event"
    assert before + 1 not in messages


@pytest.mark.usefixtures("on_postgres")
async def test_a_room_that_keeps_moving_is_written_under_its_lock(
    server: LiveServer, world: World, between_read_and_write: list[Meanwhile]
) -> None:
    db = server.state.db
    before, _, _ = await _room(db, world.group_room)
    for n in range(pg_posting.OPTIMISTIC_ATTEMPTS):
        between_read_and_write.append(lambda n=n: _post(db, world, "paul", f"encore {n}", f"p-{n}"))
    marie = await _send(db, world, "marie", "m-2")
    assert isinstance(marie, Posted)
    assert marie.seq == before + pg_posting.OPTIMISTIC_ATTEMPTS + 1
    assert not between_read_and_write, "every attempt met a moved room"
    last, _, logged = await _room(db, world.group_room)
    assert last == marie.seq
    assert logged == list(range(1, last + 1))
