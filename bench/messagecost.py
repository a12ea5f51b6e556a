"""A message's own cost, apart from its deliveries: ``python -m bench.messagecost``.

In the 10×50 grid a message's fixed cost (the frame, the checks, the write, the ack) is
hidden among its 50 deliveries. Here 10 rooms of 2 members, 2 senders × 25 messages/s
each (500 messages/s, 1 000 deliveries/s): server CPU per *message* is nearly all fixed
cost. The targets are alternated round after round, so a slow minute of the machine
weighs on all of them (docs/performance.md, findings 22 and 24). Uses the seeds of
``python -m bench`` (run it once first); prints each round and the medians.

``--against REV`` adds, for each Atelier target, the same target run from a checkout of
``REV`` (a git worktree under ``var/bench/against/``): an A/B of two versions of the
code in the same minutes, which is how a change of a few per cent can be seen here.
``--shape 10x50x5 --rate 10`` runs the A/B in another shape, e.g. the grid's own, where
the CPU per message includes its deliveries. ``--read-after 600`` has every member send
a ``read`` receipt as the browser does (600 ms after the last message it received): the
CPU per message then includes its receipts (finding 39).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import subprocess
from pathlib import Path

from bench import chat_scenarios as chat
from bench.harness import TARGETS, Harness, Options
from bench.run import DEFAULT_PG, DEFAULT_REDIS, raise_file_limit, round_order
from bench.seed import QUICK, Sizes
from bench.servers import ROOT

SHAPE = chat.Shape(rooms=10, members=2, senders=2)
RATE = 25.0  # messages/s per sender


def parse_shape(text: str) -> chat.Shape:
    """``ROOMSxMEMBERSxSENDERS`` (``x`` or ``×``), e.g. ``10x50x5``."""
    parts = text.replace("×", "x").split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected ROOMSxMEMBERSxSENDERS, got {text!r}")
    rooms, members, senders = (int(part) for part in parts)
    if senders > members:
        raise argparse.ArgumentTypeError("more senders than members")
    return chat.Shape(rooms=rooms, members=members, senders=senders)


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    raise_file_limit(8192)
    options = Options(
        var=Path(args.var),
        sizes=QUICK if args.quick else Sizes(),
        server_cpus=(args.server_cpus,),
        generator_cpus=args.generator_cpus,
        deflate=False,
        pg_admin_url=args.pg_url,
        redis_url=args.redis_url,
        quick=False,
        profile=False,
    )
    harness = Harness(options, log=lambda text: None)
    targets = {name: TARGETS[name] for name in args.targets.split(",")}
    if args.against:
        source = checkout(args.against, Path(args.var) / "against")
        for name, target in list(targets.items()):
            if not target.is_reference:
                label = f"{name}@{args.against}"
                targets[label] = dataclasses.replace(target, name=label, source=source)
    costs: dict[str, list[float]] = {name: [] for name in targets}
    for number in range(args.rounds):
        # Every other round in reverse order, as the bench's grid (``round_order``).
        for name in round_order(list(targets), number):
            target = targets[name]
            (row,) = await chat.fanout(
                harness,
                target,
                args.shape,
                [args.rate],
                args.duration,
                read_after_ms=args.read_after,
            )
            messages = max(row["received"] / args.shape.members, 1)
            cost = 1e6 * row["server_cpu_s"] / messages
            costs[name].append(cost)
            latency = row["latency_ms"] or {}
            reads = row.get("reads") or {}
            receipts = (
                f"  reads {reads['acked']}/{reads['sent']} acked, refused {reads['refused']}"
                if args.read_after is not None
                else ""
            )
            print(
                f"round {number} {name:9} {cost:7.1f} µs CPU/message  "
                f"p50 {latency.get('p50')} ms p99 {latency.get('p99')} ms  lost {row['lost']}"
                f"{receipts}",
                flush=True,
            )
    return costs


def checkout(rev: str, under: Path) -> Path:
    """A detached worktree of ``rev`` (made once, then reused)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = under / commit[:12]
    if not path.exists():
        under.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="baseline,sqlite", help="baseline,asgi,sqlite,pg")
    parser.add_argument("--quick", action="store_true", help="the quick seeds (2 rooms of 5)")
    parser.add_argument(
        "--shape", type=parse_shape, default=SHAPE, help="ROOMSxMEMBERSxSENDERS (10x2x2)"
    )
    parser.add_argument("--rate", type=float, default=RATE, help="messages/s per sender (25)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--generator-cpus", default="1")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--var", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--against", help="also run each Atelier target from this git revision")
    parser.add_argument(
        "--read-after",
        type=float,
        help="every member sends a read receipt this many ms after the last message it got",
    )
    args = parser.parse_args()
    costs = asyncio.run(measure(args))
    base = statistics.median(costs["baseline"]) if costs.get("baseline") else None
    for name, values in costs.items():
        median = statistics.median(values)
        versus = f"  ({median - base:+.0f} µs vs baseline)" if base and name != "baseline" else ""
        print(f"{name:9} median {median:7.1f} µs CPU/message{versus}")
    for name, values in costs.items():
        if "@" in name:  # each round's difference, this code minus the other revision's
            this = costs[name.partition("@")[0]]
            steps = [a - b for a, b in zip(this, values, strict=True)]
            print(
                f"{name.partition('@')[0]} − {name}: median {statistics.median(steps):+.0f} µs "
                f"({', '.join(f'{d:+.0f}' for d in steps)})"
            )


if __name__ == "__main__":
    main()
