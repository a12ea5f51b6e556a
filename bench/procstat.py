"""CPU time and memory of processes, read straight from ``/proc`` (no psutil).

- CPU: ``utime + stime`` of ``/proc/<pid>/stat`` in clock ticks, turned into seconds; a
  difference between two readings over the wall time between them is the CPU share
  (1.0 = one core busy).
- Memory: ``VmRSS`` (resident now) and ``VmHWM`` (the peak resident size since the
  process started) from ``/proc/<pid>/status``. Each scenario starts fresh server
  processes, so ``VmHWM`` is the scenario's peak.
- Run-queue wait: the second field of ``/proc/<pid>/task/*/schedstat``, the time the
  process's threads were ready to run but waiting for a core. It is the noise gauge: on a
  quiet machine it stays near 0; when other people's tests share the cores it is where
  latency spikes come from.
- I/O pressure: the "some" line of ``/proc/pressure/io`` (PSI), the time at least one
  task of the machine was stalled on I/O — ours or anyone's. Beside the run-queue wait,
  it tells a step slowed by a busy disk (SQLite's commits) from one slowed by busy cores.
- Database and broker CPU: the sum over every ``postgres`` / ``redis-server`` process of
  the machine. Backends that exit between two readings are missed and other users' load
  is included, so it is an indication, not a measurement.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0.0 once it has exited)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # The command name may contain spaces: fields start after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu_seconds(pid: int) -> float:
    """CPU seconds of the threads of ``pid`` other than its main thread (for Atelier on
    SQLite: aiosqlite's worker threads, where SQLite itself runs)."""
    total = 0.0
    try:
        tasks = [t for t in (PROC / str(pid) / "task").iterdir() if t.name != str(pid)]
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    for task in tasks:
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def runqueue_wait_seconds(pid: int) -> float:
    """Seconds the threads of ``pid`` spent runnable but waiting for a core."""
    total = 0
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int:
    return _status_kib(pid, "VmHWM") * 1024


def pids_named(*names: str) -> list[int]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in names:
                found.append(int(entry.name))
    return found


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    cpu: dict[int, float]
    services_cpu: float
    server_wait: float
    generator_wait: float
    threads: float
    io_stall: float | None  # seconds, machine-wide (PSI); None without /proc/pressure


def sample(pids: list[int], *, services: bool = False, generator: int | None = None) -> Sample:
    """CPU seconds of ``pids`` now (and of PostgreSQL + Redis when ``services``), and the
    run-queue waits of the servers and of the generator."""
    cpu = {pid: cpu_seconds(pid) for pid in pids}
    service = (
        sum(cpu_seconds(p) for p in pids_named("postgres", "redis-server")) if services else 0.0
    )
    wait = sum(runqueue_wait_seconds(p) for p in pids)
    gen_wait = runqueue_wait_seconds(generator) if generator else 0.0
    threads = sum(thread_cpu_seconds(p) for p in pids)
    return Sample(time.monotonic(), cpu, service, wait, gen_wait, threads, io_stall_seconds())


def io_stall_seconds() -> float | None:
    """Total time some task of the machine was stalled on I/O (PSI), or ``None``."""
    try:
        text = (PROC / "pressure" / "io").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("some "):
            return int(line.rsplit("total=", 1)[1]) / 1e6
    return None


def usage(before: Sample, after: Sample) -> dict[str, float]:
    """CPU shares between two samples: of the servers (summed) and of the services; the
    share of the wall time the servers and the generator waited for a core."""
    wall = max(after.at - before.at, 1e-9)
    used = sum(after.cpu[p] - before.cpu.get(p, 0.0) for p in after.cpu)
    return {
        "wall_s": round(wall, 3),
        "server_cpu_s": round(used, 3),
        "server_cpu_pct": round(100 * used / wall, 1),
        "services_cpu_pct": round(100 * (after.services_cpu - before.services_cpu) / wall, 1),
        "server_other_threads_cpu_pct": round(100 * (after.threads - before.threads) / wall, 1),
        "server_runq_wait_pct": round(100 * (after.server_wait - before.server_wait) / wall, 1),
        "generator_runq_wait_pct": round(
            100 * (after.generator_wait - before.generator_wait) / wall, 1
        ),
        "io_pressure_pct": None
        if after.io_stall is None or before.io_stall is None
        else round(100 * (after.io_stall - before.io_stall) / wall, 1),
    }


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = (float(x) for x in (PROC / "loadavg").read_text().split()[:3])
    return one, five, fifteen


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    model = "?"
    for line in (PROC / "cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in (PROC / "meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
    }
