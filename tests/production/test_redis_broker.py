"""The Redis broker against the machine's Redis: what one process publishes reaches the
others once, in order, packed into few Redis messages; its own echo is not delivered
twice; other installations (prefixes) and garbage on the bus are not heard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from server.broker.redis import RedisBroker
from tests.services import redis_prefix, redis_url


async def _started(url: str, prefix: str) -> RedisBroker:
    broker = RedisBroker(url, prefix)
    await broker.connect()
    await asyncio.wait_for(broker.connected.wait(), 5)
    return broker


class _Heard:
    """What one broker's listener delivered, collected by a task."""

    def __init__(self, broker: RedisBroker) -> None:
        self.items: list[tuple[str, str]] = []
        self._stream = broker.listen()
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for item in self._stream:
            self.items.append(item)

    async def started(self) -> _Heard:
        await asyncio.sleep(0.05)  # the listener's queue exists once its task has run
        return self

    async def until(self, count: int, timeout: float = 10) -> list[tuple[str, str]]:
        async def enough() -> None:
            while len(self.items) < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(enough(), timeout)
        return self.items

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def url() -> str:
    return redis_url()


@pytest.fixture
async def raw(url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(url)
    yield client
    await client.aclose()


async def test_a_burst_reaches_the_other_process_once_in_order_in_few_redis_messages(
    url: str, raw: aioredis.Redis
) -> None:
    prefix = redis_prefix()
    spy = raw.pubsub()
    await spy.subscribe(prefix + "bus")
    a, b = await _started(url, prefix), await _started(url, prefix)
    heard_a, heard_b = await _Heard(a).started(), await _Heard(b).started()
    sent = [
        (f"room:{n % 7}:{n}", json.dumps({"n": n, "body": "ligne\nsuivante «é» \x00 ✓"}))
        for n in range(3000)
    ]
    try:
        for channel, message in sent:
            await a.publish(channel, message)
        assert await heard_b.until(3000) == sent
        await asyncio.sleep(0.3)  # A's echo has come back by now
        assert heard_a.items == sent, "A delivers its own messages once, not again on the echo"
        assert len(heard_b.items) == 3000
        packed = 0
        while (item := await spy.get_message(timeout=0.2)) is not None:
            packed += item["type"] == "message"
        assert 1 <= packed <= 10, f"3000 messages went out as {packed} Redis messages"
    finally:
        await heard_a.close()
        await heard_b.close()
        await spy.aclose()
        await a.disconnect()
        await b.disconnect()


async def test_other_prefixes_and_garbage_are_not_heard(url: str, raw: aioredis.Redis) -> None:
    prefix = redis_prefix()
    a, b = await _started(url, prefix), await _started(url, redis_prefix())
    heard_a = await _Heard(a).started()
    try:
        await b.publish("room:1:1", "another installation")
        for junk in (b"x", b"0123456789ab{", b"0123456789ab[1, 2]", b"0123456789ab[[1]]"):
            await raw.publish(prefix + "bus", junk)
        await raw.publish(
            prefix + "bus", b"0123456789ab" + json.dumps([["room:2:1", "ok"]]).encode()
        )
        assert await heard_a.until(1) == [("room:2:1", "ok")]
        await asyncio.sleep(0.2)
        assert heard_a.items == [("room:2:1", "ok")]
    finally:
        await heard_a.close()
        await a.disconnect()
        await b.disconnect()


async def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


async def test_a_process_alone_publishes_nothing_and_a_newcomer_misses_nothing(
    url: str, raw: aioredis.Redis
) -> None:
    """Alone on the bus (Redis counts only its own subscription), a process keeps its
    messages instead of publishing them; when another process subscribes, its hello
    brings the last seconds' messages out first, then the new ones, in order."""
    prefix = redis_prefix()
    a = await _started(url, prefix)
    b: RedisBroker | None = None
    try:
        await _until(lambda: a.alone)  # its hello reached nobody else
        before = [(f"room:1:{n}", f"avant {n}") for n in range(1, 4)]
        for channel, message in before:
            await a.publish(channel, message)
        await asyncio.sleep(0.2)
        assert a.alone
        assert len(a._outgoing) == 0, "nothing waits for Redis"
        b = await _started(url, prefix)
        heard_b = await _Heard(b).started()
        await _until(lambda: not a.alone)  # B's hello was heard
        after = [(f"room:1:{n}", f"après {n}") for n in range(4, 6)]
        for channel, message in after:
            await a.publish(channel, message)
        assert await heard_b.until(5) == before + after
        await heard_b.close()
    finally:
        await a.disconnect()
        if b is not None:
            await b.disconnect()


async def test_a_process_whose_peers_left_stops_publishing(url: str) -> None:
    prefix = redis_prefix()
    a, b = await _started(url, prefix), await _started(url, prefix)
    try:
        await _until(lambda: not a.alone and not b.alone)
        await b.disconnect()
        for n in range(1, 100):  # until Redis has dropped B's subscription and says so
            await a.publish(f"room:1:{n}", "personne")
            await asyncio.sleep(0.05)
            if a.alone:
                break
        assert a.alone
        await a.publish("room:1:100", "toujours personne")
        await asyncio.sleep(0.1)
        assert a.alone
        assert len(a._outgoing) == 0
    finally:
        await a.disconnect()


async def test_a_process_alone_keeps_only_the_last_seconds(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a lone process keeps for a newcomer is bounded by age, not only by count:
    a process alone for days holds seconds of messages, not days."""
    monkeypatch.setattr("server.broker.redis.REPLAY_SECS", 0.2)
    a = await _started(url, redis_prefix())
    try:
        await _until(lambda: a.alone)
        for n in range(1, 51):
            await a.publish(f"room:1:{n}", "ancien")
        await asyncio.sleep(0.3)
        await a.publish("room:1:51", "récent")
        assert [item for _, item in a._kept] == [["room:1:51", "récent"]]
    finally:
        await a.disconnect()
