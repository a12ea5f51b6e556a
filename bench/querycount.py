"""Count the SQL statements behind each operation: ``python -m bench.querycount``.

Runs Atelier in this process (uvicorn on a free port, a copy of the quick seed, hub
timers slowed down so they stay out of the counts), listens to every statement SQLAlchemy
sends, and drives one WebSocket client through: the handshake (``hello``), a
``subscribe``, ``send`` (averaged over 50), a ``subscribe`` with ``after_seq`` and a history
page. Prints the statements of each, grouped by their first words. A diagnostic for the
findings in ``docs/performance.md``, not a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from websockets.asyncio.client import connect

import server.database as database_module
from bench import planaudit
from bench.seed import QUICK, SeedCache
from bench.servers import free_port
from server.app import create_app
from server.cli import websocket_options
from server.config import load_settings

statements: list[str] = []
checkouts: list[int] = []


def _record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
    statements.append(" ".join(sql.split()))


def _record_traced(sql: str) -> None:
    """The trace gives the SQL with its values: put the placeholders back, to group."""
    statements.append(planaudit.shape(sql))


def _trace_writer() -> None:
    """SQLite's direct writer (messages, draft updates: ``SqliteWriter``) bypasses
    SQLAlchemy: record its statements through ``sqlite3``'s trace callback. (On
    PostgreSQL the same paths go through asyncpg directly and are not counted.)"""
    plain = database_module.set_sqlite_pragmas

    def traced(connection: Any) -> None:
        plain(connection)
        if isinstance(connection, sqlite3.Connection):
            connection.set_trace_callback(_record_traced)

    database_module.set_sqlite_pragmas = traced


def _checkout(*_: Any) -> None:
    checkouts.append(1)


def _shape(sql: str) -> str:
    sql = re.sub(r"\(\?(, \?)*\)|\(\$\d+(, \$\d+)*\)", "(…)", sql)
    words = sql.split(" FROM ", 1)
    head = words[0][:60] + ("…" if len(words[0]) > 60 else "")
    table = re.match(r"(\w+)", words[1]).group(1) if len(words) > 1 else ""  # type: ignore[union-attr]
    where = re.search(r" WHERE (.{0,70})", sql)
    return f"{head}{' FROM ' + table if table else ''}{' WHERE ' + where.group(1) if where else ''}"


async def _count(label: str, times: int, action: Callable[[], Awaitable[None]]) -> None:
    statements.clear()
    checkouts.clear()
    for _ in range(times):
        await action()
    await asyncio.sleep(0.05)
    counts = Counter(_shape(s) for s in statements)
    print(
        f"\n{label}: {len(statements) / times:.1f} statements in {len(checkouts) / times:.1f} "
        "pool checkouts each (PostgreSQL: pool_pre_ping adds BEGIN, ping, ROLLBACK to each)"
    )
    for sql, n in counts.most_common():
        print(f"  {n / times:5.1f} × {sql}")


async def main(backend: str, pg_url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = SeedCache(Path(tmp), QUICK, pg_admin_url=pg_url)
        world = await cache.world(backend, announce=lambda _: None)
        url = await cache.fresh_copy(backend, "count")
        env = {"DATABASE_URL": url, "HUB_POLL_SECS": "3600", "RATE_LIMIT_MESSAGES": "100000"}
        port = free_port()
        settings = load_settings(env)
        config = uvicorn.Config(
            create_app(settings), port=port, log_level="warning", **websocket_options(settings)
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.05)
        event.listen(Engine, "before_cursor_execute", _record)
        _trace_writer()
        event.listen(Pool, "checkout", _checkout)
        token, room = world["tokens"][0], world["fanout_rooms"][0]
        headers = {"Cookie": f"atelier_session={token}"}
        ws_url = f"ws://127.0.0.1:{port}/ws"
        try:
            sockets = []

            async def hello() -> None:
                ws = await connect(ws_url, additional_headers=headers)
                await ws.recv()
                sockets.append(ws)

            await _count("connect (handshake until hello)", 5, hello)
            ws = sockets[0]
            frames = iter(range(10_000))

            async def request(frame: dict[str, Any]) -> None:
                request_id = f"q{next(frames)}"
                await ws.send(json.dumps({**frame, "id": request_id}))
                while True:
                    answer = json.loads(await ws.recv())
                    if answer.get("id") == request_id:
                        assert answer["type"] == "ack", answer
                        return

            await _count(
                "subscribe (from now)",
                1,
                lambda: request({"type": "subscribe", "rooms": [{"room_id": room}]}),
            )
            sends = iter(range(10_000))
            await _count(
                "send",
                50,
                lambda: request(
                    {
                        "type": "send",
                        "room_id": room,
                        "topic": "Charge",
                        "body": "Message de charge",
                        "client_id": f"count-{next(sends)}",
                    }
                ),
            )
            await _count(
                "subscribe with after_seq (200 events behind)",
                1,
                lambda: request(
                    {
                        "type": "subscribe",
                        "rooms": [{"room_id": world["resume_room"], "after_seq": 0}],
                    }
                ),
            )
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", cookies={"atelier_session": token}
            ) as http:

                async def page() -> None:
                    response = await http.get(
                        f"/api/rooms/{world['history_room']}/messages",
                        params={"before": 1000, "limit": 100},
                    )
                    response.raise_for_status()

                await _count("history page of 100", 3, page)
            for sock in sockets:
                await sock.close()
        finally:
            event.remove(Engine, "before_cursor_execute", _record)
            event.remove(Pool, "checkout", _checkout)
            server.should_exit = True
            await task
            await cache.drop_copy(backend, "count")
            await cache.drop_seeds(backend, keep_current=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.querycount", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    asyncio.run(main(args.backend, args.pg_url))
