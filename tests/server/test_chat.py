"""Chat over a real WebSocket against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import LiveServer
from tests.factories import World
from tests.wsclient import ProtocolClient


async def client(server: LiveServer, world: World, who: str) -> ProtocolClient:
    return await ProtocolClient.connect(server.ws_url, world.cookies[who])


async def test_hello_names_the_member(server: LiveServer, world: World) -> None:
    marie = await client(server, world, "marie")
    hello = marie.frames[0]
    assert hello["type"] == "hello"
    assert hello["user"] == {"id": world.id("marie"), "name": "Marie Dupont"}
    await marie.close()


async def test_send_is_acknowledged_with_seq_and_broadcast_in_order(
    server: LiveServer, world: World
) -> None:
    room = world.chantier_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    await marie.subscribe(room)
    await paul.subscribe(room)
    acks = [await marie.post(room, f"message {i}") for i in range(20)]
    assert [a["type"] for a in acks] == ["ack"] * 20
    seqs = [a["seq"] for a in acks]
    assert seqs == list(range(seqs[0], seqs[0] + 20))
    await paul.wait_event(room, seqs[-1])
    posted = paul.events(room)
    assert [e["seq"] for e in posted] == seqs
    assert [e["message"]["source"] for e in posted] == [f"message {i}" for i in range(20)]
    assert posted[0]["message"]["author"]["name"] == "Marie Dupont"
    assert posted[0]["message"]["topic"] == "Sujet"
    await marie.close()
    await paul.close()


async def test_resend_with_same_client_id_returns_first_result(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    await paul.subscribe(room)
    client_id = str(uuid.uuid4())
    first = await marie.post(room, "une fois", client_id=client_id)
    again = await marie.post(room, "une fois", client_id=client_id)
    assert first["type"] == again["type"] == "ack"
    assert (again["message_id"], again["seq"]) == (first["message_id"], first["seq"])
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    # Concurrent resends (as after a reconnect with several tabs): still one message.
    racing = str(uuid.uuid4())
    results = await asyncio.gather(
        *(marie.post(room, "course", client_id=racing) for _ in range(5))
    )
    assert len({(r["message_id"], r["seq"]) for r in results}) == 1
    await paul.wait_event(room, results[0]["seq"])
    await paul.quiet(0.3)
    bodies = [e["message"]["source"] for e in paul.events(room, frozenset({"message.posted"}))]
    assert bodies == ["une fois", "course"]
    await marie.close()
    await paul.close()


async def test_edit_keeps_history_and_reaches_others(server: LiveServer, world: World) -> None:
    room = world.chantier_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    await paul.subscribe(room)
    posted = await marie.post(room, "premier jet")
    edit = await marie.request(
        "edit", room_id=room, message_id=posted["message_id"], body="version **finale**"
    )
    assert edit["type"] == "ack"
    event = await paul.wait_event(room, edit["seq"])
    assert event["type"] == "message.edited"
    assert event["message_id"] == posted["message_id"]
    assert event["html"] == "<p>version <strong>finale</strong></p>\n"
    assert event["edited_at"]
    # Editing to the same text records nothing.
    same = await marie.request(
        "edit", room_id=room, message_id=posted["message_id"], body="version **finale**"
    )
    assert same["seq"] is None
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies["paul"]}
    ) as http:
        history = (await http.get(f"/api/messages/{posted['message_id']}/history")).json()
    assert [h["source"] for h in history["history"]] == ["premier jet"]
    await marie.close()
    await paul.close()


async def test_only_the_author_edits_or_deletes(server: LiveServer, world: World) -> None:
    room = world.chantier_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    posted = await marie.post(room, "à moi")
    for frame in ("edit", "delete"):
        fields = {"body": "piraté"} if frame == "edit" else {}
        error = await paul.request(frame, room_id=room, message_id=posted["message_id"], **fields)
        assert (error["type"], error["code"]) == ("error", "not_author")
        assert "vos propres messages" in error["message"]
    await marie.close()
    await paul.close()


async def test_delete_leaves_a_tombstone_and_erases_the_text_from_catch_up(
    server: LiveServer, world: World
) -> None:
    room = world.chantier_room
    marie = await client(server, world, "marie")
    paul = await client(server, world, "paul")
    posted = await marie.post(room, "secret regretté")
    await marie.request("edit", room_id=room, message_id=posted["message_id"], body="secret 2")
    await paul.post(room, "je cite", reply_to=posted["message_id"])
    deleted = await marie.request("delete", room_id=room, message_id=posted["message_id"])
    assert deleted["type"] == "ack"
    again = await marie.request("delete", room_id=room, message_id=posted["message_id"])
    assert again["code"] == "message_deleted"
    late = await client(server, world, "elodie")
    await late.subscribe(room, after_seq=0)
    replayed = late.events(room)
    assert [e["type"] for e in replayed] == [
        "message.posted",
        "message.edited",
        "message.posted",
        "message.deleted",
    ]
    # Neither the message, its edit, nor the reply's quote of it keeps the text.
    assert "secret" not in str(replayed)
    assert replayed[0]["message"]["deleted"] is True
    assert replayed[2]["message"]["reply_to"]["deleted"] is True
    for c in (marie, paul, late):
        await c.close()


async def test_reactions_toggle_idempotently(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    await marie.subscribe(room)
    posted = await marie.post(room, "on vote ?")
    add = await paul.request(
        "react", room_id=room, message_id=posted["message_id"], emoji="👍", op="add"
    )
    twice = await paul.request(
        "react", room_id=room, message_id=posted["message_id"], emoji="👍", op="add"
    )
    assert twice["seq"] is None
    event = await marie.wait_event(room, add["seq"])
    assert event == {
        "type": "reaction.added",
        "room_id": room,
        "seq": add["seq"],
        "message_id": posted["message_id"],
        "emoji": "👍",
        "user_id": world.id("paul"),
    }
    remove = await paul.request(
        "react", room_id=room, message_id=posted["message_id"], emoji="👍", op="remove"
    )
    assert (await marie.wait_event(room, remove["seq"]))["type"] == "reaction.removed"
    bad = await paul.request(
        "react", room_id=room, message_id=posted["message_id"], emoji="<b>x</b>", op="add"
    )
    assert (bad["code"], bad["field"]) == ("invalid_input", "emoji")
    await marie.close()
    await paul.close()


async def test_replies_carry_the_parent_excerpt(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    await marie.subscribe(room)
    parent = await marie.post(room, "Qui vient jeudi ?")
    reply = await paul.post(room, "Moi", reply_to=parent["message_id"])
    event = await marie.wait_event(room, reply["seq"])
    assert event["message"]["reply_to"] == {
        "id": parent["message_id"],
        "author": "Marie Dupont",
        "excerpt": "Qui vient jeudi ?",
        "deleted": False,
    }
    foreign = await paul.post(room, "x", reply_to=10**9)
    assert foreign["code"] == "message_not_found"
    await marie.close()
    await paul.close()


async def test_mentions_are_highlighted_and_counted_unread(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    marie, elodie = await client(server, world, "marie"), await client(server, world, "elodie")
    await elodie.subscribe(room)
    posted = await marie.post(room, "Avis de @**Élodie Cazals** et de @**Personne Inconnue** ?")
    event = await elodie.wait_event(room, posted["seq"])
    message = event["message"]
    assert message["mentions"] == [world.id("elodie")]
    assert (
        f'<span class="mention" data-user-id="{world.id("elodie")}">@Élodie Cazals</span>'
        in (message["html"])
    )
    assert "Personne Inconnue" in message["html"]
    await marie.post(room, "Deuxième", topic="Autre sujet")
    elodie2 = await client(server, world, "elodie")
    await elodie2.subscribe(room)
    unread = await elodie2.wait_for(lambda f: f["type"] == "unread" and f["room_id"] == room)
    assert (unread["unread"], unread["mentions"]) == (2, 1)
    assert unread["topics"] == {
        "Sujet": {"unread": 1, "mentions": 1},
        "Autre sujet": {"unread": 1, "mentions": 0},
    }
    # Reading one topic clears it, on every device of the member.
    read = await elodie2.request("read", room_id=room, seq=posted["seq"], topic="Sujet")
    assert read["type"] == "ack"
    pushed = await elodie.wait_for(
        lambda f: f["type"] == "unread" and f["room_id"] == room and f["unread"] == 1
    )
    assert pushed["topics"] == {"Autre sujet": {"unread": 1, "mentions": 0}}
    # Markers only move forward, and never past the room's end.
    await elodie.request("read", room_id=room, seq=0)
    beyond = await elodie.request("read", room_id=room, seq=10**6)
    assert (beyond["code"], beyond["field"]) == ("invalid_input", "seq")
    everything = await elodie.request("read", room_id=room, seq=posted["seq"] + 1)
    assert everything["type"] == "ack"
    await elodie.wait_for(lambda f: f["type"] == "unread" and f["unread"] == 0)
    for c in (marie, elodie, elodie2):
        await c.close()


async def test_copilot_renames_topics_and_moves_messages(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie, sophie = await client(server, world, "marie"), await client(server, world, "copilote")
    await marie.subscribe(room)
    first = await marie.post(room, "a", topic="Calendrier")
    second = await marie.post(room, "b", topic="Calendrier")
    refused = await marie.request("topic.rename", room_id=room, old="Calendrier", new="Dates")
    assert refused["code"] == "forbidden"
    renamed = await sophie.request("topic.rename", room_id=room, old="Calendrier", new="Dates")
    event = await marie.wait_event(room, renamed["seq"])
    assert (event["type"], event["old"], event["new"]) == ("topic.renamed", "Calendrier", "Dates")
    moved = await sophie.request(
        "messages.move", room_id=room, message_ids=[second["message_id"]], topic="Divers"
    )
    event = await marie.wait_event(room, moved["seq"])
    assert event["message_ids"] == [second["message_id"]]
    unknown = await sophie.request(
        "messages.move", room_id=room, message_ids=[first["message_id"], 10**9], topic="X"
    )
    assert unknown["code"] == "invalid_input"
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies["marie"]}
    ) as http:
        topics = (await http.get(f"/api/rooms/{room}/topics")).json()["topics"]
        only = (await http.get(f"/api/rooms/{room}/messages", params={"topic": "Dates"})).json()
    assert {t["name"]: t["count"] for t in topics} == {"Dates": 1, "Divers": 1}
    assert [m["id"] for m in only["messages"]] == [first["message_id"]]
    await marie.close()
    await sophie.close()


async def test_typing_reaches_the_others_but_not_after_unsubscribe(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    marie, paul = await client(server, world, "marie"), await client(server, world, "paul")
    await marie.subscribe(room)
    await paul.subscribe(room)
    await paul.send("typing", room_id=room, topic="Sujet")
    typing = await marie.wait_for(lambda f: f["type"] == "typing")
    assert typing["user"] == {"id": world.id("paul"), "name": "Paul Sicard"}
    assert typing["topic"] == "Sujet"
    await marie.request("unsubscribe", room_ids=[room])
    await paul.send("typing", room_id=room, topic="Sujet")
    assert not [f for f in await marie.quiet(0.3) if f["type"] == "typing"]
    await marie.close()
    await paul.close()


async def test_presence_lists_who_is_in_the_room(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie = await client(server, world, "marie")
    await marie.subscribe(room)
    await marie.wait_for(
        lambda f: f["type"] == "presence" and [u["name"] for u in f["users"]] == ["Marie Dupont"]
    )
    paul = await client(server, world, "paul")
    await paul.subscribe(room)
    both = ["Marie Dupont", "Paul Sicard"]
    await marie.wait_for(
        lambda f: f["type"] == "presence" and [u["name"] for u in f["users"]] == both
    )
    await paul.wait_for(
        lambda f: f["type"] == "presence" and [u["name"] for u in f["users"]] == both
    )
    # The heartbeat (same list) sends nothing to those who have it; a second tab of an
    # online member gets the list.
    await server.state.hub._announce(room)
    assert not [f for f in await marie.quiet() if f["type"] == "presence"]
    again = await client(server, world, "paul")
    await again.subscribe(room)
    await again.wait_for(
        lambda f: f["type"] == "presence" and [u["name"] for u in f["users"]] == both
    )
    await again.close()
    await paul.close()
    await marie.wait_for(
        lambda f: f["type"] == "presence" and [u["name"] for u in f["users"]] == ["Marie Dupont"]
    )
    await marie.close()


async def test_ping_pong(server: LiveServer, world: World) -> None:
    marie = await client(server, world, "marie")
    request_id = await marie.send("ping")
    pong = await marie.wait_for(lambda f: f["type"] == "pong")
    assert pong == {"type": "pong", "id": request_id}
    await marie.close()
