"""``python -m bench``: run the scenarios on the targets, save the results, write the report.

Examples::

    python -m bench                      # everything (make bench, about 20 minutes)
    python -m bench --quick              # tiny sizes, seconds per scenario (make bench-quick)
    python -m bench --scenarios fanout,resume --targets baseline,sqlite
    python -m bench --report-only var/bench/results-20260105-101500.json

Results go to ``var/bench/results-<time>.json`` (and ``var/bench/latest.json``); the report
replaces the generated block of ``docs/performance.md`` (``--doc`` elsewhere, ``--no-doc``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import resource
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import chat_scenarios as chat
from bench import draft_scenarios as drafts
from bench import plot, procstat, report
from bench.harness import TARGETS, Harness, Options
from bench.seed import QUICK, Sizes
from bench.servers import ROOT, pinned

SCENARIOS = ("fanout", "saturation", "connect", "resume", "history", "coedit", "drafts")
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (CI smoke, make bench-quick)"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=",".join(SCENARIOS))
    parser.add_argument(
        "--targets", default="baseline,asgi,sqlite,pg,pg2", help="baseline,asgi,sqlite,pg,pg2"
    )
    parser.add_argument("--duration", type=float, help="seconds per fanout step (12; quick 2)")
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of the fanout grid, every target in turn in each, the order reversed "
        "every other round (5; quick 1): its ratios are the median of each round's target "
        "over that round's baseline",
    )
    parser.add_argument("--step-duration", type=float, help="seconds per saturation step (6)")
    parser.add_argument("--connect-levels", help="idle sockets, e.g. 2000,5000,10000")
    parser.add_argument("--editors", type=int, help="coedit editors (50)")
    parser.add_argument("--edit-rate", type=float, help="keystrokes per second per editor (5)")
    parser.add_argument(
        "--server-cpus",
        default="0",
        help='taskset cores of the servers; "0;2": process 1 on core 0, process 2 on core 2',
    )
    parser.add_argument("--generator-cpus", default="1", help="cores for the load generator")
    parser.add_argument(
        "--deflate", action="store_true", help="offer permessage-deflate as browsers do"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy each measured step (var/bench/profiles)"
    )
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--var", default=str(ROOT / "var" / "bench"), help="seeds, logs, results")
    parser.add_argument("--output", help="results JSON (default var/bench/results-<time>.json)")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--no-doc", action="store_true", help="print the report only")
    parser.add_argument("--report-only", metavar="RESULTS", help="re-render a results file")
    return parser.parse_args(argv)


def _reachable(url: str, port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or port), 1):
            return True
    except OSError:
        return False


def raise_file_limit(wanted: int) -> int:
    """Raise the open-files limit (inherited by the servers and the generator)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def code_state() -> dict[str, Any]:
    """Which code was measured: the commit, the uncommitted application files, and a digest
    of every application module (other people edit the work tree while benchmarks run)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    head = git("rev-parse", "--short", "HEAD").strip() or "?"
    lines = git("status", "--porcelain", "--", "auth", "rooms", "documents", "server").splitlines()
    changed = sorted(line[3:] for line in lines if line[3:].endswith(".py"))
    digest = hashlib.sha256()
    for package in ("auth", "rooms", "documents", "server"):
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return {"head": head, "uncommitted": changed, "digest": digest.hexdigest()[:10]}


def _node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "missing"


class Plan:
    """The sizes of every scenario, full or quick, with the command line's overrides."""

    def __init__(self, args: argparse.Namespace) -> None:
        quick = args.quick
        self.sizes = QUICK if quick else Sizes()
        self.duration = args.duration or (2.0 if quick else 12.0)
        self.step_duration = args.step_duration or (2.0 if quick else 6.0)
        self.rounds = max(1, args.rounds or (1 if quick else 5))
        if quick:
            self.grid = [(chat.Shape(2, 5, 2), 5.0), (chat.Shape(1, 20, 2), 10.0)]
            self.ramp = (chat.Shape(2, 5, 2), [5.0, 20.0])
            self.levels = [20, 40]
        else:
            self.grid = [(chat.Shape(10, 50, 5), 10.0), (chat.Shape(1, 500, 2), 20.0)]
            self.ramp = (chat.Shape(10, 50, 5), [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0])
            self.levels = [2_000, 5_000, 10_000]
        if args.connect_levels:
            self.levels = [int(x) for x in args.connect_levels.split(",")]
        self.levels = [n for n in self.levels if n <= self.sizes.users] or [self.sizes.users]
        self.editors = min(args.editors or (4 if quick else 50), self.sizes.editors)
        self.edit_rate = args.edit_rate or 5.0


