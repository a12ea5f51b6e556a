"""The moderation page's buttons: plain forms that lift a mute, readmit a removed member
and lift an assembly-wide block, through the real app on SQLite and PostgreSQL.

Each form runs the action the WebSocket frame runs (``rooms.actions.moderation``), so the
room and the member concerned get the same frames, after commit; the action decides who
may (a member gets a French 403 and nothing changes).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.factories import World
from tests.forms import post_form
from tests.wsclient import ProtocolClient


async def client(server: LiveServer, world: World, who: str) -> ProtocolClient:
    return await ProtocolClient.connect(server.ws_url, world.cookies[who])


def http(server: LiveServer, world: World, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies[who]}
    )


def notice(kind: str) -> Any:
    return lambda f: f["type"] == "moderation.notice" and f["kind"] == kind


def page(room: int) -> str:
    return f"/salons/{room}/moderation"


def form(room: int, user_id: int, act: str) -> str:
    return f"{page(room)}/membres/{user_id}/{act}"


async def lift(
    server: LiveServer, world: World, who: str, room: int, user_id: int, act: str
) -> tuple[httpx.Response, httpx.Response | None]:
    """Post the page's form as ``who`` does; the page it redirects to, if it does."""
    async with http(server, world, who) as session:
        posted = await post_form(session, form(room, user_id, act), {})
        if posted.status_code != 303:
            return posted, None
        return posted, await session.get(posted.headers["location"])


async def get_report(server: LiveServer, world: World, room: int) -> Any:
    async with http(server, world, "copilote") as session:
        response = await session.get(f"/api/rooms/{room}/moderation")
    assert response.status_code == 200
    return response.json()


async def test_a_copilot_lifts_a_mute_and_the_member_writes_again(
    server: LiveServer, world: World
) -> None:
    room, paul_id = world.group_room, world.id("paul")
    copilote = await client(server, world, "copilote")
    paul = await client(server, world, "paul")
    marie = await client(server, world, "marie")
    await marie.subscribe(room)
    await copilote.request(
        "member.mute", room_id=room, user_id=paul_id, seconds=3600, reason="Calme"
    )
    assert (await paul.post(room, "je proteste"))["code"] == "muted"

    async with http(server, world, "copilote") as session:
        shown = await session.get(page(room))
    assert f'action="{form(room, paul_id, "sourdine-levee")}"' in shown.text
    assert 'aria-label="Lever la sourdine imposée à Paul Sicard"' in shown.text

    posted, after = await lift(server, world, "copilote", room, paul_id, "sourdine-levee")
    assert posted.status_code == 303
    assert posted.headers["location"] == f"{page(room)}?ok=sourdine-levee&membre={paul_id}"
    assert after is not None
    assert after.status_code == 200
    assert "Sourdine levée pour Paul Sicard" in after.text
    assert form(room, paul_id, "sourdine-levee") not in after.text
    # The same frames as ``member.unmute``: the room's event, the member's notice.
    event = await marie.wait_for(lambda f: f["type"] == "member.unmuted")
    assert (event["room_id"], event["user"]["id"]) == (room, paul_id)
    assert (await paul.wait_for(notice("unmuted")))["room_id"] == room
    assert (await paul.post(room, "merci"))["type"] == "ack"

    # Again (a double submit, another moderator was quicker): nothing to lift, said so.
    again, said = await lift(server, world, "copilote", room, paul_id, "sourdine-levee")
    assert again.headers["location"].endswith(f"?ok=inchange&membre={paul_id}")
    assert said is not None
    assert "Rien à lever pour Paul Sicard" in said.text
    report = await get_report(server, world, room)
    assert [e["action"] for e in report["log"][:2]] == ["member.unmuted", "member.muted"]
    for c in (copilote, paul, marie):
        await c.close()


async def test_a_copilot_readmits_a_removed_member_who_reads_again(
    server: LiveServer, world: World
) -> None:
    room, paul_id = world.group_room, world.id("paul")
    copilote = await client(server, world, "copilote")
    paul = await client(server, world, "paul")
    await copilote.request("member.remove", room_id=room, user_id=paul_id, reason="Harcèlement")
    assert (await paul.request("subscribe", rooms=[{"room_id": room}]))["code"] == "room_excluded"

    posted, after = await lift(server, world, "copilote", room, paul_id, "readmission")
    assert posted.status_code == 303
    assert after is not None
    assert "Paul Sicard est réadmis·e dans ce salon" in after.text
    assert (await paul.wait_for(notice("readmitted")))["room_id"] == room
    await paul.subscribe(room)
    async with http(server, world, "paul") as session:
        assert (await session.get(f"/api/rooms/{room}/messages")).status_code == 200
        assert (await session.get(f"/salons/{room}")).status_code == 200
    assert (await paul.post(room, "merci"))["type"] == "ack"
    report = await get_report(server, world, room)
    assert report["exclusions"] == []
    assert report["log"][0]["action"] == "member.readmitted"
    for c in (copilote, paul):
        await c.close()


