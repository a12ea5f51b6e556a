"""Procurations over the WebSocket: giving, voting for the giver, the one-proxy rules,
revoking until used, the log, and how participation and quorum count the represented."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select

from rooms.models import PollParticipation, PollProxy
from tests.conftest import LiveServer
from tests.factories import World
from tests.server.test_polls import client, open_poll
from tests.wsclient import ProtocolClient


async def clients(server: LiveServer, world: World, *who: str) -> dict[str, ProtocolClient]:
    return {w: await client(server, world, w) for w in who}


async def close_all(cs: dict[str, ProtocolClient]) -> None:
    for c in cs.values():
        await c.close()


def refused(frame: dict[str, Any], code: str, reason: str | None = None) -> None:
    assert (frame["type"], frame["code"]) == ("error", code), frame
    if reason is not None:
        assert frame["reason"] == reason, frame


async def test_holder_votes_for_the_giver_and_quorum_counts_them(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    c = await clients(server, world, "copilote", "marie", "paul", "elodie")
    await c["elodie"].subscribe(room)
    poll_id = (await open_poll(c["copilote"], room, quorum=0.5))["poll_id"]
    given = await c["marie"].request(
        "proxy.give", room_id=room, holder_id=world.id("paul"), poll_id=poll_id
    )
    assert given["type"] == "ack", given
    event = await c["elodie"].wait_event(room, given["seq"])
    assert event["type"] == "proxy.given"
    assert event["proxy"]["giver"] == {"id": world.id("marie"), "name": "Marie Dupont"}
    assert event["proxy"]["holder"]["id"] == world.id("paul")
    assert event["proxy"]["poll_id"] == poll_id

    # Marie gave her vote: she does not vote herself while the proxy stands.
    refused(
        await c["marie"].request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A"),
        "proxy_given",
    )
    # Élodie holds no proxy from Marie.
    refused(
        await c["elodie"].request(
            "poll.vote",
            room_id=room,
            poll_id=poll_id,
            ballot="Plan A",
            for_user_id=world.id("marie"),
        ),
        "no_proxy",
    )
    for_marie = await c["paul"].request(
        "poll.vote", room_id=room, poll_id=poll_id, ballot="Plan B", for_user_id=world.id("marie")
    )
    assert for_marie["type"] == "ack", for_marie
    own = await c["paul"].request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan C")
    assert (own["type"], own["replaced"]) == ("ack", False)
    # The holder may change the ballot he cast for Marie until the close.
    changed = await c["paul"].request(
        "poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A", for_user_id=world.id("marie")
    )
    assert changed["replaced"] is True
    # Used: Marie can no longer take her proxy back.
    refused(
        await c["marie"].request("proxy.revoke", room_id=room, proxy_id=given["proxy_id"]),
        "proxy_used",
    )
    async with server.state.db.read() as session:
        rows = list(
            await session.execute(
                select(PollParticipation.user_id, PollParticipation.proxy_id).where(
                    PollParticipation.poll_id == poll_id
                )
            )
        )
    assert sorted(rows) == sorted(
        [(world.id("marie"), given["proxy_id"]), (world.id("paul"), None)]
    )

    closed = await c["copilote"].request("poll.close", room_id=room, poll_id=poll_id)
    result = (await c["elodie"].wait_event(room, closed["seq"]))["result"]
    assert result["participation"] == "Participation : 2 sur 6 (dont 1 par procuration)."
    assert result["by_proxy"] == 1
    assert result["quorum_reached"] is False  # 2 of 6 < 50 %
    assert "dont 1 par procuration" in result["quorum"]
    message = await c["elodie"].wait_event(room, closed["seq"] + 1)
    assert "dont 1 par procuration" in message["message"]["source"]
    await close_all(c)


async def test_one_proxy_each_no_chains(server: LiveServer, world: World) -> None:
    room = world.group_room
    c = await clients(server, world, "copilote", "marie", "paul", "elodie", "observer")
    poll_id = (await open_poll(c["copilote"], room))["poll_id"]
    give = {"room_id": room, "poll_id": poll_id}
    refused(
        await c["marie"].request("proxy.give", holder_id=world.id("marie"), **give),
        "proxy_invalid",
        "self",
    )
    refused(
        await c["marie"].request("proxy.give", holder_id=world.id("observer"), **give),
        "proxy_invalid",
        "holder_not_voter",
    )
    refused(
        await c["observer"].request("proxy.give", holder_id=world.id("paul"), **give),
        "forbidden",
    )
    refused(
        await c["marie"].request("proxy.give", room_id=room, holder_id=world.id("paul")),
        "proxy_invalid",
        "scope",
    )
    ok = await c["marie"].request("proxy.give", holder_id=world.id("paul"), **give)
    assert ok["type"] == "ack"
    refused(
        await c["marie"].request("proxy.give", holder_id=world.id("elodie"), **give),
        "proxy_invalid",
        "giver_has_proxy",
    )
    refused(
        await c["elodie"].request("proxy.give", holder_id=world.id("paul"), **give),
        "proxy_invalid",
        "holder_carries",
    )
    # Paul carries Marie's vote: he cannot pass his own on; nobody can give to Marie.
    refused(
        await c["paul"].request("proxy.give", holder_id=world.id("elodie"), **give),
        "proxy_invalid",
        "chain",
    )
    refused(
        await c["elodie"].request("proxy.give", holder_id=world.id("marie"), **give),
        "proxy_invalid",
        "chain",
    )
    # A member who has voted has nothing to give.
    await c["elodie"].request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A")
    refused(
        await c["elodie"].request("proxy.give", holder_id=world.id("copilote"), **give),
        "proxy_invalid",
        "already_voted",
    )
    await close_all(c)


async def test_revoked_before_use_and_the_log_keeps_it(server: LiveServer, world: World) -> None:
    room = world.group_room
    c = await clients(server, world, "copilote", "marie", "paul", "elodie")
    await c["elodie"].subscribe(room)
    poll_id = (await open_poll(c["copilote"], room))["poll_id"]
    ack = await c["marie"].request(
        "proxy.give", room_id=room, holder_id=world.id("paul"), poll_id=poll_id
    )
    refused(
        await c["elodie"].request("proxy.revoke", room_id=room, proxy_id=ack["proxy_id"]),
        "forbidden",
    )
    revoked = await c["marie"].request("proxy.revoke", room_id=room, proxy_id=ack["proxy_id"])
    assert revoked["type"] == "ack", revoked
    event = await c["elodie"].wait_event(room, revoked["seq"])
    assert (event["type"], event["proxy_id"]) == ("proxy.revoked", ack["proxy_id"])
    refused(
        await c["marie"].request("proxy.revoke", room_id=room, proxy_id=ack["proxy_id"]),
        "proxy_not_found",
    )
    refused(
        await c["paul"].request(
            "poll.vote",
            room_id=room,
            poll_id=poll_id,
            ballot="Plan A",
            for_user_id=world.id("marie"),
        ),
        "no_proxy",
    )
    mine = await c["marie"].request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan C")
    assert mine["type"] == "ack", mine
    # The holder may decline a proxy too; the log keeps both, with who ended them.
    again = await c["elodie"].request(
        "proxy.give", room_id=room, holder_id=world.id("paul"), poll_id=poll_id
    )
    declined = await c["paul"].request("proxy.revoke", room_id=room, proxy_id=again["proxy_id"])
    assert declined["type"] == "ack"
    async with server.state.db.read() as session:
        log = list(await session.scalars(select(PollProxy).order_by(PollProxy.id)))
    assert [(p.giver_id, p.revoked_by_id) for p in log] == [
        (world.id("marie"), world.id("marie")),
        (world.id("elodie"), world.id("paul")),
    ]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.set("atelier_session", world.cookies["elodie"])
        page = await http.get(f"/salons/{room}/votes")
    assert page.status_code == 200
    assert page.text.count("Marie Dupont") >= 1
    assert "Élodie Cazals" in page.text
    assert "Paul Sicard" in page.text
    await close_all(c)


async def test_period_proxy_covers_every_poll_until_the_date(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    c = await clients(server, world, "copilote", "marie", "paul")
    today = dt.datetime.now(dt.UTC).date()
    refused(
        await c["marie"].request(
            "proxy.give",
            room_id=room,
            holder_id=world.id("paul"),
            until=str(today - dt.timedelta(days=1)),
        ),
        "proxy_invalid",
        "until",
    )
    refused(
        await c["marie"].request(
            "proxy.give", room_id=room, holder_id=world.id("paul"), until="demain"
        ),
        "proxy_invalid",
        "until",
    )
    given = await c["marie"].request(
        "proxy.give",
        room_id=room,
        holder_id=world.id("paul"),
        until=str(today + dt.timedelta(days=30)),
    )
    assert given["type"] == "ack", given
    first = (await open_poll(c["copilote"], room))["poll_id"]
    second = (await open_poll(c["copilote"], room, kind="single"))["poll_id"]
    for poll_id in (first, second):
        ack = await c["paul"].request(
            "poll.vote",
            room_id=room,
            poll_id=poll_id,
            ballot="Plan B",
            for_user_id=world.id("marie"),
        )
        assert ack["type"] == "ack", ack
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.set("atelier_session", world.cookies["paul"])
        data = (await http.get(f"/api/rooms/{room}/polls")).json()
        http.cookies.set("atelier_session", world.cookies["marie"])
        hers = (await http.get(f"/api/rooms/{room}/polls")).json()
    represents = data["polls"][0]["me"]["represents"]
    assert represents == [
        {
            "proxy_id": given["proxy_id"],
            "user": {"id": world.id("marie"), "name": "Marie Dupont"},
            "voted": True,
            "ballot": "Plan B",
        }
    ]
    assert [p["id"] for p in data["proxies"]] == [given["proxy_id"]]
    assert hers["polls"][0]["me"]["gave_proxy"]["holder"]["id"] == world.id("paul")
    # A period proxy can always be ended; the votes already cast with it stand.
    ended = await c["marie"].request("proxy.revoke", room_id=room, proxy_id=given["proxy_id"])
    assert ended["type"] == "ack", ended
    third = (await open_poll(c["copilote"], room))["poll_id"]
    refused(
        await c["paul"].request(
            "poll.vote",
            room_id=room,
            poll_id=third,
            ballot="Plan B",
            for_user_id=world.id("marie"),
        ),
        "no_proxy",
    )
    async with server.state.db.read() as session:
        count = len(
            list(
                await session.scalars(
                    select(PollParticipation).where(PollParticipation.proxy_id.is_not(None))
                )
            )
        )
    assert count == 2
    await close_all(c)


async def test_secret_poll_by_proxy_keeps_the_ballot_unlinked(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    c = await clients(server, world, "copilote", "marie", "paul")
    poll_id = (await open_poll(c["copilote"], room, secret=True))["poll_id"]
    given = await c["marie"].request(
        "proxy.give", room_id=room, holder_id=world.id("paul"), poll_id=poll_id
    )
    assert given["type"] == "ack"
    ack = await c["paul"].request(
        "poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A", for_user_id=world.id("marie")
    )
    assert ack["receipt"]
    changed = await c["paul"].request(
        "poll.vote",
        room_id=room,
        poll_id=poll_id,
        ballot="Plan C",
        for_user_id=world.id("marie"),
        receipt=ack["receipt"],
    )
    assert changed["replaced"] is True
    again = await c["paul"].request(
        "poll.vote", room_id=room, poll_id=poll_id, ballot="Plan C", for_user_id=world.id("marie")
    )
    refused(again, "already_voted")
    await close_all(c)
