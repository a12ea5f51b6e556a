"""Fixtures shared by the suite: a real database per test, and a real server.

``backend`` runs a test on SQLite and, when ``TEST_DATABASE_URL`` is set, again on a
fresh PostgreSQL database (``tests/services.py`` skips or fails with the reason). The
``server`` fixture serves the real app with uvicorn on a free port inside the test's
event loop, so WebSocket and HTTP tests speak to it over real sockets while the test can
still seed data through the same ``Database``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from server.app import create_app
from server.broker.memory import MemoryBroker
from server.cli import migrate_async, websocket_options
from server.config import load_settings
from server.database import Database, make_engine
from server.state import AppState
from tests.factories import World, build_world
from tests.services import (
    create_postgres_database,
    drop_postgres_database,
    free_port,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.production)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/atelier.db"
        await migrate_async(url)
        yield url
        return
    url = await create_postgres_database()
    try:
        await migrate_async(url)
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The application's ``Database`` on ``database_url``, with the in-process broker."""
    database = Database(make_engine(database_url), MemoryBroker())
    try:
        yield database
    finally:
        await database.dispose()


class LiveServer:
    """The app served by uvicorn in this event loop; ``state`` is its ``AppState``."""

    def __init__(self, database_url: str, **overrides: object) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.settings = load_settings(
            {}, database_url=database_url, port=self.port, log_level="warning", **overrides
        )
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            log_level="warning",
            **websocket_options(self.settings),
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.atelier
        return state

    async def start(self) -> LiveServer:
        self._server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)


@contextlib.asynccontextmanager
async def live_server(database_url: str, **overrides: object) -> AsyncIterator[LiveServer]:
    server = await LiveServer(database_url, **overrides).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    """A server whose rate limit does not get in the way of bulk sends (tested apart)."""
    async with live_server(database_url, rate_limit_messages=100_000) as running:
        yield running


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await build_world(server.state.db)
