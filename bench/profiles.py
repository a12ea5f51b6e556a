"""Summarise py-spy profiles (collapsed stacks, ``--format raw``) of ``--profile`` runs.

``python -m bench.profiles var/bench/profiles/*.txt [--top 25]`` prints, per file: the share
of samples spent *inside* each area (a sample counts once per area found in its stack:
database, WebSocket writes, JSON, Markdown…), the functions of the project that hold the
most samples inclusively, and the functions where the samples actually are (self time).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")
AREAS: dict[str, tuple[str, ...]] = {
    "database (SQLAlchemy, drivers)": ("sqlalchemy/", "aiosqlite/", "asyncpg/", "sqlite3/"),
    "WebSocket I/O (uvicorn, websockets)": ("uvicorn/protocols/websockets", "websockets/"),
    "Starlette": ("starlette/",),
    "JSON": ("json/",),
    "Markdown rendering": ("documents/rendering.py", "markdown_it/", "linkify_it/", "nh3"),
    "Redis broker": ("redis/", "server/broker/redis.py"),
    "hub dispatch": ("server/hub.py",),
    "per-connection sender": ("server/connection.py",),
    "gateway handlers": ("server/gateway.py",),
    "drafts (server/drafts.py)": ("server/drafts.py",),
    "pycrdt": ("pycrdt/",),
    "asyncio event loop": ("asyncio/",),
}
PROJECT = ("server/", "rooms/", "documents/", "auth/")


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            match = FRAME.match(raw.strip())
            frames.append((match["func"], match["file"]) if match else (raw, ""))
        stacks.append((frames, int(count)))
    return stacks


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def summarise(path: Path, top: int = 20) -> str:
    stacks = parse(path)
    total = sum(count for _, count in stacks) or 1
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for frames, count in stacks:
        files = [_short(f) for _, f in frames]
        for area, markers in AREAS.items():
            if any(m in f for f in files for m in markers):
                areas[area] += count
        seen = set()
        for func, file in frames:
            short = _short(file)
            if short.startswith(PROJECT):
                key = f"{short}:{func}"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += count
        func, file = frames[-1]
        leaf[f"{_short(file)}:{func}"] += count
    out = [f"## {path.name}: {total} samples", "", "Areas (inclusive):"]
    out += [f"  {100 * n / total:5.1f}%  {area}" for area, n in areas.most_common()]
    out += ["", "Project functions (inclusive):"]
    out += [f"  {100 * n / total:5.1f}%  {key}" for key, n in inclusive.most_common(top)]
    out += ["", "Self time:"]
    out += [f"  {100 * n / total:5.1f}%  {key}" for key, n in leaf.most_common(top)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profiles", description=__doc__.splitlines()[0]
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    for path in args.files:
        print(summarise(path, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
