"""What the scenarios share: the targets, starting them on a fresh database, measuring.

A *target* is one server setup: the raw ``baseline``, the ``asgi`` reference (the same
broadcast as a Starlette app under uvicorn), Atelier on ``sqlite`` (embedded:
SQLite file + in-process broker), Atelier on ``pg`` (PostgreSQL + Redis, one process) and
``pg×2`` (two processes behind the same PostgreSQL and Redis; clients alternate between
them, so half of every room's members are on each).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import procstat
from bench.seed import SeedCache, Sizes
from bench.servers import AtelierServer, BaselineServer, Generator

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    backend: str | None  # None: the baseline server
    processes: int = 1
    # Where Atelier's code is run from: another checkout for an A/B of two versions
    # (``python -m bench.messagecost --against REV``); None: this one.
    source: Path | None = None

    @property
    def is_reference(self) -> bool:
        """The raw or ASGI reference server: no database, rooms in memory."""
        return self.backend is None


BASELINE = Target("baseline", None)
ASGI = Target("asgi", None)
SQLITE = Target("sqlite", "sqlite")
PG = Target("pg", "postgres")
PG2 = Target("pg×2", "postgres", processes=2)
TARGETS = {t.name: t for t in (BASELINE, ASGI, SQLITE, PG, PG2)}


@dataclass(frozen=True, slots=True)
class Options:
    var: Path
    sizes: Sizes
    server_cpus: tuple[str, ...] = ("0",)
    generator_cpus: str = "1"
    deflate: bool = False
    pg_admin_url: str = ""
    redis_url: str = ""
    quick: bool = False
    profile: bool = False


@dataclass
class Running:
    """A started target: where its servers listen and which pids to measure."""

    target: Target
    ws_urls: list[str]
    base_urls: list[str]
    pids: list[int]
    world: dict[str, Any] = field(default_factory=dict)
    database_url: str = ""

    def ws_url(self, index: int) -> str:
        return self.ws_urls[index % len(self.ws_urls)]

    def drafts_url(self, index: int, draft_id: int) -> str:
        return f"{self.ws_url(index)}/drafts/{draft_id}"

    def token(self, user_index: int) -> str:
        tokens = self.world.get("tokens")
        return str(tokens[user_index]) if tokens else f"baseline-{user_index}"

    def peak_rss_mb(self) -> float:
        return round(sum(procstat.peak_rss_bytes(p) for p in self.pids) / 2**20, 1)

    def rss_mb(self) -> float:
        return round(sum(procstat.rss_bytes(p) for p in self.pids) / 2**20, 1)


class Harness:
    def __init__(self, options: Options, log: Any = print) -> None:
        self.options = options
        self.log = log
        self.cache = SeedCache(options.var, options.sizes, pg_admin_url=options.pg_admin_url)
        self.worlds: dict[str, dict[str, Any]] = {}

    async def world(self, backend: str) -> dict[str, Any]:
        if backend not in self.worlds:
            self.worlds[backend] = await self.cache.world(backend, announce=self.log)
        return self.worlds[backend]

    def profile(self, label: str, seconds: float) -> tuple[Path, float] | None:
        """Where ``measured`` writes py-spy's samples of a step, when profiling."""
        if not self.options.profile:
            return None
        return self.options.var / "profiles" / label, seconds

    def cpus(self, index: int) -> str:
        return self.options.server_cpus[index % len(self.options.server_cpus)]

    @contextlib.asynccontextmanager
    async def serve(
        self, target: Target, label: str, *, baseline_seeds: list[str] | None = None
    ) -> AsyncIterator[Running]:
        """Start ``target`` on a fresh copy of the seed; stop it and drop the copy after."""
        logs = self.options.var / "logs"
        if target.is_reference:
            server = BaselineServer(
                cpus=self.cpus(0),
                log_path=logs / f"{label}-{target.name}.log",
                seeds=baseline_seeds,
                asgi=target.name == "asgi",
            )
            try:
                await server.start()
                yield Running(target, [server.ws_url], [], [server.pid])
            finally:
                server.stop()
            return
        assert target.backend is not None
        world = await self.world(target.backend)
        copy = f"{label}_{uuid.uuid4().hex[:6]}".replace("-", "_")
        url = await self.cache.fresh_copy(target.backend, copy)
        redis = self.options.redis_url if target.backend == "postgres" else ""
        prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        servers = [
            AtelierServer(
                url,
                cpus=self.cpus(k),
                log_path=logs / f"{label}-{target.name}-{k}.log",
                redis_url=redis,
                broker_prefix=prefix,
                source=target.source,
            )
            for k in range(target.processes)
        ]
        try:
            # One after the other: both would run the (no-op) migration at once.
            for server in servers:
                await server.start()
            yield Running(
                target,
                [s.ws_url for s in servers],
                [s.base_url for s in servers],
                [s.pid for s in servers],
                world=world,
                database_url=url,
            )
        finally:
            for server in servers:
                server.stop()
            await self.cache.drop_copy(target.backend, copy)

    async def generator(self, kind: str, clients: list[dict[str, Any]]) -> Generator:
        config = {"kind": kind, "deflate": self.options.deflate, "clients": clients}
        return await Generator(
            config, cpus=self.options.generator_cpus, workdir=self.options.var / "logs"
        ).start()


async def measured(
    running: Running,
    work: Awaitable[T],
    *,
    services: bool | None = None,
    profile: tuple[Path, float] | None = None,
    generator: Generator | None = None,
) -> tuple[T, dict[str, float]]:
    """Run ``work`` and return its result with the servers' CPU use meanwhile.

    With ``profile=(path, seconds)`` (``--profile``), py-spy samples each server process
    for the first ``seconds`` into ``<path>-<n>.txt`` (collapsed stacks, the input of
    flame-graph tools; ``python -m bench.profiles`` summarises them).
    """
    spies = await _spy(running, profile) if profile else []
    with_services = (running.target.backend == "postgres") if services is None else services
    gen = generator.pid if generator else None
    before = procstat.sample(running.pids, services=with_services, generator=gen)
    result = await work
    after = procstat.sample(running.pids, services=with_services, generator=gen)
    for spy in spies:
        await spy.wait()
    return result, procstat.usage(before, after)


def _py_spy() -> str:
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(binary).exists():
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    return binary


async def _spy(running: Running, profile: tuple[Path, float]) -> list[asyncio.subprocess.Process]:
    path, seconds = profile
    binary = await asyncio.to_thread(_py_spy)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    return [
        await asyncio.create_subprocess_exec(
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--gil",
            "--nonblocking",
            "--output",
            f"{path}-{k}.txt",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for k, pid in enumerate(running.pids)
    ]


async def settle(harness: Harness, seconds: float = 2.0) -> None:
    """Let start-up work (first hub ticks, connection bursts) finish before measuring."""
    await asyncio.sleep(0.3 if harness.options.quick else seconds)


def warmup_secs(harness: Harness) -> float:
    """A short step before each measured one warms the caches (SQLAlchemy's compiled
    statements, the database's pages) so the first measured messages do not pay for it."""
    return 0.5 if harness.options.quick else 2.0
