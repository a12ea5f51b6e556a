"""Two Atelier processes serving one draft through PostgreSQL + Redis converge."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.processes import login_cookie
from tests.production.cluster import MARIE, PAUL, RedisServer, _asyncpg_url
from tests.yclient import YClient

pytestmark = pytest.mark.production


async def demo_draft_id(database_url: str) -> int:
    conn = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        return int(await conn.fetchval("SELECT min(id) FROM drafts"))
    finally:
        await conn.close()


async def test_editors_on_two_processes_converge(
    pg_url: str, shared_redis_url: str, start_atelier: object
) -> None:
    a, b = await start_atelier(shared_redis_url)  # type: ignore[operator]
    draft_id = await demo_draft_id(pg_url)
    marie_cookie = await asyncio.to_thread(login_cookie, a.base_url, MARIE)
    paul_cookie = await asyncio.to_thread(login_cookie, b.base_url, PAUL)
    marie = await YClient.connect(f"{a.ws_url}/drafts/{draft_id}", marie_cookie)
    paul = await YClient.connect(f"{b.ws_url}/drafts/{draft_id}", paul_cookie)
    await marie.synced.wait()
    await paul.synced.wait()
    for i in range(20):
        marie.text.insert(0, f"M{i} ")
        paul.text.insert(len(paul.text), f" P{i}")
    # Both sides, until they agree (a loaded CI machine may take seconds per hop).
    async with asyncio.timeout(30):
        while str(marie.text) != str(paul.text) or str(marie.text).count(" P19") != 1:
            await asyncio.sleep(0.05)
    assert "M19 " in str(paul.text)
    await marie.close()
    await paul.close()


async def test_a_lost_relay_is_repaired_from_the_log(
    pg_url: str, own_redis: RedisServer, start_atelier: object
) -> None:
    a, b = await start_atelier(own_redis.url, poll_secs=1)  # type: ignore[operator]
    draft_id = await demo_draft_id(pg_url)
    marie_cookie = await asyncio.to_thread(login_cookie, a.base_url, MARIE)
    paul_cookie = await asyncio.to_thread(login_cookie, b.base_url, PAUL)
    marie = await YClient.connect(f"{a.ws_url}/drafts/{draft_id}", marie_cookie)
    paul = await YClient.connect(f"{b.ws_url}/drafts/{draft_id}", paul_cookie)
    await marie.synced.wait()
    await paul.synced.wait()
    own_redis.kill()  # every relay from now on is lost
    marie.text.insert(0, "Écrit pendant la panne. ")
    expected = str(marie.text)
    await paul.wait_text(expected, timeout=20)  # B read it from the log
    await own_redis.start()
    await marie.close()
    await paul.close()
