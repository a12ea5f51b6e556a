"""Where an idle socket's memory goes: ``python -m bench.memprofile [--sockets 1000]``.

Runs Atelier in this process under ``tracemalloc`` (uvicorn on a free port, a fresh copy
of the full SQLite seed — run ``python -m bench --scenarios connect --targets sqlite`` once
to build it), opens the sockets with the Node generator (each signed in as its own member
and subscribed to one room of 50, as in the connect scenario), and prints the Python
allocations that grew, per socket, grouped by the line that made them. A diagnostic for
``docs/performance.md``; tracemalloc slows the server down, so no timing here.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import tracemalloc
from pathlib import Path

import uvicorn

from bench.harness import Options
from bench.seed import SeedCache, Sizes
from bench.servers import ROOT, Generator, free_port
from server.app import create_app
from server.cli import websocket_options
from server.config import load_settings


def _line(stat: tracemalloc.StatisticDiff, depth: int) -> str:
    """The allocation site first, then its callers (tracemalloc lists oldest first)."""
    frames = [f for f in stat.traceback if "/asyncio/" not in f.filename] or list(stat.traceback)
    return " ← ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[::-1][:depth])


async def main(sockets: int, depth: int, top: int) -> None:
    options = Options(var=ROOT / "var" / "bench", sizes=Sizes())
    cache = SeedCache(options.var, options.sizes)
    world = await cache.world("sqlite")
    url = await cache.fresh_copy("sqlite", "memprofile")
    tracemalloc.start(depth + 6)
    port = free_port()
    env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "HUB_POLL_SECS": "3600"}
    settings = load_settings(env)
    # The WebSocket options of ``atelier run`` (no permessage-deflate, sans-I/O protocol).
    options_ = websocket_options(settings)
    config = uvicorn.Config(create_app(settings), port=port, log_level="warning", **options_)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    per_room = world["idle_room_members"]
    clients = [
        {
            "url": f"ws://127.0.0.1:{port}/ws",
            "cookie": world["tokens"][i],
            "room": world["idle_rooms"][i // per_room],
        }
        for i in range(sockets)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        generator = await Generator(
            {"kind": "chat", "deflate": False, "clients": clients}, cpus="", workdir=Path(tmp)
        ).start()
        # Warm up what every first connection allocates once (caches, compiled SQL).
        await generator.run({"cmd": "connect", "from": 0, "to": 20}, "connected")
        await asyncio.sleep(1)
        gc.collect()
        before = tracemalloc.take_snapshot()
        reply = await generator.run(
            {"cmd": "connect", "from": 20, "to": sockets}, "connected", within=1800
        )
        await asyncio.sleep(2)
        gc.collect()
        after = tracemalloc.take_snapshot()
        opened = reply["connected"]
        stats = after.compare_to(before, "traceback")
        grown = sum(s.size_diff for s in stats)
        print(
            f"{opened} sockets: Python heap +{grown / 1024 / opened:.1f} KiB per socket "
            f"(tracemalloc; RSS adds the allocator's overhead and C buffers)\n"
        )
        print("By the file that allocated:")
        for stat in after.compare_to(before, "filename")[:15]:
            where = "/".join(Path(stat.traceback[0].filename).parts[-2:])
            print(f"{stat.size_diff / opened:8.0f} B/socket  {where}")
        print("\nBy allocation site (then its callers):")
        for stat in stats[:top]:
            size, count = stat.size_diff / opened, stat.count_diff / opened
            print(f"{size:8.0f} B/socket  {count:6.1f} blocks  {_line(stat, depth)}")
        await generator.close()
    server.should_exit = True
    await task
    await cache.drop_copy("sqlite", "memprofile")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.memprofile", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=3, help="frames shown per allocation site")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.sockets, args.depth, args.top))
