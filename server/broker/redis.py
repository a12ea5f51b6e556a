"""Redis pub/sub broker: several Atelier processes share rooms through one Redis.

Messages go out as ``<instance>\\n<message>`` on ``<prefix><channel>``; each process
delivers its own messages locally at publish time and skips them when Redis echoes them
back, so local delivery does not depend on Redis being up. The listener pattern-subscribes
to ``<prefix>*`` and reconnects with backoff; after a reconnection it yields ``RESYNC``.

Publishing does not wait for Redis: messages join an outgoing list that one task sends
in pipelines, in order, over one connection. A commit's events thus cost one round trip
together, not one each (nor a pooled connection each: 500 members joining at once used
to exhaust the pool). What Redis does not take is logged and dropped; the other
processes find it in the database (the broker is a doorbell).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.broker.base import RESYNC
from server.broker.memory import MemoryBroker

log = logging.getLogger(__name__)

RECONNECT_MAX_SECS = 2.0
PIPELINE_MAX = 500
# Beyond this many messages waiting (Redis away), the oldest are dropped.
OUTGOING_LIMIT = 100_000


class RedisBroker:
    def __init__(self, url: str, prefix: str = "atelier:") -> None:
        self._url = url
        self._prefix = prefix
        self._instance = uuid.uuid4().hex[:12]
        self._local = MemoryBroker()
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._outgoing: collections.deque[tuple[str, str]] = collections.deque()
        self._writer: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def connect(self) -> None:
        # No silent retries: a failed publish must fail fast (the database repairs it) and
        # a dropped subscription must surface, so that the reader reconnects and RESYNCs.
        self._client = aioredis.from_url(
            self._url,
            socket_connect_timeout=2,
            socket_timeout=None,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 0),
        )
        self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")

    async def disconnect(self) -> None:
        if self._writer is not None:
            # What is already published goes out before the connection closes.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._writer), 2.0)
            self._writer.cancel()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
        await self._local.disconnect()
        if self._client is not None:
            await self._client.aclose()

    async def publish(self, channel: str, message: str) -> None:
        self._local.deliver(channel, message)
        assert self._client is not None, "publish() before connect()"  # noqa: S101
        if len(self._outgoing) >= OUTGOING_LIMIT:
            self._outgoing.popleft()
        self._outgoing.append((self._prefix + channel, f"{self._instance}\n{message}"))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="redis-broker-writer")

    async def _write(self) -> None:
        """Send the outgoing messages in pipelines until none is left."""
        assert self._client is not None  # noqa: S101
        outgoing = self._outgoing
        while outgoing:
            batch = [outgoing.popleft() for _ in range(min(len(outgoing), PIPELINE_MAX))]
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning(
                    "Redis publish of %d messages failed (%s); peers will resync", len(batch), exc
                )

    def listen(self) -> AsyncIterator[tuple[str, str]]:
        return self._local.listen()

    async def _read_forever(self) -> None:
        """Relay Redis messages from other instances into the local fan-out, forever."""
        assert self._client is not None  # noqa: S101
        delay = 0.1
        first = True
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self.connected.set()
                if not first:
                    log.info("Redis broker reconnected; asking hubs to resync")
                    self._local.deliver(RESYNC, "")
                first, delay = False, 0.1
                async for item in pubsub.listen():
                    if item["type"] != "pmessage":
                        continue
                    self._relay(item["channel"], item["data"])
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("Redis broker connection lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECS)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass

    def _relay(self, raw_channel: bytes, raw: bytes) -> None:
        instance, _, message = raw.decode().partition("\n")
        if instance == self._instance:
            return
        self._local.deliver(raw_channel.decode()[len(self._prefix) :], message)
