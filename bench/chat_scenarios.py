"""Chat scenarios: fanout (a grid and a saturation ramp), idle connections, resume, history.

Each function starts its target on a fresh database (``Harness.serve``), drives the Node
generator, and returns result rows (plain dicts, written to the JSON results as is).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from bench.harness import Harness, Running, Target, measured, settle, warmup_secs
from server.database import make_engine


@dataclass(frozen=True, slots=True)
class Shape:
    rooms: int
    members: int
    senders: int

    def __str__(self) -> str:
        return f"{self.rooms}×{self.members}, {self.senders} senders/room"


def chat_clients(running: Running, shape: Shape) -> list[dict[str, Any]]:
    """``members`` sockets per room, the first ``senders`` of each room sending; members
    alternate between the target's processes. Rooms of up to ``fanout_room_members`` are
    the seed's fanout rooms; one bigger room is its ``big_room``."""
    world = running.world
    clients = []
    for k in range(shape.rooms):
        if running.target.is_reference:
            room, first = 1000 + k, k * shape.members
        elif shape.members > world["fanout_room_members"]:
            if shape.rooms != 1 or shape.members > world["big_room_members"]:
                raise ValueError(f"the seed has no room for {shape}")
            room, first = world["big_room"], 0
        else:
            if shape.rooms > len(world["fanout_rooms"]):
                raise ValueError(f"the seed has no room for {shape}")
            room, first = world["fanout_rooms"][k], k * world["fanout_room_members"]
        for j in range(shape.members):
            clients.append(
                {
                    "url": running.ws_url(j),
                    "cookie": running.token(first + j),
                    "room": room,
                    "sender": j < shape.senders,
                }
            )
    return clients


def _row(
    scenario: str, running: Running, reply: dict[str, Any], cpu: dict[str, float]
) -> dict[str, Any]:
    received = max(int(reply.get("received", 0)), 1)
    return {
        "scenario": scenario,
        "target": running.target.name,
        **{k: v for k, v in reply.items() if k != "event"},
        **cpu,
        "cpu_us_per_delivery": round(1e6 * cpu["server_cpu_s"] / received, 1),
        "peak_rss_mb": running.peak_rss_mb(),
    }


BISECT_STEPS = 2


async def fanout(
    harness: Harness,
    target: Target,
    shape: Shape,
    rates: list[float],
    duration: float,
    *,
    ramp: bool = False,
    p99_limit_ms: float = 100.0,
    read_after_ms: float | None = None,
) -> list[dict[str, Any]]:
    """One session: connect everyone, warm up, then one step per rate. With ``ramp``, stop
    after the first step whose p99 passes ``p99_limit_ms`` or that loses messages. With
    ``read_after_ms``, every member sends a ``read`` receipt during the measured steps
    as the browser does, that long after the last message it received."""
    label = f"fanout-{shape.rooms}x{shape.members}"
    rows: list[dict[str, Any]] = []
    async with harness.serve(target, label) as running:
        generator = await harness.generator("chat", chat_clients(running, shape))
        try:
            connected = await generator.run({"cmd": "connect", "concurrency": 50}, "connected")
            if connected["failed"]:
                raise RuntimeError(
                    f"{target.name}: {connected['failed']} sockets failed: {connected['errors']}"
                )
            harness.log(
                f"  {target.name:9} {shape}: {connected['connected']} sockets subscribed in "
                f"{connected['elapsed_ms'] / 1000:.1f} s"
            )
            await settle(harness)
            await generator.run(
                {"cmd": "fanout", "step": "w", "rate": rates[0], "duration": warmup_secs(harness)},
                "fanout",
            )

            async def step(name: str, rate: float) -> bool:
                """Run one step (twice when it looks like noise); True when it failed."""
                # A ramp step whose typical message was still fast (p50 within a fifth of
                # the limit) but whose tail was not is run once more: a burst of other
                # people's work on the machine must not end the ramp early.
                for attempt in range(2 if ramp else 1):
                    command = {"cmd": "fanout", "step": f"{name}{attempt}", "rate": rate}
                    command["duration"] = duration
                    if read_after_ms is not None:
                        command["read_after_ms"] = read_after_ms
                    spy = harness.profile(f"{label}-{target.name}-r{rate:g}", duration)
                    reply, cpu = await measured(
                        running, generator.run(command, "fanout"), profile=spy, generator=generator
                    )
                    row = _row("saturation" if ramp else "fanout", running, reply, cpu)
                    row.update(shape=str(shape), attempt=attempt, **vars_of(shape))
                    rows.append(row)
                    harness.log(_summary(row))
                    p99 = (row["latency_ms"] or {}).get("p99") or 0
                    failed = p99 > p99_limit_ms or bool(row["lost"]) or not row["complete"]
                    typical = (row["latency_ms"] or {}).get("p50") or 0
                    if not failed or not row["complete"] or typical > p99_limit_ms / 5:
                        return failed
                return True

            good: float | None = None
            for index, rate in enumerate(rates):
                if not await step(f"s{index}.", rate) or not ramp:
                    good = rate
                    continue
                # Then halve the gap (geometrically) between the last rate that held and
                # the first that did not, twice: the ceiling is known to ±10 %.
                bad = rate
                for half in range(BISECT_STEPS):
                    if good is None:
                        break
                    middle = round((good * bad) ** 0.5, 2)
                    if await step(f"m{half}.", middle):
                        bad = middle
                    else:
                        good = middle
                break
        finally:
            await generator.close()
    return rows


