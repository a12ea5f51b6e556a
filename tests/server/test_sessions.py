"""Sessions end everywhere at once: sign-out, revocation, deactivation, removal."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from sqlalchemy import select, update

from auth.models import LoginSession, User
from auth.sessions import revoke_all_sessions
from rooms.actions.structure import do_revoke_role
from tests.conftest import LiveServer, live_server
from tests.factories import PASSWORD, World, build_world
from tests.forms import post_form
from tests.wsclient import ProtocolClient


async def closed_within(client: ProtocolClient, seconds: float) -> int | None:
    async with asyncio.timeout(seconds):
        await client._reader
    return client.closed_code


async def test_signing_out_closes_that_sessions_sockets_at_once(
    server: LiveServer, world: World
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        signed_in = await post_form(
            http, "/connexion", data={"email": "marie@test.atelier", "password": PASSWORD}
        )
        assert signed_in.status_code == 303
        token = http.cookies["atelier_session"]
        this_tab = await ProtocolClient.connect(server.ws_url, token)
        other_device = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
        await post_form(http, "/deconnexion", {})
    assert await closed_within(this_tab, 5) == 4001
    # Another device's session is another session: it stays.
    assert (await other_device.request("ping"))["type"] == "pong"
    await other_device.close()


async def test_sign_out_everywhere_and_deactivation(server: LiveServer, world: World) -> None:
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    async with server.state.db.transaction() as session:
        assert await revoke_all_sessions(session, world.id("marie")) == 1
    assert await closed_within(marie, 5) == 4001


async def test_deactivation_made_in_the_database_closes_sockets(database_url: str) -> None:
    """No announcement for this one: the hub's session check finds it on its timer."""
    async with live_server(database_url, hub_poll_secs=0.2, session_check_secs=1) as server:
        world = await build_world(server.state.db)
        paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
        async with server.state.db.transaction() as session:
            await session.execute(
                update(User).where(User.id == world.id("paul")).values(is_active=False)
            )
        assert await closed_within(paul, 4) == 4001


async def test_idle_and_expired_sessions_are_refused(server: LiveServer, world: World) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    async with server.state.db.transaction() as session:
        await session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == world.id("elodie"))
            .values(last_seen_at=long_ago)
        )
        await session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == world.id("paul"))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for who in ("elodie", "paul"):
            http.cookies.set("atelier_session", world.cookies[who])
            assert (await http.get("/api/unread")).status_code == 401, who


async def test_removal_from_a_group_stops_its_rooms_within_a_second(
    server: LiveServer, world: World
) -> None:
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await paul.subscribe(world.group_room)
    await paul.subscribe(world.chantier_room)
    group = "group:1"  # the factory's first group
    async with server.state.db.transaction() as session:
        assert await do_revoke_role(session, world.id("paul"), group) == 1
    async with asyncio.timeout(1):
        await paul.wait_for(lambda f: f["type"] == "removed" and f["room_id"] == world.group_room)
        await paul.wait_for(
            lambda f: f["type"] == "removed" and f["room_id"] == world.chantier_room
        )
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    after = await marie.post(world.group_room, "Paul n'est plus là")
    await asyncio.sleep(0.3)
    assert not [f for f in paul.events(world.group_room) if f["seq"] == after["seq"]]
    await paul.close()
    await marie.close()


async def test_sign_in_is_throttled_per_account(server: LiveServer, world: World) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(5):
            wrong = await post_form(
                http, "/connexion", data={"email": "marie@test.atelier", "password": "pas le bon"}
            )
            assert wrong.status_code == 401
        # Even the right password waits now; an unknown account is throttled the same way.
        right = await post_form(
            http, "/connexion", data={"email": "marie@test.atelier", "password": PASSWORD}
        )
        assert right.status_code == 429
        assert "Trop de tentatives" in right.text
        for _ in range(5):
            await post_form(
                http, "/connexion", data={"email": "nobody@test.atelier", "password": "x"}
            )
        ghost = await post_form(
            http, "/connexion", data={"email": "nobody@test.atelier", "password": "x"}
        )
        assert ghost.status_code == 429


async def test_sign_in_is_throttled_per_address(server: LiveServer, world: World) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        # Spraying one guess over many accounts from one address…
        for i in range(30):
            sprayed = await post_form(
                http, "/connexion", {"email": f"cible{i}@test.atelier", "password": "x"}
            )
            assert sprayed.status_code == 401
        # …blocks that address, even for an account it never tried.
        blocked = await post_form(
            http, "/connexion", {"email": "marie@test.atelier", "password": PASSWORD}
        )
        assert blocked.status_code == 429


async def test_open_sockets_keep_their_sessions_in_use(server: LiveServer, world: World) -> None:
    """The hub's session check records use of the sessions under open sockets, writing
    each at most once per ``TOUCH_EVERY`` (not on every check)."""
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    ten_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)

    async def seen() -> dt.datetime:
        async with server.state.db.read() as session:
            login = await session.scalar(
                select(LoginSession).where(LoginSession.user_id == world.id("marie"))
            )
            assert login is not None
            assert login.last_seen_at is not None
            return login.last_seen_at.replace(tzinfo=dt.UTC)

    async def set_seen(moment: dt.datetime) -> None:
        async with server.state.db.transaction() as session:
            await session.execute(
                update(LoginSession)
                .where(LoginSession.user_id == world.id("marie"))
                .values(last_seen_at=moment)
            )

    await set_seen(ten_minutes_ago)
    await server.state.hub.check_sessions()
    assert await seen() > ten_minutes_ago + dt.timedelta(minutes=9)
    await set_seen(ten_minutes_ago)
    await server.state.hub.check_sessions()  # written a moment ago by this process
    assert abs(await seen() - ten_minutes_ago) < dt.timedelta(seconds=1)
    await marie.close()
