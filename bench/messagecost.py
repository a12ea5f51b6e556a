"""A message's own cost, apart from its deliveries: ``python -m bench.messagecost``.

In the 10×50 grid a message's fixed cost (the frame, the checks, the write, the ack) is
hidden among its 50 deliveries. Here 10 rooms of 2 members, 2 senders × 25 messages/s
each (500 messages/s, 1 000 deliveries/s): server CPU per *message* is nearly all fixed
cost. The targets are alternated round after round, so a slow minute of the machine
weighs on all of them (docs/performance.md, findings 22 and 24). Uses the seeds of
``python -m bench`` (run it once first); prints each round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from pathlib import Path

from bench import chat_scenarios as chat
from bench.harness import TARGETS, Harness, Options
from bench.run import DEFAULT_PG, DEFAULT_REDIS, raise_file_limit
from bench.seed import Sizes
from bench.servers import ROOT

SHAPE = chat.Shape(rooms=10, members=2, senders=2)
RATE = 25.0  # messages/s per sender


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    raise_file_limit(8192)
    options = Options(
        var=Path(args.var),
        sizes=Sizes(),
        server_cpus=(args.server_cpus,),
        generator_cpus=args.generator_cpus,
        deflate=False,
        pg_admin_url=args.pg_url,
        redis_url=args.redis_url,
        quick=False,
        profile=False,
    )
    harness = Harness(options, log=lambda text: None)
    costs: dict[str, list[float]] = {name: [] for name in args.targets.split(",")}
    for number in range(args.rounds):
        for name in costs:
            (row,) = await chat.fanout(harness, TARGETS[name], SHAPE, [RATE], args.duration)
            messages = max(row["received"] / SHAPE.members, 1)
            cost = 1e6 * row["server_cpu_s"] / messages
            costs[name].append(cost)
            latency = row["latency_ms"] or {}
            print(
                f"round {number} {name:9} {cost:7.1f} µs CPU/message  "
                f"p50 {latency.get('p50')} ms p99 {latency.get('p99')} ms  lost {row['lost']}",
                flush=True,
            )
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="baseline,sqlite", help="baseline,asgi,sqlite,pg")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--generator-cpus", default="1")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--var", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args()
    costs = asyncio.run(measure(args))
    base = statistics.median(costs["baseline"]) if costs.get("baseline") else None
    for name, values in costs.items():
        median = statistics.median(values)
        versus = f"  ({median - base:+.0f} µs vs baseline)" if base and name != "baseline" else ""
        print(f"{name:9} median {median:7.1f} µs CPU/message{versus}")


if __name__ == "__main__":
    main()
