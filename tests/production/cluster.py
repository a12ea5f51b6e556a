"""Pieces of a small production deployment for the scale-out tests.

- :class:`RedisServer`: a private ``redis-server`` the test can SIGKILL and restart on the
  same port, or ask to drop its pub/sub clients;
- :func:`create_demo_template` / :func:`clone_database`: the demo assembly is loaded
  once per session (password hashing makes it the slowest part of starting Atelier) and
  every test gets a fresh copy of it;
- :func:`demo_room`: the room of the demo where both sign-ins below may write;
- :func:`post_unpublished`: a committed message whose publication is lost on purpose.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis

from tests.services import create_postgres_database, free_port, postgres_admin_url, unavailable

REDIS_SERVER = "/usr/bin/redis-server"

MARIE = "marie.dupont@demo.atelier.test"
PAUL = "paul.sicard@demo.atelier.test"
# Chantier 3.2's room: Marie is its rapporteure, Paul its co-rapporteur (server/demo.py).
SHARED_ROOM_NAME = "La politique des bourgs-centres"


class RedisServer:
    """``redis-server`` without persistence on a fixed port, as a child process."""

    def __init__(self, workdir: Path) -> None:
        binary = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
        if binary is None:
            unavailable(f"{REDIS_SERVER} is not installed (apt-get install redis-server)")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 10) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.workdir
        )
        async with asyncio.timeout(timeout):
            while not await self._answers():
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                await asyncio.sleep(0.05)
        return self

    async def _answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await reader.readline()) == b"+PONG\r\n"
        except OSError:
            return False
        finally:
            writer.close()
            await writer.wait_closed()

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, every subscription and in-flight publish lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def wait_subscribers(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` pub/sub clients (the Atelier brokers) are subscribed."""
        async with asyncio.timeout(timeout):
            while (
                len((await self.command("CLIENT", "LIST", "TYPE", "pubsub")).splitlines()) < count
            ):
                await asyncio.sleep(0.05)

    async def command(self, *args: Any) -> Any:
        client = aioredis.from_url(self.url)
        try:
            return await client.execute_command(*args)
        finally:
            await client.aclose()


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_demo_template() -> str:
    """A new database, migrated, with the demo assembly: the template of each test's."""
    from server.cli import load_demo_if_empty, migrate_async
    from server.config import Settings

    url = await create_postgres_database()
    await migrate_async(url)
    await load_demo_if_empty(Settings(database_url=url), announce=False)
    return url


async def clone_database(template_url: str) -> str:
    """A fresh database copied from ``template_url`` (named like
    ``create_postgres_database``'s, for ``drop_postgres_database``)."""
    name = f"atelier_test_{uuid.uuid4().hex[:12]}"
    template = urlsplit(template_url).path.lstrip("/")
    admin_url = postgres_admin_url()
    conn = await asyncpg.connect(_asyncpg_url(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


@dataclass(frozen=True, slots=True)
class DemoRoom:
    room_id: int
    marie_id: int
    paul_id: int


async def demo_room(database_url: str) -> DemoRoom:
    conn = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        room_id = await conn.fetchval("SELECT id FROM rooms WHERE name = $1", SHARED_ROOM_NAME)
        ids = dict(
            await conn.fetch(
                "SELECT email, id FROM users WHERE email = ANY($1::text[])", [MARIE, PAUL]
            )
        )
    finally:
        await conn.close()
    assert room_id is not None, f"demo room {SHARED_ROOM_NAME!r} not found"
    return DemoRoom(room_id=room_id, marie_id=ids[MARIE], paul_id=ids[PAUL])


async def post_unpublished(database_url: str, user_id: int, room_id: int, body: str) -> int:
    """Post through the real action in a committed transaction whose outbox goes to a
    broker nobody listens to: the event is in the log, its publish is lost. Returns its seq.
    """
    from auth.roles import Permission
    from rooms.access import access_room
    from rooms.actions.messages import check_post
    from server.broker.memory import MemoryBroker
    from server.database import Database, make_engine

    db = Database(make_engine(database_url), MemoryBroker())
    try:
        async with db.transaction() as session:
            access = await access_room(session, user_id, room_id, Permission.POST_MESSAGE)
            posted = await check_post(
                session, access, topic="Montée en charge", source=body, client_id=body
            )
    finally:
        await db.dispose()
    return posted.seq
