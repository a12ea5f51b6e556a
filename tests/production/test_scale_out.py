"""Several Atelier processes sharing PostgreSQL and Redis, as in production.

Each test runs real ``atelier run`` processes on a fresh database with its own broker
prefix and speaks to them over WebSockets. What must hold whatever Redis does: a member
receives every room event once, in ``seq`` order, without gaps — the broker is only a
doorbell and the hubs repair from the database (``server/hub.py``).
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from rooms.events import MESSAGE_POSTED
from tests.production.cluster import MARIE, PAUL, post_unpublished
from tests.production.wsclient import ChatClient

pytestmark = pytest.mark.production


def assert_stream(client: ChatClient, room_id: int, first_seq: int, bodies: list[str]) -> None:
    """``client`` received exactly ``bodies`` as the room's events from ``first_seq`` on:
    each once, in order, positions contiguous."""
    events = client.room_events(room_id)
    seqs = [e["seq"] for e in events]
    expected = list(range(first_seq, first_seq + len(bodies)))
    if seqs != expected:
        duplicates = sorted({s for s in seqs if seqs.count(s) > 1})
        missing = sorted(set(expected) - set(seqs))
        disorder = [(a, b) for a, b in itertools.pairwise(seqs) if b <= a][:5]
        pytest.fail(
            f"{client.name}: {len(seqs)} events for {len(expected)} expected; "
            f"duplicates {duplicates[:10]}, missing {missing[:10]}, out of order {disorder}"
        )
    assert all(e["type"] == MESSAGE_POSTED for e in events)
    assert [e["message"]["source"] for e in events] == bodies


async def barrier(sender: ChatClient, receivers: list[ChatClient], room_id: int, body: str) -> None:
    """``sender`` posts ``body``; returns once every client has it. A feed is ordered, so
    nothing older can arrive at a receiver after this."""
    await sender.request("send", room_id=room_id, topic="Fin", body=body, client_id=body)
    for client in (sender, *receivers):
        await client.wait_posted(room_id, body, timeout=15)


async def test_two_instances_share_rooms_in_order_exactly_once(
    shared_redis_url, start_atelier, room, connect
):
    a, b = await start_atelier(shared_redis_url)
    marie = await connect(a, MARIE, "marie@A")
    paul = await connect(b, PAUL, "paul@B")
    await marie.subscribe(room.room_id)
    start = (await paul.subscribe(room.room_id))["seq"]

    # Presence crosses processes: Marie, on A, sees Paul, connected to B. (At once; the
    # timeout covers one presence heartbeat, should A have subscribed after B announced.)
    await marie.wait_for(
        lambda f: (
            f["type"] == "presence"
            and f["room_id"] == room.room_id
            and room.paul_id in {u["id"] for u in f["users"]}
        ),
        timeout=30,
        what="presence frame listing Paul",
    )

    bodies = [f"marie {i:03d}" for i in range(200)]
    acks = await marie.post_many(room.room_id, bodies, in_flight=20)
    assert [ack["seq"] for ack in acks] == list(range(start + 1, start + 201))
    await paul.wait_until(
        lambda: len(paul.room_events(room.room_id)) >= 200, timeout=20, what="200 messages"
    )

    # And the other way round: Paul's message, written through B, reaches Marie on A.
    await barrier(paul, [marie], room.room_id, "paul 000")
    assert_stream(paul, room.room_id, start + 1, [*bodies, "paul 000"])
    assert_stream(marie, room.room_id, start + 1, [*bodies, "paul 000"])


async def test_concurrent_writers_on_two_instances_see_one_order(
    shared_redis_url, start_atelier, room, connect
):
    # Both write at once: each hub gets its own events at once and the other's later
    # through Redis, so it keeps meeting gaps it must fill from the database.
    a, b = await start_atelier(shared_redis_url)
    marie = await connect(a, MARIE, "marie@A")
    paul = await connect(b, PAUL, "paul@B")
    await marie.subscribe(room.room_id)
    start = (await paul.subscribe(room.room_id))["seq"]

    from_marie = [f"marie {i:03d}" for i in range(100)]
    from_paul = [f"paul {i:03d}" for i in range(100)]
    await asyncio.gather(
        marie.post_many(room.room_id, from_marie, in_flight=10),
        paul.post_many(room.room_id, from_paul, in_flight=10),
    )
    await barrier(marie, [paul], room.room_id, "marie fin")

    # One order for everybody: contiguous, each event once, the same on both instances.
    bodies = [e["message"]["source"] for e in paul.room_events(room.room_id)]
    assert_stream(paul, room.room_id, start + 1, bodies)
    assert_stream(marie, room.room_id, start + 1, bodies)
    assert marie.room_events(room.room_id) == paul.room_events(room.room_id)
    assert [b for b in bodies if b.startswith("marie")] == [*from_marie, "marie fin"]
    assert [b for b in bodies if b.startswith("paul")] == from_paul


async def test_redis_restart_mid_stream_loses_nothing(own_redis, start_atelier, room, connect):
    a, b = await start_atelier(own_redis.url, poll_secs=1)
    await own_redis.wait_subscribers(2)
    marie = await connect(a, MARIE, "marie@A")
    paul = await connect(b, PAUL, "paul@B")
    await marie.subscribe(room.room_id)
    start = (await paul.subscribe(room.room_id))["seq"]

    # Messages 1-100 go out with Redis up; Redis is SIGKILLed after the 100th ack, with
    # up to 20 sends in flight; 101-200 go out while it is down; 201-300 once it is back
    # (while the brokers are still reconnecting).
    bodies = [f"marie {i:03d}" for i in range(300)]
    hundred, restarted = asyncio.Event(), asyncio.Event()

    def acked(n: int) -> None:
        if n == 100:
            hundred.set()

    async def before_send(index: int) -> None:
        if index == 200:
            await restarted.wait()

    sending = asyncio.create_task(
        marie.post_many(room.room_id, bodies, on_ack=acked, before_send=before_send, timeout=60)
    )
    async with asyncio.timeout(20):
        await hundred.wait()
    own_redis.kill()
    await asyncio.sleep(1)  # Redis stays down for a second (waiting on a process)
    await own_redis.start()
    restarted.set()
    acks = await sending
    assert [ack["seq"] for ack in acks] == list(range(start + 1, start + 301))
    # Sends are acknowledged at once even while Redis is away: a failed publish is not
    # retried (the hubs repair from the database), so no ack waits for Redis to return.
    slowest = max(marie.ack_latencies)
    assert slowest < 2, f"an ack took {slowest:.1f}s while Redis was down"

    await paul.wait_until(
        lambda: len(paul.room_events(room.room_id)) >= 300, timeout=30, what="300 messages"
    )
    await barrier(paul, [marie], room.room_id, "paul 000")
    assert_stream(paul, room.room_id, start + 1, [*bodies, "paul 000"])
    assert_stream(marie, room.room_id, start + 1, [*bodies, "paul 000"])


async def test_lost_publishes_are_repaired_after_resubscribing(
    own_redis, start_atelier, room, connect, pg_url
):
    # No polling: only the broker (a later event revealing a gap, or RESYNC after the
    # subscription was lost) can bring a message whose publish went missing.
    a, b = await start_atelier(own_redis.url, poll_secs=3600)
    await own_redis.wait_subscribers(2)
    marie = await connect(a, MARIE, "marie@A")
    paul = await connect(b, PAUL, "paul@B")
    await marie.subscribe(room.room_id)
    start = (await paul.subscribe(room.room_id))["seq"]

    # A committed event whose publish is lost, and nothing after it to reveal the gap.
    lost = "marie lost"
    assert await post_unpublished(pg_url, room.marie_id, room.room_id, lost) == start + 1
    assert paul.room_events(room.room_id) == []
    # Redis drops every subscriber; when B's broker subscribes again it must resync.
    assert await own_redis.command("CLIENT", "KILL", "TYPE", "pubsub") >= 2
    await paul.wait_posted(room.room_id, lost, timeout=15)

    # Subscriptions dropped again and again while Marie streams through A.
    bodies = [f"marie {i:03d}" for i in range(150)]
    kills: list[asyncio.Task[object]] = []

    def acked(n: int) -> None:
        if n in (30, 60, 90, 120):
            kills.append(asyncio.create_task(own_redis.command("CLIENT", "KILL", "TYPE", "pubsub")))

    await marie.post_many(room.room_id, bodies, in_flight=20, on_ack=acked)
    await asyncio.gather(*kills)
    await paul.wait_until(
        lambda: len(paul.room_events(room.room_id)) >= 151, timeout=15, what="151 messages"
    )
    await barrier(paul, [marie], room.room_id, "paul 000")
    assert_stream(paul, room.room_id, start + 1, [lost, *bodies, "paul 000"])
    assert_stream(marie, room.room_id, start + 1, [lost, *bodies, "paul 000"])


async def test_resume_on_another_instance(shared_redis_url, start_atelier, room, connect):
    a, b = await start_atelier(shared_redis_url)
    marie = await connect(a, MARIE, "marie@A")
    paul = await connect(b, PAUL, "paul@B")
    start = (await paul.subscribe(room.room_id))["seq"]

    first = [f"marie {i:03d}" for i in range(20)]
    await marie.post_many(room.room_id, first)
    await paul.wait_until(
        lambda: len(paul.room_events(room.room_id)) >= 20, what="the first 20 messages"
    )
    assert_stream(paul, room.room_id, start + 1, first)
    seen = paul.room_events(room.room_id)[-1]["seq"]
    await paul.close()

    missed = [f"marie {i:03d}" for i in range(20, 70)]
    await marie.post_many(room.room_id, missed)

    # Paul comes back through the other process, resuming where he stopped.
    paul_again = await connect(a, PAUL, "paul@A")
    live = await paul_again.subscribe(room.room_id, after_seq=seen)
    assert live["seq"] == seen + 50
    assert_stream(paul_again, room.room_id, seen + 1, missed)
    # The replay comes first, then ``live``; no ``reset`` (the log covers the gap).
    kinds = [f["type"] for f in paul_again.frames]
    assert "reset" not in kinds
    assert kinds.index("live") > max(
        i for i, f in enumerate(paul_again.frames) if f["type"] == MESSAGE_POSTED
    )
