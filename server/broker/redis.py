"""Redis pub/sub broker: several Atelier processes share rooms through one Redis.

Every process hears every channel (each hub sorts what it hears), so the broker's
channels need not be Redis channels: what waits to go out is packed into one ``PUBLISH``
on the single channel ``<prefix>bus``, as ``<instance>`` followed by the JSON list of
``[channel, message]`` pairs (encoded by ``orjson``, as every frame: finding 42). A
commit's events, or all the events of a busy moment, thus cost Redis, the sender and each
listener one message, not one each: through redis-py a publish and its echo cost about
100 µs of CPU, which at 500 messages/s was a quarter of a process's samples
(docs/performance.md, finding 20).

Each process delivers its own messages locally at publish time and skips its own
payloads when Redis echoes them back (by their first bytes, without decoding them), so
local delivery does not depend on Redis being up. The listener reconnects with backoff;
after a reconnection it yields ``RESYNC``.

Publishing does not wait for Redis: messages join an outgoing list that one task sends,
in order, over one connection. What Redis does not take is logged and dropped; the other
processes find it in the database (the broker is a doorbell).

A process alone on the bus publishes nothing: Redis answers each ``PUBLISH`` with the
number of subscribers it reached, and when that is only this process's own, nobody would
hear. Its messages are then kept for ``REPLAY_SECS`` instead. A process says hello (an
empty payload) each time it subscribes, and one that is alone probes so at most every
``PROBE_SECS`` while it has messages: when another process is heard, or counted, the
kept messages of the last ``REPLAY_SECS`` are sent first, so one that arrived meanwhile
misses no doorbell. A single process with ``REDIS_URL`` thus costs Redis nothing (a
sixth of its CPU at 500 messages/s: docs/performance.md, finding 27).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.broker.base import RESYNC, Handler
from server.broker.memory import MemoryBroker

log = logging.getLogger(__name__)

RECONNECT_MAX_SECS = 2.0
INSTANCE_CHARS = 12
# One payload carries at most this many messages, or stops growing past this many
# characters (Redis's default output limit for a subscriber is 8 MB over 60 s).
PACK_MAX_MESSAGES = 2_000
PACK_MAX_CHARS = 1_000_000
# Beyond this many messages waiting (Redis away), the oldest are dropped.
OUTGOING_LIMIT = 100_000
# Alone on the bus: what is kept back for a process that arrives, and how often a
# process with messages asks Redis again whether anyone listens.
REPLAY_SECS = 10.0
PROBE_SECS = 1.0


class RedisBroker:
    def __init__(self, url: str, prefix: str = "atelier:") -> None:
        self._url = url
        self._instance = uuid.uuid4().hex[:INSTANCE_CHARS]
        self._bus = prefix + "bus"
        self._own = self._instance.encode()
        self._local = MemoryBroker()
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._outgoing: collections.deque[list[str]] = collections.deque()
        self._writer: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        # Nobody else subscribed at the last count: publish nothing, keep it a while.
        self.alone = False
        self._kept: collections.deque[tuple[float, list[str]]] = collections.deque(
            maxlen=OUTGOING_LIMIT
        )
        self._probe_at = 0.0
        self._hello = False  # an empty payload is due (subscribed, or probing)

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
        self.publish_now(channel, message)

    def publish_now(self, channel: str, message: str) -> None:
        self._local.deliver(channel, message)
        assert self._client is not None, "publish() before connect()"  # noqa: S101
        if self.alone:
            now = time.monotonic()
            kept = self._kept
            kept.append((now, [channel, message]))
            while kept[0][0] < now - REPLAY_SECS:  # only the last seconds are worth keeping
                kept.popleft()
            if now < self._probe_at:
                return
            self._probe_at = now + PROBE_SECS
            self._hello = True
        else:
            if len(self._outgoing) >= OUTGOING_LIMIT:
                self._outgoing.popleft()
            self._outgoing.append([channel, message])
        self._start_writer()

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="redis-broker-writer")

    async def _write(self) -> None:
        """Send what waits, packed into as few publishes as the limits allow (an empty
        payload for a hello), and count who hears it."""
        assert self._client is not None  # noqa: S101
        outgoing = self._outgoing
        while outgoing or self._hello:
            self._hello = False
            batch: list[list[str]] = []
            size = 0
            while outgoing and len(batch) < PACK_MAX_MESSAGES and size < PACK_MAX_CHARS:
                item = outgoing.popleft()
                size += len(item[1])
                batch.append(item)
            try:
                heard = await self._client.publish(self._bus, self._own + orjson.dumps(batch))
            except (RedisError, OSError) as exc:
                log.warning(
                    "Redis publish of %d messages failed (%s); peers will resync", len(batch), exc
                )
                continue
            # Our own subscription is one of those Redis counted, when it is up.
            others = int(heard) - (1 if self.connected.is_set() else 0)
            if others > 0:
                self._not_alone()
            elif not self.alone:
                self.alone = True
                self._probe_at = time.monotonic() + PROBE_SECS

    def _not_alone(self) -> None:
        """Another process listens: what was kept back while alone goes out first."""
        if not self.alone:
            return
        self.alone = False
        since = time.monotonic() - REPLAY_SECS
        kept = [item for at, item in self._kept if at >= since]
        self._kept.clear()
        self._outgoing.extendleft(reversed(kept))
        if self._outgoing:
            self._start_writer()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        return self._local.subscribe(handler)

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
                await pubsub.subscribe(self._bus)
                self.connected.set()
                if not first:
                    log.info("Redis broker reconnected; asking hubs to resync")
                    self._local.deliver(RESYNC, "")
                first, delay = False, 0.1
                async for item in pubsub.listen():
                    if item["type"] == "message":
                        self._relay(item["data"])
                    elif item["type"] == "subscribe":
                        # Redis counts us from now on: a hello tells the others someone
                        # listens, and its answer counts them.
                        self._hello = True
                        self._start_writer()
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

    def _relay(self, raw: bytes) -> None:
        if raw.startswith(self._own):
            return
        self._not_alone()
        try:
            pairs = [
                (str(channel), str(message))
                for channel, message in orjson.loads(raw[INSTANCE_CHARS:])
            ]
        except (ValueError, TypeError):
            log.warning("Unreadable payload on %s ignored", self._bus)
            return
        deliver = self._local.deliver
        for channel, message in pairs:
            deliver(channel, message)
