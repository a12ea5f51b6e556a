"""Polls over the WebSocket: opening, voting (open and secret), closing, deadlines."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

import httpx
from sqlalchemy import inspect, select, update

from rooms import voting
from rooms.actions.polls import run_due_polls
from rooms.models import Message, Poll, PollBallot, PollParticipation
from tests.conftest import LiveServer, live_server
from tests.factories import World, build_world
from tests.wsclient import ProtocolClient

PLANS = ["Plan A", "Plan B", "Plan C"]


async def client(server: LiveServer, world: World, who: str) -> ProtocolClient:
    return await ProtocolClient.connect(server.ws_url, world.cookies[who])


async def open_poll(
    author: ProtocolClient, room: int, kind: str = "single", **fields: Any
) -> dict[str, Any]:
    fields.setdefault("options", PLANS)
    ack = await author.request(
        "poll.create",
        room_id=room,
        topic="Avis",
        kind=kind,
        question="Quel plan pour l'avis ?",
        **fields,
    )
    assert ack["type"] == "ack", ack
    return ack


async def test_copilot_creates_a_poll_a_member_may_not(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    await marie.subscribe(room)
    ack = await open_poll(copilote, room, secret=False, visibility="live")
    event = await marie.wait_event(room, ack["seq"])
    assert event["type"] == "poll.created"
    poll = event["poll"]
    assert (poll["id"], poll["kind"], poll["options"]) == (ack["poll_id"], "single", PLANS)
    # Members of the group, the copilot and the administrator; not the observer, nor the
    # member whose mandate has ended.
    assert poll["electorate"] == 6
    refused = await marie.request(
        "poll.create", room_id=room, topic="Avis", kind="single", question="?", options=PLANS
    )
    assert (refused["type"], refused["code"]) == ("error", "forbidden")
    bad = await copilote.request(
        "poll.create", room_id=room, topic="Avis", kind="single", question="?", options=[]
    )
    assert (bad["code"], bad["reason"]) == ("poll_invalid", "no_options")
    await copilote.close()
    await marie.close()


async def test_member_votes_changes_vote_observer_refused(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote = await client(server, world, "copilote")
    marie, observer = await client(server, world, "marie"), await client(server, world, "observer")
    await observer.subscribe(room)
    poll_id = (await open_poll(copilote, room))["poll_id"]
    first = await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A")
    assert first["type"] == "ack", first
    assert (first["poll_id"], first["replaced"]) == (poll_id, False)
    assert "receipt" not in first
    voted = await observer.wait_event(room, first["seq"])
    assert voted["type"] == "poll.voted"
    assert voted["participants"] == 1
    assert voted["counts"] == {"Plan A": 1, "Plan B": 0, "Plan C": 0}
    second = await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan B")
    assert second["replaced"] is True
    live = await observer.wait_event(room, second["seq"])
    assert (live["participants"], live["counts"]["Plan A"], live["counts"]["Plan B"]) == (1, 0, 1)
    refused = await observer.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan A")
    assert (refused["type"], refused["code"]) == ("error", "not_eligible")
    assert "votant" in refused["message"]
    wrong = await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan Z")
    assert (wrong["code"], wrong["reason"]) == ("ballot_invalid", "unknown_option")
    missing = await marie.request("poll.vote", room_id=room, poll_id=9999, ballot="Plan A")
    assert missing["code"] == "poll_not_found"
    async with server.state.db.read() as session:
        ballots = list(
            await session.scalars(select(PollBallot).where(PollBallot.poll_id == poll_id))
        )
    assert [(b.data, b.voter_id) for b in ballots] == [("Plan B", world.id("marie"))]
    for c in (copilote, marie, observer):
        await c.close()


async def test_close_single_choice_posts_result_message(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote, paul = await client(server, world, "copilote"), await client(server, world, "paul")
    marie = await client(server, world, "marie")
    await paul.subscribe(room)
    poll_id = (await open_poll(copilote, room, visibility="closed", quorum=0.5))["poll_id"]
    for voter, choice in ((marie, "Plan A"), (paul, "Plan A"), (copilote, "Plan B")):
        ack = await voter.request("poll.vote", room_id=room, poll_id=poll_id, ballot=choice)
        assert ack["type"] == "ack", ack
        assert "counts" not in ack
    voted = await paul.wait_event(room, ack["seq"])
    assert "counts" not in voted
    closed = await copilote.request(
        "poll.close", room_id=room, poll_id=poll_id, outcome="Plan A retenu."
    )
    assert closed["type"] == "ack", closed
    event = await paul.wait_event(room, closed["seq"])
    assert event["type"] == "poll.closed"
    assert "Plan A" in event["result"]["summary_fr"]
    assert event["result"]["rule_fr"]
    assert event["result"]["rows"]
    assert event["result"]["quorum"].startswith("Quorum : 3 votants sur 6")
    assert event["result"]["quorum_reached"] is True
    assert event["outcome"] == "Plan A retenu."
    message = await paul.wait_event(room, closed["seq"] + 1)
    assert message["type"] == "message.posted"
    assert message["message"]["topic"] == "Avis"
    assert message["message"]["author"]["id"] == world.id("copilote")
    assert "Résultat du vote" in message["message"]["source"]
    late = await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan B")
    assert late["code"] == "poll_closed"
    again = await copilote.request("poll.close", room_id=room, poll_id=poll_id)
    assert again["code"] == "poll_closed"
    for c in (copilote, paul, marie):
        await c.close()


async def test_secret_ranked_poll_keeps_no_link_between_voter_and_ballot(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    copilote = await client(server, world, "copilote")
    voters = {who: await client(server, world, who) for who in ("marie", "paul", "elodie")}
    poll_id = (await open_poll(copilote, room, kind="ranked", secret=True))["poll_id"]
    ballots = {
        "marie": {"Plan A": 1, "Plan B": 2, "Plan C": 3},
        "paul": {"Plan B": 1, "Plan A": 2},
        "elodie": {"Plan A": 1, "Plan C": 2, "Plan B": 3},
    }
    receipts = {}
    for who, ballot in ballots.items():
        ack = await voters[who].request("poll.vote", room_id=room, poll_id=poll_id, ballot=ballot)
        assert ack["type"] == "ack", ack
        receipts[who] = ack["receipt"]

    async with server.state.db.read() as session:
        rows = list(await session.scalars(select(PollBallot).where(PollBallot.poll_id == poll_id)))
        participants = set(
            await session.scalars(
                select(PollParticipation.user_id).where(PollParticipation.poll_id == poll_id)
            )
        )

        def columns(connection: Any, table: str) -> list[str]:
            return [c["name"] for c in inspect(connection).get_columns(table)]

        connection = await session.connection()
        ballot_columns = await connection.run_sync(columns, "poll_ballots")
        participation_columns = await connection.run_sync(columns, "poll_participations")
    assert participants == {world.id(w) for w in ballots}
    assert len(rows) == 3
    assert all(r.voter_id is None for r in rows)
    # Random keys (uuid4), not a sequence that would give away the order of the votes.
    assert all(len(r.id) == 32 and r.id[12] == "4" for r in rows)
    assert len({r.id for r in rows}) == 3
    assert {r.receipt_hash for r in rows} == {
        hashlib.sha256(receipts[w].encode()).hexdigest() for w in ballots
    }
    assert sorted(ballot_columns) == ["data", "id", "poll_id", "receipt_hash", "voter_id"]
    # ``proxy_id`` says a proxy holder cast that participation — never which ballot.
    assert sorted(participation_columns) == ["poll_id", "proxy_id", "user_id"]
    for table in (ballot_columns, participation_columns):
        assert not any(name.endswith(("_at", "_on", "time")) for name in table)
    # The result can be recounted by anyone from the stored ballots.
    recount = voting.tally("ranked", PLANS, [r.data for r in rows], electorate=6)
    assert isinstance(recount, voting.SchulzeResult)
    assert recount.winners == ("Plan A",)

    # A second secret vote: refused without the receipt, replaces with it.
    again = await voters["paul"].request(
        "poll.vote", room_id=room, poll_id=poll_id, ballot={"Plan C": 1}
    )
    assert (again["type"], again["code"]) == ("error", "already_voted")
    forged = await voters["paul"].request(
        "poll.vote", room_id=room, poll_id=poll_id, ballot={"Plan C": 1}, receipt="faux"
    )
    assert forged["code"] == "already_voted"
    changed = await voters["paul"].request(
        "poll.vote",
        room_id=room,
        poll_id=poll_id,
        ballot={"Plan C": 1},
        receipt=receipts["paul"],
    )
    assert changed["type"] == "ack", changed
    assert changed["replaced"] is True
    async with server.state.db.read() as session:
        data = list(
            await session.scalars(select(PollBallot.data).where(PollBallot.poll_id == poll_id))
        )
    assert len(data) == 3
    assert {"Plan C": 1} in data
    assert ballots["paul"] not in data

    closed = await copilote.request("poll.close", room_id=room, poll_id=poll_id)
    assert closed["type"] == "ack", closed
    async with server.state.db.read() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        assert poll.closed_at is not None
    for c in (copilote, *voters.values()):
        await c.close()


async def test_poll_closes_at_its_deadline(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    await marie.subscribe(room)
    poll_id = (await open_poll(copilote, room, closes_in_minutes=60))["poll_id"]
    await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="Plan C")
    async with server.state.db.transaction() as session:
        assert await run_due_polls(session) == 0
        await session.execute(
            update(Poll)
            .where(Poll.id == poll_id)
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    async with server.state.db.transaction() as session:
        assert await run_due_polls(session) == 1
    event = await marie.wait_for(lambda f: f.get("type") == "poll.closed")
    assert event["poll"]["id"] == poll_id
    assert "Plan C" in event["result"]["summary_fr"]
    posted = await marie.wait_event(room, event["seq"] + 1)
    assert posted["message"]["author"]["id"] == world.id("copilote")
    async with server.state.db.transaction() as session:
        assert await run_due_polls(session) == 0
        count = await session.scalar(select(Message.id).where(Message.room_id == room))
        assert count is not None
    await copilote.close()
    await marie.close()


async def test_hub_timer_closes_due_polls(database_url: str) -> None:
    async with live_server(database_url, hub_poll_secs=0.2) as running:
        world = await build_world(running.state.db)
        room = world.group_room
        copilote = await client(running, world, "copilote")
        await copilote.subscribe(room)
        poll_id = (await open_poll(copilote, room, closes_in_minutes=5))["poll_id"]
        async with running.state.db.transaction() as session:
            await session.execute(
                update(Poll)
                .where(Poll.id == poll_id)
                .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        event = await copilote.wait_for(lambda f: f.get("type") == "poll.closed", timeout=5)
        assert event["poll"]["id"] == poll_id
        await asyncio.sleep(0.5)
        closed = [f for f in copilote.frames if f.get("type") == "poll.closed"]
        assert len(closed) == 1
        await copilote.close()


async def test_result_csv_once_closed(server: LiveServer, world: World) -> None:
    room = world.group_room
    copilote, marie = await client(server, world, "copilote"), await client(server, world, "marie")
    poll_id = (await open_poll(copilote, room, options=["=SOMME(A1)", "Plan B"]))["poll_id"]
    await marie.request("poll.vote", room_id=room, poll_id=poll_id, ballot="=SOMME(A1)")
    url = f"/api/rooms/{room}/polls/{poll_id}/result.csv"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.set("atelier_session", world.cookies["paul"])
        early = await http.get(url)
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "poll_open"
        await copilote.request("poll.close", room_id=room, poll_id=poll_id)
        answer = await http.get(url)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        text = answer.content.decode("utf-8-sig")
        assert "'=SOMME(A1)" in text  # never a live formula
        assert "Plan B" in text
        http.cookies.set("atelier_session", world.cookies["other"])
        assert (await http.get(url)).status_code == 404
    await copilote.close()
    await marie.close()
