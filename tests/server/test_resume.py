"""Resume and catch-up: nothing lost, nothing duplicated, never a silent gap."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import LiveServer, live_server
from tests.factories import World, build_world
from tests.wsclient import ProtocolClient


async def _blast(marie: ProtocolClient, room: int, count: int, prefix: str) -> list[dict]:
    """Send ``count`` messages with up to 50 in flight; return the acks in order."""
    ids = [await marie.send("send", room_id=room, topic="Flux", body=f"{prefix} {i}",
                            client_id=str(uuid.uuid4())) for i in range(count)]  # fmt: skip
    acks = []
    for request_id in ids:
        acks.append(await marie.wait_for(lambda f, r=request_id: f.get("id") == r, 60))
    assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:1]
    return acks


async def test_member_offline_during_1000_messages_gets_all_in_order_exactly_once(
    server: LiveServer, world: World
) -> None:
    room = world.chantier_room
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await paul.subscribe(room)
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    first = await marie.post(room, "avant la coupure")
    await paul.wait_event(room, first["seq"])
    await paul.close()

    acks = await _blast(marie, room, 1000, "pendant")
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await paul.subscribe(room, after_seq=first["seq"])
    replayed = paul.events(room)
    assert [e["seq"] for e in replayed] == [a["seq"] for a in acks]
    assert [e["message"]["source"] for e in replayed] == [f"pendant {i}" for i in range(1000)]
    live = next(f for f in paul.frames if f["type"] == "live")
    assert live["seq"] == acks[-1]["seq"]
    # And it is live afterwards.
    after = await marie.post(room, "après")
    await paul.wait_event(room, after["seq"])
    await marie.close()
    await paul.close()


async def test_messages_sent_during_the_switch_to_live_arrive_once(
    server: LiveServer, world: World
) -> None:
    room = world.chantier_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    await _blast(marie, room, 300, "avant")
    sender = asyncio.create_task(_blast(marie, room, 300, "pendant"))
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await asyncio.sleep(0.05)
    await paul.subscribe(room, after_seq=0)
    acks = await sender
    await paul.wait_event(room, acks[-1]["seq"], timeout=30)
    seqs = [e["seq"] for e in paul.events(room)]
    assert seqs == list(range(1, acks[-1]["seq"] + 1))
    await marie.close()
    await paul.close()


async def test_catch_up_is_exactly_what_the_live_stream_delivered(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    watcher = await ProtocolClient.connect(server.ws_url, world.cookies["elodie"])
    await watcher.subscribe(room)
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    one = await marie.post(room, "un")
    two = await paul.post(room, "deux", reply_to=one["message_id"])
    await paul.request("react", room_id=room, message_id=one["message_id"], emoji="🎉", op="add")
    await marie.request("edit", room_id=room, message_id=one["message_id"], body="un bis")
    await paul.request("react", room_id=room, message_id=one["message_id"], emoji="🎉", op="remove")
    last = await paul.request("delete", room_id=room, message_id=two["message_id"])
    await watcher.wait_event(room, last["seq"])
    live = watcher.events(room)

    late = await ProtocolClient.connect(server.ws_url, world.cookies["elodie"])
    await late.subscribe(room, after_seq=0)
    replayed = late.events(room)
    # The deleted message's text is redacted from the log, everything else is identical.
    assert [e["type"] for e in replayed] == [e["type"] for e in live]
    assert replayed[0] == live[0]
    assert replayed[2:] == live[2:]
    assert replayed[1]["message"]["deleted"] is True
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies["elodie"]}
    ) as http:
        logged = (await http.get(f"/api/rooms/{room}/events", params={"after": 0})).json()
    assert logged["events"] == replayed
    for c in (watcher, marie, paul, late):
        await c.close()


async def test_resume_point_too_old_or_in_the_future_gets_a_reset(database_url: str) -> None:
    async with live_server(database_url, replay_limit=10) as server:
        world = await build_world(server.state.db)
        room = world.group_room
        marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
        acks = await _blast(marie, room, 15, "m")
        paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
        await paul.subscribe(room, after_seq=2)
        reset = next(f for f in paul.frames if f["type"] == "reset")
        assert reset == {"type": "reset", "room_id": room, "last_seq": acks[-1]["seq"]}
        assert paul.events(room) == []
        # Within the limit it replays; beyond the end (another database?) it resets too.
        await paul.subscribe(room, after_seq=acks[-1]["seq"] - 5)
        assert len(paul.events(room)) == 5
        future = await ProtocolClient.connect(server.ws_url, world.cookies["elodie"])
        await future.subscribe(room, after_seq=10_000)
        assert any(f["type"] == "reset" for f in future.frames)
        # After a reset the member goes on live from the current end.
        nxt = await marie.post(room, "suite")
        await future.wait_event(room, nxt["seq"])
        for c in (marie, paul, future):
            await c.close()


async def test_history_pages_over_http(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    acks = await _blast(marie, room, 120, "h")
    seqs = [a["seq"] for a in acks]
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies["paul"]}
    ) as http:
        latest = (await http.get(f"/api/rooms/{room}/messages", params={"limit": 50})).json()
        assert [m["seq"] for m in latest["messages"]] == seqs[-50:]
        assert latest["last_seq"] == seqs[-1]
        older = await http.get(
            f"/api/rooms/{room}/messages", params={"before": seqs[-50], "limit": 50}
        )
        assert [m["seq"] for m in older.json()["messages"]] == seqs[-100:-50]
        newer = await http.get(f"/api/rooms/{room}/messages", params={"after": seqs[9], "limit": 5})
        assert [m["seq"] for m in newer.json()["messages"]] == seqs[10:15]
        bad = await http.get(f"/api/rooms/{room}/messages", params={"before": "hier"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_request"
        foreign = await http.get(f"/api/rooms/{world.other_group_room}/messages")
        assert foreign.status_code == 404
        assert foreign.json()["error"]["code"] == "room_not_found"
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        refused = await anonymous.get(f"/api/rooms/{room}/messages")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "not_authenticated"
    await marie.close()