def vars_of(shape: Shape) -> dict[str, int]:
    return {"rooms": shape.rooms, "members": shape.members, "senders_per_room": shape.senders}


def _summary(row: dict[str, Any]) -> str:
    lat = row["latency_ms"]
    return (
        f"  {row['target']:9} {row['shape']:28} r={row['rate']:>5}: "
        f"{row['delivered_per_s']:>7}/s p50 {lat['p50']} p99 {lat['p99']} ms, lost {row['lost']}, "
        f"cpu {row['server_cpu_pct']}% ({row['cpu_us_per_delivery']} µs/delivery), "
        f"gen {row['generator_cpu_pct']}%, waited for a core: server "
        f"{row['server_runq_wait_pct']}% gen {row['generator_runq_wait_pct']}%, "
        f"I/O pressure {row.get('io_pressure_pct')}%"
    )


async def connect(harness: Harness, target: Target, levels: list[int]) -> list[dict[str, Any]]:
    """Open idle authenticated sockets (each subscribed to one room of 50) up to each
    level; server RSS per socket and idle CPU at each level."""
    rows: list[dict[str, Any]] = []
    async with harness.serve(target, "connect") as running:
        world = running.world
        per_room = int(world.get("idle_room_members", 50))
        clients = []
        for i in range(levels[-1]):
            room = world["idle_rooms"][i // per_room] if world else 2000 + i // per_room
            clients.append({"url": running.ws_url(i), "cookie": running.token(i), "room": room})
        generator = await harness.generator("chat", clients)
        try:
            await settle(harness, 3)
            rss0 = running.rss_mb()
            start = 0
            for level in levels:
                command = {"cmd": "connect", "from": start, "to": level, "concurrency": 50}
                spy = harness.profile(f"connect-{target.name}-{level}", 20)
                reply, cpu = await measured(
                    running,
                    generator.run(command, "connected", within=1800),
                    generator=generator,
                    profile=spy,
                )
                start = level
                quick = harness.options.quick
                await asyncio.sleep(1 if quick else 5)
                rss = running.rss_mb()
                # Idle: only the hub's timers (session checks every HUB_POLL_SECS) and
                # uvicorn's pings run.
                _, idle = await measured(running, asyncio.sleep(2 if quick else 10))
                row = {
                    "scenario": "connect",
                    "target": target.name,
                    "connections": level,
                    "new_connections": reply["connected"],
                    "failed": reply["failed"],
                    "errors": reply["errors"],
                    "connect_s": round(reply["elapsed_ms"] / 1000, 2),
                    "connects_per_s": round(
                        reply["connected"] / max(reply["elapsed_ms"], 1) * 1000
                    ),
                    "handshake_ms": reply["per_connection_ms"],
                    "connect_cpu_s": cpu["server_cpu_s"],
                    "rss_idle_mb": rss0,
                    "rss_mb": rss,
                    "rss_kib_per_connection": round((rss - rss0) * 1024 / level, 1),
                    "idle_cpu_pct": idle["server_cpu_pct"],
                    "peak_rss_mb": running.peak_rss_mb(),
                    "generator_cpu_pct": reply["generator_cpu_pct"],
                }
                rows.append(row)
                harness.log(
                    f"  {target.name:9} {level:>6} sockets: {row['connect_s']} s, "
                    f"{row['rss_kib_per_connection']} KiB/socket, idle CPU {row['idle_cpu_pct']}%, "
                    f"failed {row['failed']}"
                )
                if reply["failed"]:
                    break
        finally:
            await generator.close()
    return rows


async def resume(
    harness: Harness, target: Target, missed: int, repeats: int = 3
) -> list[dict[str, Any]]:
    """A member comes back ``missed`` events behind: subscribe with ``after_seq``, time
    until ``live``. The first run is cold (nothing cached), the others warm."""
    seeds = [f"1:{missed}"] if target.is_reference else None
    async with harness.serve(target, "resume", baseline_seeds=seeds) as running:
        room = 1 if target.is_reference else running.world["resume_room"]
        generator = await harness.generator("chat", [])
        runs = []
        try:
            await settle(harness)
            for _ in range(repeats):
                command = {
                    "cmd": "resume",
                    "url": running.ws_url(0),
                    "cookie": running.token(0),
                    "room": room,
                    "after_seq": 0,
                }
                spy = harness.profile(f"resume-{target.name}", 2)
                reply, cpu = await measured(running, generator.run(command, "resumed"), profile=spy)
                runs.append({**reply, **cpu})
        finally:
            await generator.close()
    warm = [r["caught_up_ms"] for r in runs[1:]] or [runs[0]["caught_up_ms"]]
    row = {
        "scenario": "resume",
        "target": target.name,
        "missed": missed,
        "events": runs[0]["events"],
        "gaps": sum(r["gaps"] for r in runs),
        "cold_ms": runs[0]["caught_up_ms"],
        "warm_ms": round(statistics.median(warm), 1),
        "first_event_ms": runs[-1]["first_event_ms"],
        "server_cpu_s": runs[-1]["server_cpu_s"],
        "runs": runs,
    }
    harness.log(
        f"  {target.name:9} resume {missed}: cold {row['cold_ms']} ms, warm {row['warm_ms']} ms"
    )
    return [row]


async def history(harness: Harness, target: Target, pages: int = 60) -> list[dict[str, Any]]:
    """Pages of 100 messages at random depths of the big room, one request at a time,
    and the same page query sent straight to the database (the floor)."""
    async with harness.serve(target, "history") as running:
        world = running.world
        room, count = world["history_room"], harness.options.sizes.history_messages
        rng = random.Random(7)
        befores = [None, 101, *[rng.randint(101, count) for _ in range(pages)]]
        timings, sizes = [], []
        await settle(harness)
        cookies = {"atelier_session": running.token(0)}

        async def pages_of_history() -> None:
            async with httpx.AsyncClient(base_url=running.base_urls[0], cookies=cookies) as http:
                for before in befores:
                    params = {"limit": 100, **({"before": before} if before else {})}
                    started = time.perf_counter()
                    response = await http.get(f"/api/rooms/{room}/messages", params=params)
                    timings.append(1000 * (time.perf_counter() - started))
                    response.raise_for_status()
                    sizes.append(len(response.json()["messages"]))

        spy = harness.profile(f"history-{target.name}", 3)
        await measured(running, pages_of_history(), profile=spy)
        raw = await _raw_page_ms(running.database_url, room, befores[2:])
    api = _stats(timings[2:])
    row = {
        "scenario": "history",
        "target": target.name,
        "messages_in_room": count,
        "page": 100,
        "newest_page_ms": round(timings[0], 2),
        "oldest_page_ms": round(timings[1], 2),
        "random_pages_ms": api,
        "raw_sql_ms": raw,
        "short_pages": sum(1 for s in sizes if s != 100),
    }
    harness.log(
        f"  {target.name:9} history: p50 {api['p50']} ms p95 {api['p95']} ms max {api['max']} ms "
        f"(raw SQL p50 {raw['p50']} ms)"
    )
    return [row]


async def _raw_page_ms(url: str, room: int, befores: list[int | None]) -> dict[str, float]:
    engine = make_engine(url)
    query = text(
        "SELECT id, seq, topic, author_id, client_id, source, html, reply_to_id, created_at,"
        " edited_at, deleted_at, hidden_at FROM messages WHERE room_id = :room AND seq < :before"
        " ORDER BY seq DESC LIMIT 100"
    )
    timings = []
    try:
        async with engine.connect() as conn:
            for before in befores:
                started = time.perf_counter()
                rows = (await conn.execute(query, {"room": room, "before": before})).all()
                timings.append(1000 * (time.perf_counter() - started))
                assert len(rows) == 100
    finally:
        await engine.dispose()
    return _stats(timings)


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"count": len(ordered), "p50": at(0.5), "p95": at(0.95), "max": round(ordered[-1], 2)}
