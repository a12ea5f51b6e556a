"""Fixtures of the scale-out tests: a fresh PostgreSQL database, Redis, Atelier processes.

Every test gets its own database (a copy of a demo assembly loaded once per session) and
its own broker prefix, so tests never hear each other even on the machine's shared
Redis. The Atelier processes log to the test's ``tmp_path``; their logs are printed when
the test fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess, login_cookie
from tests.production.cluster import (
    DemoRoom,
    RedisServer,
    clone_database,
    create_demo_template,
    demo_room,
)
from tests.production.wsclient import ChatClient
from tests.services import drop_postgres_database, postgres_admin_url, redis_prefix, redis_url

StartAtelier = Callable[..., Awaitable[list[ServerProcess]]]
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True  # the fixtures print the server logs
    return report


@pytest.fixture(scope="session")
def demo_template() -> Iterator[str]:
    """A migrated database holding the demo assembly, never served: only copied."""
    postgres_admin_url()  # skip (or fail) at once without PostgreSQL
    url = asyncio.run(create_demo_template())
    try:
        yield url
    finally:
        asyncio.run(drop_postgres_database(url))


@pytest.fixture(scope="session")
def room(demo_template: str) -> DemoRoom:
    """The demo room where Marie and Paul may both write (same ids in every copy)."""
    return asyncio.run(demo_room(demo_template))


@pytest.fixture
async def pg_url(demo_template: str) -> AsyncIterator[str]:
    """This test's own database: a fresh copy of the demo assembly."""
    url = await clone_database(demo_template)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
def shared_redis_url() -> str:
    """The machine's Redis (``TEST_REDIS_URL``)."""
    return redis_url()


@pytest.fixture
async def own_redis(pg_url: str, tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A private redis-server this test may kill and restart (set up after the database,
    so it outlives the Atelier processes that use it)."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def start_atelier(
    pg_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StartAtelier]:
    """``await start_atelier(broker_url, count=2, poll_secs=None)``: Atelier processes
    ("A", "B", ...) serving the test's database through one broker prefix."""
    prefix = redis_prefix()
    started: list[ServerProcess] = []

    async def start(
        broker_url: str, *, count: int = 2, poll_secs: float | None = None
    ) -> list[ServerProcess]:
        env = {"RATE_LIMIT_MESSAGES": "100000"}
        if poll_secs is not None:
            env["HUB_POLL_SECS"] = str(poll_secs)
        processes = [
            ServerProcess(
                pg_url,
                redis_url=broker_url,
                broker_prefix=prefix,
                demo=False,  # the database already holds the demo: no loading race
                extra_env=env,
                log_path=tmp_path / f"atelier-{chr(ord('A') + index)}.log",
            )
            for index in range(count)
        ]
        started.extend(processes)
        await asyncio.gather(*(asyncio.to_thread(p.start) for p in processes))
        return processes

    try:
        yield start
    finally:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in started))
        if request.node.stash.get(_FAILED, False):
            for log in sorted(tmp_path.glob("atelier-*.log")):
                print(f"----- {log.name} -----\n{log.read_text(errors='replace')[-20_000:]}")


@pytest.fixture
async def connect(
    start_atelier: StartAtelier,
) -> AsyncIterator[Callable[[ServerProcess, str, str], Awaitable[ChatClient]]]:
    """``await connect(process, email, name)``: a signed-in WebSocket, closed at teardown
    (before the processes stop)."""
    clients: list[ChatClient] = []

    async def open_client(process: ServerProcess, email: str, name: str) -> ChatClient:
        cookie = await asyncio.to_thread(login_cookie, process.base_url, email)
        client = await ChatClient.open(process.ws_url, cookie, name)
        clients.append(client)
        return client

    try:
        yield open_client
    finally:
        for client in clients:
            await client.close()
