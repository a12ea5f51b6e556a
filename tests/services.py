"""Real services for the tests: SQLite files, a fresh PostgreSQL database, Redis keyspaces.

PostgreSQL and Redis come from ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``. When they are
unset or unreachable the tests that need them are skipped with the reason — unless
``ATELIER_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns the skip into a failure
so CI can never pass without having exercised the production path.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("ATELIER_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip (or fail, when services are required) with ``reason``."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def postgres_admin_url() -> str:
    """The configured PostgreSQL URL, or skip/fail with the reason."""
    if not TEST_DATABASE_URL:
        unavailable("TEST_DATABASE_URL is not set (PostgreSQL tests need it)")
    if not _reachable(TEST_DATABASE_URL, 5432):
        unavailable(f"PostgreSQL is not reachable at {TEST_DATABASE_URL}")
    return TEST_DATABASE_URL


def redis_url() -> str:
    """The configured Redis URL, or skip/fail with the reason."""
    if not TEST_REDIS_URL:
        unavailable("TEST_REDIS_URL is not set (Redis tests need it)")
    if not _reachable(TEST_REDIS_URL, 6379):
        unavailable(f"Redis is not reachable at {TEST_REDIS_URL}")
    return TEST_REDIS_URL


async def _admin(sql: str) -> None:
    import asyncpg

    url = postgres_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_postgres_database() -> str:
    """Create an empty database for one test and return its SQLAlchemy URL."""
    name = f"atelier_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_admin_url())
    return parts._replace(path=f"/{name}").geturl()


async def drop_postgres_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    for _ in range(10):
        try:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception:
            await asyncio.sleep(0.2)


def redis_prefix() -> str:
    """A keyspace/channel prefix unique to one test."""
    return f"atelier-test-{uuid.uuid4().hex[:10]}:"
