"""The asyncpg connections kept for the hot writes on PostgreSQL (``AsyncpgWriters``):
kept between writes, never shared by two writes at once, planning with generic plans,
closed (never back in the pool with that setting) when a write fails, when they are too
old and when the database is disposed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.broker.memory import MemoryBroker
from server.database import AsyncpgWriters, Database, make_engine
from tests.conftest import LiveServer
from tests.factories import World
from tests.wsclient import ProtocolClient


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    if not database_url.startswith("postgresql"):
        pytest.skip("kept connections are PostgreSQL's (SQLite writes with its own)")
    database = Database(make_engine(database_url), MemoryBroker())
    try:
        yield database
    finally:
        await database.dispose()


async def _pid(connection: Any) -> int:
    return int(await connection.fetchval("SELECT pg_backend_pid()"))


def _checked_out(db: Database) -> int:
    return int(db.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def _plan_mode(connection: Any) -> str:
    return str(await connection.fetchval("SHOW plan_cache_mode"))


async def _pooled(db: Database) -> tuple[int, str]:
    """The pid and plan mode of the connection the pool lends next."""
    async with db.engine.connect() as borrowed:
        driver = (await borrowed.get_raw_connection()).driver_connection
        return await _pid(driver), await _plan_mode(driver)


async def test_writes_one_after_another_use_the_same_kept_connection(db: Database) -> None:
    writers = db.asyncpg_writers
    assert writers is not None
    first = await writers.run(_pid)
    assert _checked_out(db) == 1, "kept between writes"
    assert await writers.run(_pid) == first
    assert _checked_out(db) == 1


async def test_writes_at_the_same_time_never_share_a_connection(db: Database) -> None:
    writers = db.asyncpg_writers
    assert writers is not None
    await writers.run(_pid)
    release = asyncio.Event()

    async def hold(connection: Any) -> int:
        pid = await _pid(connection)
        await release.wait()
        return pid

    holding = [asyncio.create_task(writers.run(hold)) for _ in range(3)]
    await asyncio.sleep(0.2)
    release.set()
    pids = await asyncio.gather(*holding)
    assert len(set(pids)) == 3
    assert _checked_out(db) == AsyncpgWriters.KEEP, "the others went back to the pool"


async def test_kept_connections_plan_generically_and_the_pool_keeps_the_default(
    db: Database,
) -> None:
    """The setting is the kept connections' only: the one lent by the pool to a third
    writer at the same time goes back unchanged."""
    writers = db.asyncpg_writers
    assert writers is not None
    release = asyncio.Event()

    async def hold(connection: Any) -> tuple[int, str]:
        found = await _pid(connection), await _plan_mode(connection)
        await release.wait()
        return found

    holding = [asyncio.create_task(writers.run(hold)) for _ in range(3)]
    await asyncio.sleep(0.2)
    release.set()
    await asyncio.gather(*holding)
    modes = {await writers.run(_plan_mode) for _ in range(AsyncpgWriters.KEEP)}
    assert modes == {"force_generic_plan"}
    kept = {await _pid(driver) for _, driver, _ in writers._kept}
    pid, mode = await _pooled(db)
    assert pid not in kept
    assert mode == "auto", "the third writer's connection went back as it came"


async def test_a_connection_that_cannot_be_set_up_is_not_kept_and_the_write_returns(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The setup runs after the write committed: its failure must not lose the result."""
    writers = AsyncpgWriters(db.engine)
    writers.GENERIC_PLANS = "SET plan_cache_mode = no_such_mode"
    assert await writers.run(_pid) > 0
    assert writers._kept == []
    assert _checked_out(db) == 0
    assert "could not be set up" in caplog.text


async def test_a_failed_write_gives_its_connection_back(db: Database) -> None:
    writers = db.asyncpg_writers
    assert writers is not None
    await writers.run(_pid)

    async def fails(connection: Any) -> None:
        await connection.execute("SELECT 1/0")

    (kept,) = [await _pid(driver) for _, driver, _ in writers._kept]
    with pytest.raises(Exception, match="division by zero"):
        await writers.run(fails)
    assert _checked_out(db) == 0
    pid, mode = await _pooled(db)
    assert (pid, mode) != (kept, "force_generic_plan"), "closed, not pooled"
    assert mode == "auto"
    assert await writers.run(_pid) > 0, "the next write gets a working connection"


async def test_a_connection_older_than_the_recycle_age_goes_back(db: Database) -> None:
    writers = AsyncpgWriters(db.engine, recycle=0.0)
    await writers.run(_pid)
    assert _checked_out(db) == 0, "borrowed, too old to keep: back to the pool"
    writers = db.asyncpg_writers
    assert writers is not None
    kept = await writers.run(_pid)
    assert _checked_out(db) == 1
    writers.recycle = 0.0
    assert await writers.run(_pid) == kept, "used once more, then closed"
    assert _checked_out(db) == 0
    pid, mode = await _pooled(db)
    assert pid != kept, "closed, not pooled with its setting"
    assert mode == "auto"


async def test_dispose_gives_the_kept_connections_back(db: Database) -> None:
    writers = db.asyncpg_writers
    assert writers is not None
    kept = await writers.run(_pid)
    assert _checked_out(db) == 1
    await writers.close()
    assert _checked_out(db) == 0
    pid, mode = await _pooled(db)
    assert pid != kept, "closed, not pooled with its setting"
    assert mode == "auto"


async def test_a_kept_connection_killed_by_the_server_costs_no_message(
    server: LiveServer, world: World
) -> None:
    """PostgreSQL restarted, or an idle connection cut: the kept connection is dead. The
    next send still gets its ack (its batch fails and it is written alone, in a
    session), and the sends after it get a working connection again."""
    db = server.state.db
    writers = db.asyncpg_writers
    if writers is None:
        pytest.skip("kept connections are PostgreSQL's")
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    room = world.group_room
    await paul.subscribe(room)
    try:
        await marie.post(room, "avant")
        (kept_pid,) = [await _pid(driver) for _, driver, _ in writers._kept]
        async with db.engine.connect() as other:
            await other.exec_driver_sql(f"SELECT pg_terminate_backend({kept_pid})")
        for body in ("pendant", "après", "encore"):
            ack = await marie.post(room, body)
            assert ack["type"] == "ack", ack
            event = await paul.wait_event(room, ack["seq"])
            assert event["message"]["source"] == body
        assert [await _pid(driver) for _, driver, _ in writers._kept] != [kept_pid]
    finally:
        await marie.close()
        await paul.close()
