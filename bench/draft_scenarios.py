"""Co-editing scenarios: editors typing into one draft; memory per open draft; loading a
big draft.

The editors are the seed's first members, rapporteurs of the draft's group (so every one
of them may edit); the readers of the memory scenario are plain assembly members.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.harness import Harness, Target, measured, settle, warmup_secs

# Editors that apply every update and check convergence; the others only time arrivals
# (bench/loadgen/drafts.mjs), so that the generator does not measure Yjs.
WITNESSES = 5


async def coedit(
    harness: Harness, target: Target, editors: int, rate: float, duration: float
) -> list[dict[str, Any]]:
    """``editors`` sockets on one draft, each typing ``rate`` characters per second (and
    moving its cursor in the awareness, as y-codemirror does on every keystroke)."""
    async with harness.serve(target, "coedit") as running:
        draft = 1 if target.is_reference else running.world["coedit_draft"]
        clients = [
            {
                "url": running.drafts_url(i, draft),
                "cookie": running.token(i),
                "name": f"Membre Charge {i}",
                "witness": i < WITNESSES,
            }
            for i in range(editors)
        ]
        generator = await harness.generator("drafts", clients)
        try:
            connected = await generator.run({"cmd": "connect", "concurrency": 25}, "connected")
            if connected["failed"]:
                raise RuntimeError(f"{target.name}: editors failed: {connected['errors']}")
            await settle(harness)
            await generator.run(
                {"cmd": "type", "rate": rate, "duration": warmup_secs(harness)}, "typing"
            )
            command = {"cmd": "type", "rate": rate, "duration": duration}
            spy = harness.profile(f"coedit-{target.name}", duration)
            reply, cpu = await measured(
                running, generator.run(command, "typing"), profile=spy, generator=generator
            )
        finally:
            await generator.close()
        row = {
            "scenario": "coedit",
            "target": target.name,
            **{k: v for k, v in reply.items() if k != "event"},
            **cpu,
            "cpu_us_per_op": round(1e6 * cpu["server_cpu_s"] / max(reply["ops"], 1), 1),
            "peak_rss_mb": running.peak_rss_mb(),
        }
    lat = row["latency_ms"]
    harness.log(
        f"  {target.name:9} coedit {editors}×{rate}/s: p50 {lat['p50']} p99 {lat['p99']} ms, "
        f"lost {row['lost']}, converged {row['converged']}, cpu {row['server_cpu_pct']}%, "
        f"gen {row['generator_cpu_pct']}%"
    )
    return [row]


async def documents(harness: Harness, target: Target) -> list[dict[str, Any]]:
    """Memory per open draft (one reader socket on each of the seed's ~100 kB drafts),
    then the load time of the two ≈1 MB drafts, opened cold: one made of 5 000 logged
    updates, one whose log is covered by a snapshot."""
    async with harness.serve(target, "drafts") as running:
        world = running.world
        ids = world["memory_drafts"]
        readers = [
            {"url": running.drafts_url(0, draft), "cookie": running.token(k)}
            for k, draft in enumerate(ids)
        ]
        generator = await harness.generator("drafts", readers)
        try:
            await settle(harness, 3)
            rss0 = running.rss_mb()
            connected = await generator.run({"cmd": "connect", "concurrency": 5}, "connected")
            await asyncio.sleep(0.5 if harness.options.quick else 3)
            rss1 = running.rss_mb()
            loads = {}
            for name in ("log_draft", "snapshot_draft"):
                command = {
                    "cmd": "load",
                    "url": running.drafts_url(0, world[name]),
                    "cookie": running.token(0),
                }
                cold, cpu = await measured(running, generator.run(command, "loaded"))
                warm = await generator.run(command, "loaded")
                loads[name] = {
                    "cold_ms": cold["load_ms"],
                    "warm_ms": warm["load_ms"],
                    "server_cpu_s": cpu["server_cpu_s"],
                    "text_chars": cold["text_chars"],
                    "expected_chars": world["draft_chars"][str(world[name])],
                }
        finally:
            await generator.close()
    chars = [world["draft_chars"][str(d)] for d in ids]
    row = {
        "scenario": "documents",
        "target": target.name,
        "open_drafts": connected["connected"],
        "draft_chars": round(sum(chars) / len(chars)),
        "rss_before_mb": rss0,
        "rss_after_mb": rss1,
        "kib_per_open_draft": round((rss1 - rss0) * 1024 / max(len(ids), 1), 1),
        "big_draft_load": loads,
    }
    harness.log(
        f"  {target.name:9} drafts: {row['kib_per_open_draft']} KiB per open draft; 1 MB load "
        f"(log) {loads['log_draft']['cold_ms']} ms, "
        f"(snapshot) {loads['snapshot_draft']['cold_ms']} ms"
    )
    return [row]