def round_order(names: list[str], number: int) -> list[str]:
    """The targets of round ``number``, in the opposite order every other round: a
    machine that speeds up or slows down during a round would otherwise favour the
    targets always run on one side of the baseline (docs/performance.md, finding 29)."""
    return list(reversed(names)) if number % 2 else list(names)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan(args)
    scenarios = [s for s in args.scenarios.split(",") if s]
    names = [("pg×2" if t == "pg2" else t) for t in args.targets.split(",") if t]
    notes: list[str] = []
    unknown = [s for s in scenarios if s not in SCENARIOS] + [t for t in names if t not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown scenario or target: {unknown}")
    if any(TARGETS[t].backend == "postgres" for t in names):
        missing = [
            what
            for what, url, port in (
                ("PostgreSQL", args.pg_url, 5432),
                ("Redis", args.redis_url, 6379),
            )
            if not _reachable(url, port)
        ]
        if missing:
            notes.append(f"{' and '.join(missing)} unreachable: the pg targets were skipped.")
            names = [t for t in names if TARGETS[t].backend != "postgres"]
    limit = raise_file_limit(max(plan.levels) * 2 + 4096)
    if limit < max(plan.levels) + 1024:
        notes.append(f"open-files limit {limit}: connect levels capped.")
        plan.levels = [n for n in plan.levels if n + 1024 <= limit] or [limit // 2]
    server_cpus = (
        tuple(args.server_cpus.split(";")) if ";" in args.server_cpus else (args.server_cpus,)
    )
    pin_server = pinned(server_cpus[0], ["x"])[0] == "taskset"
    pin_gen = pinned(args.generator_cpus, ["x"])[0] == "taskset"
    shared = " (both pg×2 processes share them)" if len(server_cpus) == 1 else ""
    pinning = (
        f"servers on core(s) {args.server_cpus}{shared}, "
        f"load generator on core(s) {args.generator_cpus}, with taskset"
        if pin_server and pin_gen
        else "none (taskset or the cores are missing): numbers are less stable"
    )
    options = Options(
        var=Path(args.var),
        sizes=plan.sizes,
        server_cpus=server_cpus,
        generator_cpus=args.generator_cpus,
        deflate=args.deflate,
        pg_admin_url=args.pg_url,
        redis_url=args.redis_url,
        quick=args.quick,
        profile=args.profile,
    )
    harness = Harness(options, log=lambda text: print(text, flush=True))
    machine = {**procstat.machine(), "node": _node_version(), "open_files_limit": limit}
    code_at_start = code_state()
    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    rows: list[dict[str, Any]] = []

    async def each(scenario: str, job: Any, *, number: int = 0) -> None:
        for name in round_order(names, number):
            if scenario in ("history", "drafts") and TARGETS[name].is_reference:
                continue
            if scenario == "coedit" and name == "asgi":
                continue
            if (
                scenario in ("connect", "resume", "history", "drafts")
                and TARGETS[name].processes > 1
            ):
                continue
            load = procstat.load_average()[0]
            for row in await job(TARGETS[name]):
                row["load_average_1m"] = load
                rows.append(row)

    async def grid_step(target: Any, shape: Any, rate: float, number: int) -> list[Any]:
        rows = await chat.fanout(harness, target, shape, [rate], plan.duration)
        return [{**row, "round": number} for row in rows]

    print(f"Pinning: {pinning}. Open files: {limit}. Sizes: {plan.sizes}.", flush=True)
    for scenario in scenarios:
        print(f"== {scenario} (at {(time.monotonic() - clock) / 60:.1f} min)", flush=True)
        if scenario == "fanout":
            for shape, rate in plan.grid:
                for number in range(plan.rounds):
                    await each(
                        "fanout",
                        lambda t, s=shape, r=rate, n=number: grid_step(t, s, r, n),
                        number=number,
                    )
        elif scenario == "saturation":
            ramp_shape, rates = plan.ramp
            await each(
                "saturation",
                lambda t, s=ramp_shape, r=rates: chat.fanout(
                    harness, t, s, r, plan.step_duration, ramp=True
                ),
            )
        elif scenario == "connect":
            await each("connect", lambda t: chat.connect(harness, t, plan.levels))
        elif scenario == "resume":
            await each("resume", lambda t: chat.resume(harness, t, plan.sizes.resume_messages))
        elif scenario == "history":
            await each(
                "history", lambda t: chat.history(harness, t, pages=10 if args.quick else 60)
            )
        elif scenario == "coedit":
            await each(
                "coedit",
                lambda t: drafts.coedit(harness, t, plan.editors, plan.edit_rate, plan.duration),
            )
        elif scenario == "drafts":
            await each("drafts", lambda t: drafts.documents(harness, t))
    return {
        "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.monotonic() - clock, 1),
        "command": "python -m bench " + shlex.join(sys.argv[1:])
        if sys.argv[1:]
        else "python -m bench",
        "machine": machine,
        "code": code_at_start,
        "code_changed_during_run": code_state()["digest"] != code_at_start["digest"],
        "load_average_at_end": procstat.load_average(),
        "options": {"pinning": pinning, "deflate": args.deflate, "sizes": vars_of(plan)},
        "notes": notes,
        "rows": rows,
    }


def vars_of(plan: Plan) -> dict[str, Any]:
    return {
        "seed": plan.sizes.__class__.__name__,
        "fanout_duration_s": plan.duration,
        "fanout_rounds": plan.rounds,
        "saturation_step_s": plan.step_duration,
        "connect_levels": plan.levels,
        "editors": plan.editors,
        "edit_rate": plan.edit_rate,
    }


def publish(results: dict[str, Any], args: argparse.Namespace) -> str:
    var = Path(args.var)
    doc = None if args.no_doc else Path(args.doc)
    image = None
    if doc is not None:
        png = doc.parent / "performance-latency.png"
        if plot.plot(results["rows"], png):
            image = png.name
    text = report.render(results, plot=image)
    if doc is not None:
        report.write_doc(doc, text)
    (var / "report.md").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        results = json.loads(Path(args.report_only).read_text())
    else:
        results = asyncio.run(run(args))
        var = Path(args.var)
        var.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        output = Path(args.output) if args.output else var / f"results-{stamp}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1, ensure_ascii=False))
        (var / "latest.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
        print(f"Results: {output}")
    print(publish(results, args))
    return 0
