"""Brokers by URL: ``""``/``memory://`` in-process, ``redis://`` for several processes."""

from __future__ import annotations

from server.broker.base import RESYNC, Broker


def create_broker(url: str, prefix: str = "atelier:") -> Broker:
    """Pick the implementation from the URL scheme, importing redis only when needed."""
    if not url or url.startswith("memory://"):
        from server.broker.memory import MemoryBroker

        return MemoryBroker()
    if url.startswith(("redis://", "rediss://")):
        from server.broker.redis import RedisBroker

        return RedisBroker(url, prefix)
    raise ValueError(f"unsupported broker URL: {url!r}")


__all__ = ["RESYNC", "Broker", "create_broker"]
