"""The processes of a benchmark: Atelier servers, the baseline server, the generator.

Every process is started under ``taskset`` when the machine has it and the cores exist:
the servers on ``--server-cpus`` (default core 0), the generator on ``--generator-cpus``
(default core 1), so the two never compete for a core. PostgreSQL and Redis are the
machine's own services and are not pinned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "bench" / "loadgen" / "main.mjs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _append(path: Path) -> IO[bytes]:
    return open(path, "ab")  # closed by Generator.close


def pinned(cpus: str, args: list[str]) -> list[str]:
    """``args`` under ``taskset -c cpus`` when pinning is possible, else as is."""
    if not cpus or shutil.which("taskset") is None:
        return args
    wanted = {int(c) for part in cpus.split(",") for c in _expand(part)}
    if not wanted <= os.sched_getaffinity(0):
        return args
    return ["taskset", "-c", cpus, *args]


def _expand(part: str) -> range:
    low, _, high = part.partition("-")
    return range(int(low), int(high or low) + 1)


class Process:
    """A child process with a log file; ``stop()`` ends it (and only it)."""

    def __init__(
        self, args: list[str], *, env: dict[str, str], log_path: Path, cwd: Path = ROOT
    ) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.args[-4:]} exited with {self.popen.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


class AtelierServer(Process):
    """``python -m server run`` (migrations no-op on the seeded copy, then uvicorn)."""

    def __init__(
        self,
        database_url: str,
        *,
        cpus: str,
        log_path: Path,
        redis_url: str = "",
        broker_prefix: str = "",
        extra_env: dict[str, str] | None = None,
        source: Path | None = None,
    ) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "warning",
            # The bench's senders post far beyond a member's 20 messages per 10 s.
            "RATE_LIMIT_MESSAGES": "1000000",
            "RATE_LIMIT_WINDOW_SECS": "1",
            **({"BROKER_PREFIX": broker_prefix} if broker_prefix else {}),
            **(extra_env or {}),
        }
        args = [sys.executable, "-m", "server", "run", "--port", str(self.port)]
        if source is not None:  # another checkout's code, with this one's environment
            env["PYTHONPATH"] = str(source)
        super().__init__(pinned(cpus, args), env=env, log_path=log_path, cwd=source or ROOT)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 120.0) -> None:
        self.spawn()
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/healthz", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        self.stop()
        raise RuntimeError(f"atelier did not answer on {self.base_url} within {within}s")


class BaselineServer(Process):
    """The raw ``websockets`` server, or with ``asgi`` the same broadcast under uvicorn."""

    def __init__(
        self, *, cpus: str, log_path: Path, seeds: list[str] | None = None, asgi: bool = False
    ) -> None:
        self.port = free_port()
        module = "bench.asgi_server" if asgi else "bench.baseline_server"
        args = [sys.executable, "-m", module, "--port", str(self.port)]
        for seed in seeds or []:
            args += ["--seed-room", seed]
        super().__init__(pinned(cpus, args), env=dict(os.environ), log_path=log_path)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, within: float = 60.0) -> None:
        # Ready once it prints its URL (a probing connection would hold its shutdown for
        # websockets' 10 s opening handshake timeout).
        self.log_path.unlink(missing_ok=True)
        self.spawn()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.check_alive()
            if self.log_path.exists() and "baseline: ws://" in self.log_path.read_text():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("baseline server did not start")


class Generator:
    """The Node load generator, driven by JSON lines (``bench/loadgen/main.mjs``)."""

    def __init__(self, config: dict[str, Any], *, cpus: str, workdir: Path) -> None:
        self.config = config
        self.cpus = cpus
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None
        self.cpu_ms = 0
        self.config_path = workdir / "loadgen.json"
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self) -> Generator:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (the load generator runs on Node.js)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.config_path = self.workdir / f"loadgen-{os.getpid()}-{id(self)}.json"
        path.write_text(json.dumps(self.config))
        self._stderr = _append(self.workdir / "loadgen.stderr.log")
        self.process = await asyncio.create_subprocess_exec(
            *pinned(self.cpus, [node, str(LOADGEN), str(path)]),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
            limit=16 * 1024 * 1024,
        )
        await self._reply("ready", within=60)
        return self

    async def _reply(self, expected: str, within: float) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise RuntimeError("the load generator exited (see loadgen.stderr.log)")
                try:
                    reply = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if reply.get("event") == "failed":
                    raise RuntimeError(f"load generator: {reply.get('error')}")
                if reply.get("event") == expected:
                    self.cpu_ms = int(reply.get("generator_cpu_ms", 0))
                    return dict(reply)

    async def run(
        self, command: dict[str, Any], expected: str, within: float = 600
    ) -> dict[str, Any]:
        """Send ``command`` and wait (at most ``within`` s) for its ``expected`` reply."""
        assert self.process is not None
        assert self.process.stdin is not None
        before = self.cpu_ms
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        started = time.monotonic()
        reply = await self._reply(expected, within)
        wall = max(time.monotonic() - started, 1e-9)
        reply["generator_cpu_pct"] = round(100 * (self.cpu_ms - before) / 1000 / wall, 1)
        return reply

    async def close(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            await self.run({"cmd": "close"}, "closed", within=30)
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        await self.process.wait()
        if self._stderr is not None:
            self._stderr.close()
        self.config_path.unlink(missing_ok=True)