async def test_only_the_comite_and_admins_unblock(server: LiveServer, world: World) -> None:
    room, paul_id = world.group_room, world.id("paul")
    admin = await client(server, world, "admin")
    paul = await client(server, world, "paul")
    await admin.request("member.block", user_id=paul_id, reason="Propos haineux")
    await paul.wait_for(notice("blocked"))

    # A copilot sees the block, but not the button, and the form is refused.
    async with http(server, world, "copilote") as session:
        shown = await session.get(page(room))
    assert "Propos haineux" in shown.text
    assert "Levée réservée au comité" in shown.text
    assert form(room, paul_id, "deblocage") not in shown.text
    refused, _ = await lift(server, world, "copilote", room, paul_id, "deblocage")
    assert refused.status_code == 403
    assert "Votre rôle ne permet pas cette action." in refused.text
    assert (await paul.post(room, "bonjour"))["code"] == "blocked"

    async with http(server, world, "admin") as session:
        shown = await session.get(page(room))
    assert f'action="{form(room, paul_id, "deblocage")}"' in shown.text
    posted, after = await lift(server, world, "admin", room, paul_id, "deblocage")
    assert posted.status_code == 303
    assert after is not None
    assert "Blocage levé pour Paul Sicard" in after.text
    await paul.wait_for(notice("unblocked"))
    assert (await paul.post(room, "merci"))["type"] == "ack"
    assert (await paul.post(world.chantier_room, "ici aussi"))["type"] == "ack"
    for c in (admin, paul):
        await c.close()


async def test_a_member_is_refused_and_nothing_changes(server: LiveServer, world: World) -> None:
    room, paul_id = world.group_room, world.id("paul")
    copilote = await client(server, world, "copilote")
    admin = await client(server, world, "admin")
    paul = await client(server, world, "paul")
    await copilote.request(
        "member.mute", room_id=room, user_id=paul_id, seconds=3600, reason="Calme"
    )
    await copilote.request(
        "member.remove", room_id=room, user_id=world.id("elodie"), reason="Harcèlement"
    )
    await admin.request("member.block", user_id=world.id("rapporteur"), reason="Insultes")
    before = await get_report(server, world, room)

    for user_id, act in (
        (paul_id, "sourdine-levee"),
        (world.id("elodie"), "readmission"),
        (world.id("rapporteur"), "deblocage"),
    ):
        refused, _ = await lift(server, world, "marie", room, user_id, act)
        assert refused.status_code == 403, act
        assert "Votre rôle ne permet pas cette action." in refused.text
    after = await get_report(server, world, room)
    for key in ("mutes", "exclusions", "blocks", "log"):
        assert after[key] == before[key], key
    assert (await paul.post(room, "toujours en sourdine"))["code"] == "muted"
    assert not [f for f in await paul.quiet(0.3) if f["type"] == "moderation.notice"]

    async with http(server, world, "copilote") as session:
        # A form without its CSRF token, an unknown act, an unknown room.
        forged = await session.post(form(room, paul_id, "sourdine-levee"))
        assert forged.status_code == 403
        assert "Le formulaire a expiré" in forged.text
        unknown = await post_form(session, form(room, paul_id, "bannissement"), {})
        assert unknown.status_code == 404
        missing = await post_form(session, form(999_999, paul_id, "sourdine-levee"), {})
        assert missing.status_code == 404
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        signed_out = await post_form(anonymous, form(room, paul_id, "sourdine-levee"), {})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/connexion?next={page(room)}"
    still = await get_report(server, world, room)
    assert [m["user"]["id"] for m in still["mutes"]] == [paul_id]
    for c in (copilote, admin, paul):
        await c.close()


async def test_the_room_page_offers_blocking_to_admins_only(
    server: LiveServer, world: World
) -> None:
    # Blocking is assembly-wide: the room page's menu offers it where the matrix grants it.
    for who, offered in (("admin", "true"), ("copilote", "false"), ("marie", "false")):
        async with http(server, world, who) as session:
            room_page = await session.get(f"/salons/{world.group_room}")
        assert f'"can_block": {offered}' in room_page.text, who
