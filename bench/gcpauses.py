"""Garbage-collector pauses under load: ``python -m bench.gcpauses [--seconds 30]``.

Runs Atelier in this process (uvicorn on a free port, a fresh copy of the full SQLite seed;
run the bench once to build it), records every collection through ``gc.callbacks``, and
drives the 1×500 fanout (2 senders × 20 msg/s) with the Node generator. Prints the
collections per generation with their pauses, and the step's latency per second: a
full (generation 2) collection stops the event loop, every socket waits. A diagnostic
for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import uvicorn

from bench.chat_scenarios import Shape, chat_clients
from bench.harness import SQLITE, Options, Running
from bench.seed import SeedCache, Sizes
from bench.servers import ROOT, Generator, free_port
from server.app import create_app
from server.cli import websocket_options
from server.config import load_settings

pauses: dict[int, list[tuple[float, float]]] = defaultdict(list)
_started: dict[int, float] = {}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    generation = info["generation"]
    if phase == "start":
        _started[generation] = time.perf_counter()
    elif generation in _started:
        began = _started.pop(generation)
        pauses[generation].append((began, 1000 * (time.perf_counter() - began)))


async def main(seconds: float) -> None:
    options = Options(var=ROOT / "var" / "bench", sizes=Sizes())
    cache = SeedCache(options.var, options.sizes)
    world = await cache.world("sqlite")
    url = await cache.fresh_copy("sqlite", "gcpauses")
    settings = load_settings(
        {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_MESSAGES": "1000000"}
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), port=port, log_level="warning", **websocket_options(settings)
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    running = Running(SQLITE, [f"ws://127.0.0.1:{port}/ws"], [], [], world=world)
    with tempfile.TemporaryDirectory() as tmp:
        clients = chat_clients(running, Shape(1, 500, 2))
        generator = await Generator(
            {"kind": "chat", "deflate": False, "clients": clients}, cpus="1", workdir=Path(tmp)
        ).start()
        await generator.run({"cmd": "connect", "concurrency": 50}, "connected")
        await generator.run({"cmd": "fanout", "step": "w", "rate": 20, "duration": 2}, "fanout")
        gc.callbacks.append(_on_gc)
        began = time.perf_counter()
        reply = await generator.run(
            {"cmd": "fanout", "step": "s", "rate": 20, "duration": seconds}, "fanout"
        )
        gc.callbacks.remove(_on_gc)
        await generator.close()
    server.should_exit = True
    await task
    await cache.drop_copy("sqlite", "gcpauses")
    print(f"latency p50 {reply['latency_ms']['p50']} ms, p99 {reply['latency_ms']['p99']} ms")
    print(f"worst latency of the messages sent in each second: {reply['worst_per_second_ms']}")
    for generation in sorted(pauses):
        runs = pauses[generation]
        total = sum(ms for _, ms in runs)
        print(f"generation {generation}: {len(runs)} collections, {total:.0f} ms in all")
        if generation == 2:
            for at, ms in runs:
                print(f"  at {at - began:5.1f} s: {ms:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.gcpauses", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.seconds))
