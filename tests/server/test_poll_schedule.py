"""A poll's life in time: scheduled opening, the reminder before the deadline, extending
it — through the WebSocket and the hub's due-work pass, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from email.header import decode_header, make_header
from typing import Any

import httpx
from sqlalchemy import select, update

from documents.models import Notification
from rooms.actions.polls import run_due_polls
from rooms.models import Poll
from tests.conftest import LiveServer, live_server
from tests.factories import World, build_world
from tests.mailbox import smtp_server
from tests.server.test_polls import PLANS, client, open_poll
from tests.wsclient import ProtocolClient

NOW = dt.datetime.now(dt.UTC)


async def _shift(server: LiveServer, poll_id: int, **moments: dt.datetime | None) -> None:
    """Move a poll's moments (tests do not wait for the clock)."""
    async with server.state.db.transaction() as session:
        await session.execute(update(Poll).where(Poll.id == poll_id).values(**moments))


async def _due(server: LiveServer) -> int:
    async with server.state.db.transaction() as session:
        return await run_due_polls(session)


async def _polls(server: LiveServer, world: World, who: str, room: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.set("atelier_session", world.cookies[who])
        answer = await http.get(f"/api/rooms/{room}/polls")
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data


async def test_scheduled_poll_opens_later_with_the_electorate_of_then(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    await marie.subscribe(room)
    ack = await open_poll(copilote, room, opens_in_minutes=60, closes_in_minutes=180)
    poll_id = ack["poll_id"]
    created = await marie.wait_event(room, ack["seq"])
    assert created["poll"]["status"] == "scheduled"
    assert created["poll"]["electorate"] == 0
    assert created["poll"]["opens_at"] is not None
    early = await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A")
    assert (early["type"], early["code"]) == ("error", "poll_not_open")
    assert "pas encore ouvert" in early["message"]
    listed = await _polls(server, world, "marie", room)
    assert [p["status"] for p in listed["polls"]] == ["scheduled"]
    assert listed["polls"][0]["me"]["eligible"] is False

    assert await _due(server) == 0  # not yet
    await _shift(server, poll_id, opens_at=NOW - dt.timedelta(seconds=1))
    assert await _due(server) == 1
    opened = await marie.wait_for(lambda f: f.get("type") == "poll.opened")
    assert opened["poll"]["status"] == "open"
    assert opened["poll"]["electorate"] == 6
    voted = await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A")
    assert voted["type"] == "ack", voted
    assert await _due(server) == 0  # opened once
    await copilote.close()
    await marie.close()


async def test_schedule_rules(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote = await client(server, world, "copilote")
    base = {"room_id": room, "topic": "Avis", "kind": "single", "question": "?", "options": PLANS}
    cases = [
        ({"opens_in_minutes": 120, "closes_in_minutes": 60}, "closes_before_opening"),
        ({"opens_in_minutes": 0}, "opens_in_minutes"),
        ({"remind_minutes": 30}, "reminder_without_deadline"),
        ({"closes_in_minutes": 60, "remind_minutes": 0}, "remind_minutes"),
    ]
    for fields, reason in cases:
        refused = await copilote.request("poll.create", **base, **fields)
        assert (refused["code"], refused["reason"]) == ("poll_invalid", reason), fields
    await copilote.close()


async def test_reminder_goes_to_those_who_have_not_voted(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    paul = await client(server, world, "paul")
    await marie.subscribe(room)
    ack = await open_poll(copilote, room, closes_in_minutes=24 * 60, remind_minutes=60)
    poll_id = ack["poll_id"]
    await paul.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan B")
    assert await _due(server) == 0
    await _shift(server, poll_id, remind_at=NOW - dt.timedelta(seconds=1))
    assert await _due(server) == 1
    reminder = await marie.wait_for(lambda f: f.get("type") == "poll.reminder")
    assert reminder["poll_id"] == poll_id
    assert reminder["not_voted"] == 5  # six voters, Paul has voted
    async with server.state.db.read() as session:
        rows = list(
            await session.scalars(select(Notification).where(Notification.kind == "poll.reminder"))
        )
    told = {n.user_id for n in rows}
    assert world.id("marie") in told
    assert world.id("paul") not in told
    assert world.id("observer") not in told
    assert all(n.link == f"/salons/{room}#vote-{poll_id}" for n in rows)
    assert all("Quel plan" in n.text for n in rows)
    assert await _due(server) == 0  # sent once
    for c in (copilote, marie, paul):
        await c.close()


async def test_extend_moves_the_deadline_and_rearms_the_reminder(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    await marie.subscribe(room)
    poll_id = (await open_poll(copilote, room, closes_in_minutes=120, remind_minutes=60))["poll_id"]
    await _shift(server, poll_id, remind_at=NOW - dt.timedelta(seconds=1))
    assert await _due(server) == 1  # the reminder

    refused = await marie.request(
        "poll.extend", room_id=room, poll_id=poll_id, closes_in_minutes=600
    )
    assert (refused["type"], refused["code"]) == ("error", "forbidden")
    earlier = await copilote.request(
        "poll.extend", room_id=room, poll_id=poll_id, closes_in_minutes=30
    )
    assert (earlier["code"], earlier["reason"]) == ("poll_invalid", "not_later")
    ack = await copilote.request(
        "poll.extend", room_id=room, poll_id=poll_id, closes_in_minutes=48 * 60
    )
    assert ack["type"] == "ack", ack
    event = await marie.wait_event(room, ack["seq"])
    assert event["type"] == "poll.extended"
    closes_at = dt.datetime.fromisoformat(event["closes_at"].replace("Z", "+00:00"))
    assert closes_at > NOW + dt.timedelta(hours=47)
    async with server.state.db.read() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        assert poll.remind_at is not None
    # Past the old deadline, the poll stays open.
    await _shift(server, poll_id, remind_at=None)
    assert await _due(server) == 0

    closed = await copilote.request("poll.close", room_id=room, poll_id=poll_id)
    assert closed["type"] == "ack"
    late = await copilote.request(
        "poll.extend", room_id=room, poll_id=poll_id, closes_in_minutes=600
    )
    assert late["code"] == "poll_closed"
    await copilote.close()
    await marie.close()


async def test_listing_follows_the_visibility_option(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote = await client(server, world, "copilote")
    voters: dict[str, ProtocolClient] = {w: await client(server, world, w) for w in ("marie",)}
    ids = {}
    for visibility in ("live", "after_vote", "closed"):
        ids[visibility] = (await open_poll(copilote, room, visibility=visibility))["poll_id"]
    await voters["marie"].request(
        "poll.vote", room_id=room, poll_id=ids["after_vote"], ballot="Plan B"
    )
    await voters["marie"].request("poll.vote", room_id=room, poll_id=ids["closed"], ballot="Plan B")

    def by_id(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
        return {p["id"]: p for p in data["polls"]}

    marie = by_id(await _polls(server, world, "marie", room))
    paul = by_id(await _polls(server, world, "paul", room))
    assert paul[ids["live"]]["counts"] == {"Plan A": 0, "Plan B": 0, "Plan C": 0}
    assert "counts" not in paul[ids["after_vote"]]  # Paul has not voted
    assert marie[ids["after_vote"]]["counts"]["Plan B"] == 1
    assert "counts" not in marie[ids["closed"]]  # hidden until closed, even to voters
    assert marie[ids["closed"]]["me"] == {
        "eligible": True,
        "voted": True,
        "ballot": "Plan B",
        "represents": [],
    }
    assert paul[ids["closed"]]["participants"] == 1
    await copilote.request("poll.close", room_id=room, poll_id=ids["closed"], outcome="Retenu.")
    after = by_id(await _polls(server, world, "paul", room))
    result = after[ids["closed"]]["result"]
    assert after[ids["closed"]]["status"] == "closed"
    assert "Plan B" in result["summary_fr"]
    assert result["outcome"] == "Retenu."
    assert result["participation"] == "Participation : 1 sur 6."
    assert [bar["label"] for bar in result["chart"]] == PLANS
    assert [bar["value"] for bar in result["chart"]] == [0, 1, 0]
    await copilote.close()
    await voters["marie"].close()


async def test_result_page_and_markdown_to_paste(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    options = ["Plan <script>alert(1)</script>", "Plan | B"]
    poll_id = (await open_poll(copilote, room, options=options, quorum=0.25))["poll_id"]
    await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan | B")
    page_url, md_url = f"/salons/{room}/votes/{poll_id}", f"/api/rooms/{room}/polls/{poll_id}"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.set("atelier_session", world.cookies["paul"])
        # Open: the page sends the member to the poll in the room.
        early = await http.get(page_url)
        assert (early.status_code, early.headers["location"]) == (
            303,
            f"/salons/{room}#vote-{poll_id}",
        )
        await copilote.request("poll.close", room_id=room, poll_id=poll_id, outcome="Au rapport.")
        page = await http.get(page_url)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "Plan &lt;script&gt;" in page.text
        assert "<meter" in page.text
        assert "Participation : 1 sur 6." in page.text
        assert "Au rapport." in page.text
        md = await http.get(f"{md_url}/result.md")
        assert md.headers["content-type"].startswith("text/markdown")
        text = md.text
        assert text.startswith("**Résultat du vote : Quel plan pour l'avis ?**")
        assert "| Rang | Option | Voix | Part des bulletins |" in text
        assert "Plan \\| B" in text  # a pipe in an option does not break the table
        assert "- **Participation** : 1 sur 6" in text
        assert "- **Quorum** : 1 votant sur 6 inscrits" in text
        assert "- **Suite donnée** : Au rapport." in text
        as_json = (await http.get(f"{md_url}/result")).json()
        assert as_json["markdown"] == text
        assert as_json["result"]["quorum_reached"] is False
        listing = await http.get(f"/salons/{room}/votes")
        assert f'href="/salons/{room}/votes/{poll_id}"' in listing.text
        http.cookies.set("atelier_session", world.cookies["other"])
        assert (await http.get(page_url)).status_code == 404
        assert (await http.get(f"{md_url}/result.md")).status_code == 404
    await copilote.close()
    await marie.close()


async def test_reminder_is_also_mailed(database_url: str) -> None:
    async with (
        smtp_server() as (mailbox, smtp_url),
        live_server(database_url, smtp_url=smtp_url, hub_poll_secs=0.2) as running,
    ):
        world = await build_world(running.state.db)
        room = world.group_room
        copilote = await client(running, world, "copilote")
        ack = await open_poll(copilote, room, closes_in_minutes=24 * 60, remind_minutes=60)
        await _shift(running, ack["poll_id"], remind_at=NOW - dt.timedelta(seconds=1))
        mail = await mailbox.wait_for("marie@test.atelier")
        subject = str(make_header(decode_header(mail["Subject"])))
        assert subject.startswith("Rappel : vote « Quel plan pour l'avis ? » — clôture le ")
        payload = mail.get_payload(decode=True)
        body = payload.decode() if isinstance(payload, bytes) else str(payload)
        assert "vous n'avez pas encore voté" in body
        assert mailbox.link(mail).endswith(f"/salons/{room}#vote-{ack['poll_id']}")
        await copilote.close()
