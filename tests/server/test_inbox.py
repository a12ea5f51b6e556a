"""The hubs' side of the broker (server/broker/inbox.py): messages handled at once in the
publisher's turn, the ones that must wait for the database handled in a task, and every
message still seen in the broker's order; an overflow becomes a RESYNC, a failing handler
is logged and does not stop the others. Then the same through the live server: a member's
message reaches the room's sockets in the commit's own turn of the loop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from rooms.actions.messages import Posted, PostRequest
from server.broker import RESYNC
from server.broker.inbox import Inbox
from server.broker.memory import MemoryBroker
from tests.conftest import LiveServer
from tests.factories import World
from tests.wsclient import ProtocolClient


async def _drained(inbox: Inbox) -> None:
    for _ in range(100):
        if not inbox.busy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the inbox never drained")


class _Consumer:
    """Handles ``fast:*`` at once; ``slow:*`` waits for ``release`` (the database)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []  # (how, channel, message)
        self.release = asyncio.Event()

    def now(self, channel: str, message: str) -> bool:
        if channel.startswith("boom"):
            raise RuntimeError("handler bug")
        if channel.startswith("fast"):
            self.seen.append(("now", channel, message))
            return True
        return False

    async def later(self, channel: str, message: str) -> None:
        if channel.startswith("slow"):
            await self.release.wait()
        self.seen.append(("later", channel, message))


async def test_messages_that_need_nothing_are_handled_in_the_publishers_turn() -> None:
    consumer = _Consumer()
    broker = MemoryBroker()
    broker.subscribe(Inbox(consumer.now, consumer.later, name="test"))
    await broker.publish("fast:1", "a")
    await broker.publish("fast:1", "b")
    # No turn of the loop in between: already handled, in order.
    assert consumer.seen == [("now", "fast:1", "a"), ("now", "fast:1", "b")]


async def test_what_arrives_behind_a_waiting_message_keeps_its_place() -> None:
    consumer = _Consumer()
    inbox = Inbox(consumer.now, consumer.later, name="test")
    inbox("fast:1", "a")
    inbox("slow:1", "b")  # needs the database
    inbox("fast:1", "c")  # must not overtake b
    inbox("fast:2", "d")
    assert inbox.busy
    await asyncio.sleep(0.01)
    assert consumer.seen == [("now", "fast:1", "a")]
    consumer.release.set()
    await _drained(inbox)
    assert [(c, m) for _, c, m in consumer.seen] == [
        ("fast:1", "a"),
        ("slow:1", "b"),
        ("fast:1", "c"),
        ("fast:2", "d"),
    ]
    inbox("fast:3", "e")  # the queue drained: back to the immediate path
    assert consumer.seen[-1] == ("now", "fast:3", "e")


async def test_an_overflow_drops_the_rest_and_asks_for_a_resync() -> None:
    consumer = _Consumer()
    inbox = Inbox(consumer.now, consumer.later, name="test", limit=3)
    inbox("slow:1", "held")
    for i in range(10):
        inbox("fast:1", str(i))
    consumer.release.set()
    await _drained(inbox)
    assert [(c, m) for _, c, m in consumer.seen] == [
        ("slow:1", "held"),
        ("fast:1", "0"),
        ("fast:1", "1"),  # three waiting at most, the held one included
        (RESYNC, ""),  # the consumer re-reads what it follows from the database
    ]


async def test_a_failing_handler_is_logged_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = _Consumer(), _Consumer()
    broker = MemoryBroker()
    broker.subscribe(Inbox(first.now, first.later, name="first"))
    broker.subscribe(Inbox(second.now, second.later, name="second"))
    with caplog.at_level(logging.ERROR):
        await broker.publish("boom:1", "x")
        await broker.publish("fast:1", "y")
    assert "could not handle a message on 'boom:1'" in caplog.text
    assert first.seen == second.seen == [("now", "fast:1", "y")]


async def test_unsubscribed_handlers_hear_nothing_more() -> None:
    consumer = _Consumer()
    broker = MemoryBroker()
    unsubscribe = broker.subscribe(Inbox(consumer.now, consumer.later, name="test"))
    await broker.publish("fast:1", "a")
    unsubscribe()
    await broker.publish("fast:1", "b")
    assert [m for _, _, m in consumer.seen] == ["a"]


async def test_a_message_reaches_the_room_in_the_commits_turn(
    server: LiveServer, world: World
) -> None:
    """The hub dispatches a new message while its writer publishes it, in the writer's
    own task: no hub task has to wake up first. On an SQLite file with no write under
    way, the writer is the sender's own task (``Database.write_now``); on PostgreSQL,
    the poster's."""
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    hub, poster = server.state.hub, server.state.poster
    dispatch, post_now = hub._dispatch, poster.post_now
    dispatched_by: list[asyncio.Task[object] | None] = []
    posted_by: list[asyncio.Task[object] | None] = []

    def spy_dispatch(room_id: int, seq: int, frame: str) -> None:
        dispatched_by.append(asyncio.current_task())
        dispatch(room_id, seq, frame)

    def spy_post_now(request: PostRequest) -> Posted | None:
        posted_by.append(asyncio.current_task())
        return post_now(request)

    try:
        await paul.subscribe(room)
        hub._dispatch = spy_dispatch  # type: ignore[method-assign]
        poster.post_now = spy_post_now  # type: ignore[method-assign]
        posted = await marie.post(room, "dans le même tour")
        event = await paul.wait_event(room, posted["seq"])
        assert event["message"]["source"] == "dans le même tour"
        assert len(dispatched_by) == 1
        assert dispatched_by[0] is not None
        if server.state.db.sqlite_writer is not None:
            assert dispatched_by == posted_by
        else:
            assert dispatched_by[0].get_name() == "poster"
    finally:
        del hub._dispatch, poster.post_now
        await marie.close()
        await paul.close()
