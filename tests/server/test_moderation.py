"""Moderation over a real WebSocket and HTTP, on SQLite and PostgreSQL.

Copilots (and the comité, administrators) hide and restore messages, pin them, lock the
room, set slow mode, the description and agenda, post announcements, mute and remove
members; members flag messages and acknowledge announcements; admins block members
across the assembly. Every act lands in the moderation log.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from auth.models import AuditEvent
from tests.conftest import LiveServer, live_server
from tests.factories import World, build_world
from tests.wsclient import ProtocolClient


async def client(server: LiveServer, world: World, who: str) -> ProtocolClient:
    return await ProtocolClient.connect(server.ws_url, world.cookies[who])


def http(server: LiveServer, world: World, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, cookies={"atelier_session": world.cookies[who]}
    )


async def get_json(server: LiveServer, world: World, who: str, path: str) -> Any:
    async with http(server, world, who) as session:
        response = await session.get(path)
    return response.status_code, response.json()


def notice(kind: str, room_id: int | None = None) -> Any:
    return lambda f: (
        f["type"] == "moderation.notice"
        and f["kind"] == kind
        and (room_id is None or f.get("room_id") == room_id)
    )


async def close(*clients: ProtocolClient) -> None:
    for c in clients:
        await c.close()


# -- permissions -------------------------------------------------------------------------
async def test_moderation_is_refused_to_members(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie = await client(server, world, "marie")
    posted = await marie.post(room, "bonjour")
    message = {"room_id": room, "message_id": posted["message_id"]}
    member = {"room_id": room, "user_id": world.id("paul")}
    frames: list[tuple[str, dict[str, Any]]] = [
        ("message.hide", {**message, "reason": "non"}),
        ("message.restore", message),
        ("message.pin", message),
        ("message.unpin", message),
        ("flags.dismiss", message),
        ("room.lock", {"room_id": room}),
        ("room.unlock", {"room_id": room}),
        ("room.slow_mode", {"room_id": room, "seconds": 30}),
        ("room.update", {"room_id": room, "description": "Pris !"}),
        ("announcement.post", {"room_id": room, "body": "Annonce"}),
        ("member.mute", {**member, "seconds": 60, "reason": "non"}),
        ("member.unmute", member),
        ("member.remove", {**member, "reason": "non"}),
        ("member.readmit", member),
    ]
    for frame_type, fields in frames:
        error = await marie.request(frame_type, **fields)
        assert (error["type"], error["code"], error["permission"]) == (
            "error",
            "forbidden",
            "room.moderate",
        ), frame_type
    # Only the comité and administrators block, in the assembly.
    copilote = await client(server, world, "copilote")
    refused = await copilote.request("member.block", user_id=world.id("paul"), reason="non")
    assert (refused["code"], refused["permission"]) == ("forbidden", "member.block")
    # Observers read but do not flag; nobody flags their own message.
    observer = await client(server, world, "observer")
    flag = await observer.request("message.flag", **message, reason="spam")
    assert (flag["code"], flag["permission"]) == ("forbidden", "message.flag")
    own = await marie.request("message.flag", **message, reason="spam")
    assert (own["code"], own["reason"]) == ("invalid_input", "own_message")
    # The moderation log is for moderators.
    status, body = await get_json(server, world, "marie", f"/api/rooms/{room}/moderation")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    # A copilot does not moderate another group's room (which they only read).
    other = await copilote.request("room.lock", room_id=world.other_group_room)
    assert other["code"] == "room_not_found"
    await close(marie, copilote, observer)


async def test_a_copilot_cannot_act_on_a_moderator(server: LiveServer, world: World) -> None:
    copilote = await client(server, world, "copilote")
    room = world.group_room
    for frame_type in ("member.mute", "member.remove"):
        error = await copilote.request(
            frame_type, room_id=room, user_id=world.id("admin"), seconds=60, reason="essai"
        )
        assert (error["code"], error["field"], error["reason"]) == (
            "invalid_input",
            "user_id",
            "moderator",
        )
        assert error["message"].startswith("Cette personne modère ce salon")
    itself = await copilote.request(
        "member.mute", room_id=room, user_id=world.id("copilote"), seconds=60, reason="x"
    )
    assert itself["reason"] == "self"
    no_reason = await copilote.request(
        "member.mute", room_id=room, user_id=world.id("paul"), seconds=60, reason="  "
    )
    assert (no_reason["field"], no_reason["reason"]) == ("reason", "empty")
    await copilote.close()


# -- hiding ------------------------------------------------------------------------------
async def test_hidden_message_is_redacted_from_catch_up_and_kept_for_moderators(
    server: LiveServer, world: World
) -> None:
    room = world.chantier_room
    marie = await client(server, world, "marie")
    paul = await client(server, world, "paul")
    copilote = await client(server, world, "copilote")
    await paul.subscribe(room)
    posted = await marie.post(room, "propos déplacé")
    await marie.request("edit", room_id=room, message_id=posted["message_id"], body="propos 2")
    await paul.post(room, "je réponds", reply_to=posted["message_id"])
    pinned = await copilote.request("message.pin", room_id=room, message_id=posted["message_id"])
    assert pinned["type"] == "ack"

    hidden = await copilote.request(
        "message.hide", room_id=room, message_id=posted["message_id"], reason="Hors charte"
    )
    assert hidden["type"] == "ack"
    event = await paul.wait_event(room, hidden["seq"])
    assert event == {
        "type": "message.hidden",
        "room_id": room,
        "seq": hidden["seq"],
        "message_id": posted["message_id"],
        "pending_review": False,
    }
    # The author is told why, on their own channel.
    told = await marie.wait_for(notice("message_hidden", room))
    assert told["message_id"] == posted["message_id"]
    assert told["reason"] == "Hors charte"
    assert told["pending_review"] is False
    again = await copilote.request(
        "message.hide", room_id=room, message_id=posted["message_id"], reason="Hors charte"
    )
    assert again["seq"] is None

    # A member catching up never receives the text: not the message, its edit, the
    # reply's quote nor the pin's excerpt.
    late = await client(server, world, "elodie")
    await late.subscribe(room, after_seq=0)
    replayed = late.events(room)
    assert [e["type"] for e in replayed] == [
        "message.posted",
        "message.edited",
        "message.posted",
        "message.pinned",
        "message.hidden",
    ]
    assert "propos" not in json.dumps(replayed, ensure_ascii=False)
    assert replayed[0]["message"]["hidden"] is True
    assert replayed[0]["message"]["deleted"] is True
    assert replayed[2]["message"]["reply_to"]["deleted"] is True

    # Over HTTP too: current state, history, pins.
    status, page = await get_json(server, world, "paul", f"/api/rooms/{room}/messages")
    shown = {m["id"]: m for m in page["messages"]}[posted["message_id"]]
    assert (shown["source"], shown["html"], shown["hidden"]) == ("", "", True)
    _, history = await get_json(
        server, world, "paul", f"/api/messages/{posted['message_id']}/history"
    )
    assert history["history"] == []
    _, state = await get_json(server, world, "paul", f"/api/rooms/{room}/state")
    assert state["pins"] == []
    # The author can neither edit nor react to it.
    edit = await marie.request("edit", room_id=room, message_id=posted["message_id"], body="x")
    assert edit["code"] == "message_deleted"

    # The original stays in the moderation log, for moderators.
    status, report = await get_json(server, world, "copilote", f"/api/rooms/{room}/moderation")
    assert status == 200
    entry = next(e for e in report["log"] if e["action"] == "message.hidden")
    assert entry["reason"] == "Hors charte"
    assert entry["details"]["source"] == "propos 2"
    assert entry["actor"] == {"id": world.id("copilote"), "name": "Sophie Vidal"}
    assert entry["target"]["id"] == world.id("marie")

    # Restoring brings the text back, live and over HTTP.
    restored = await copilote.request(
        "message.restore", room_id=room, message_id=posted["message_id"], reason="Erreur"
    )
    event = await paul.wait_event(room, restored["seq"])
    assert event["type"] == "message.restored"
    assert event["message"]["source"] == "propos 2"
    assert event["message"]["hidden"] is False
    assert (await marie.wait_for(notice("message_restored", room)))["reason"] == "Erreur"
    _, page = await get_json(server, world, "paul", f"/api/rooms/{room}/messages")
    shown = {m["id"]: m for m in page["messages"]}[posted["message_id"]]
    assert (shown["source"], shown["deleted"], shown["hidden"]) == ("propos 2", False, False)
    _, state = await get_json(server, world, "paul", f"/api/rooms/{room}/state")
    assert [p["message_id"] for p in state["pins"]] == [posted["message_id"]]
    not_hidden = await copilote.request(
        "message.restore", room_id=room, message_id=posted["message_id"]
    )
    assert (not_hidden["code"], not_hidden["reason"]) == ("invalid_input", "not_hidden")
    # Deleted by its author afterwards: the restored event is redacted in turn.
    await marie.request("delete", room_id=room, message_id=posted["message_id"])
    later = await client(server, world, "rapporteur")
    await later.subscribe(room, after_seq=0)
    assert "propos" not in json.dumps(later.events(room), ensure_ascii=False)
    await close(marie, paul, copilote, late, later)


# -- mute, lock, slow mode ---------------------------------------------------------------
async def test_muted_member_cannot_write_until_the_mute_ends(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    paul = await client(server, world, "paul")
    copilote = await client(server, world, "copilote")
    marie = await client(server, world, "marie")
    await marie.subscribe(room)
    posted = await marie.post(room, "réagissez")
    muted = await copilote.request(
        "member.mute", room_id=room, user_id=world.id("paul"), seconds=2, reason="Insultes"
    )
    event = await marie.wait_event(room, muted["seq"])
    assert event["type"] == "member.muted"
    assert event["user"] == {"id": world.id("paul"), "name": "Paul Sicard"}
    assert event["until"].endswith("Z")
    assert "reason" not in event  # the reason is for the member and the log only
    told = await paul.wait_for(notice("muted", room))
    assert (told["reason"], told["until"]) == ("Insultes", event["until"])

    refused = await paul.post(room, "je proteste")
    assert refused["type"] == "error"
    assert refused["code"] == "muted"
    assert 1 <= refused["retry_after"] <= 2
    assert refused["until"] == event["until"]
    assert "sourdine" in refused["message"]
    react = await paul.request(
        "react", room_id=room, message_id=posted["message_id"], emoji="👍", op="add"
    )
    assert react["code"] == "muted"
    # Elsewhere Paul writes as usual.
    assert (await paul.post(world.chantier_room, "ailleurs"))["type"] == "ack"
    _, state = await get_json(server, world, "paul", f"/api/rooms/{room}/state")
    assert state["me"]["muted_until"] == event["until"]

    await asyncio.sleep(2.1)
    assert (await paul.post(room, "me revoilà"))["type"] == "ack"

    # A long mute lifted early.
    await copilote.request(
        "member.mute", room_id=room, user_id=world.id("paul"), seconds=3600, reason="Encore"
    )
    assert (await paul.post(room, "non"))["code"] == "muted"
    lifted = await copilote.request("member.unmute", room_id=room, user_id=world.id("paul"))
    assert (await marie.wait_event(room, lifted["seq"]))["type"] == "member.unmuted"
    await paul.wait_for(notice("unmuted", room))
    assert (await paul.post(room, "merci"))["type"] == "ack"
    twice = await copilote.request("member.unmute", room_id=room, user_id=world.id("paul"))
    assert twice["seq"] is None
    await close(paul, copilote, marie)


async def test_locked_room_is_read_only_but_for_moderators(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    marie = await client(server, world, "marie")
    copilote = await client(server, world, "copilote")
    admin = await client(server, world, "admin")
    await marie.subscribe(room)
    posted = await marie.post(room, "avant")
    locked = await copilote.request("room.lock", room_id=room, reason="Séance close")
    event = await marie.wait_event(room, locked["seq"])
    assert event["type"] == "room.locked"
    assert event["by"] == {"id": world.id("copilote"), "name": "Sophie Vidal"}
    assert event["reason"] == "Séance close"
    assert (await copilote.request("room.lock", room_id=room))["seq"] is None

    refused = await marie.post(room, "pendant")
    assert refused["code"] == "room_locked"
    assert "verrouillé" in refused["message"]
    react = await marie.request(
        "react", room_id=room, message_id=posted["message_id"], emoji="👍", op="add"
    )
    assert react["code"] == "room_locked"
    # Moderators still write: the copilot, and an administrator.
    assert (await copilote.post(room, "compte rendu à venir"))["type"] == "ack"
    assert (await admin.post(room, "noté"))["type"] == "ack"
    _, state = await get_json(server, world, "marie", f"/api/rooms/{room}/state")
    assert state["locked"] is True

    unlocked = await admin.request("room.unlock", room_id=room)
    assert (await marie.wait_event(room, unlocked["seq"]))["type"] == "room.unlocked"
    assert (await marie.post(room, "après"))["type"] == "ack"
    await close(marie, copilote, admin)


async def test_slow_mode_spaces_a_members_messages(server: LiveServer, world: World) -> None:
    room = world.group_room
    marie = await client(server, world, "marie")
    copilote = await client(server, world, "copilote")
    await marie.subscribe(room)
    slow = await copilote.request("room.slow_mode", room_id=room, seconds=30)
    event = await marie.wait_event(room, slow["seq"])
    assert (event["type"], event["seconds"]) == ("room.slow_mode", 30)
    too_long = await copilote.request("room.slow_mode", room_id=room, seconds=7200)
    assert (too_long["code"], too_long["field"]) == ("invalid_input", "seconds")

    first = await marie.post(room, "un", client_id="slow-1")
    assert first["type"] == "ack"
    second = await marie.post(room, "deux")
    assert second["code"] == "slow_mode"
    assert second["seconds"] == 30
    assert 25 <= second["retry_after"] <= 30
    # A resend of the first message is still answered (idempotent sends).
    resent = await marie.post(room, "un", client_id="slow-1")
    assert (resent["type"], resent["duplicate"]) == ("ack", True)
    # Moderators are exempt; other rooms are not slowed.
    for text in ("a", "b", "c"):
        assert (await copilote.post(room, text))["type"] == "ack"
    assert (await marie.post(world.chantier_room, "ailleurs"))["type"] == "ack"

    await copilote.request("room.slow_mode", room_id=room, seconds=0)
    assert (await marie.post(room, "deux"))["type"] == "ack"
    await close(marie, copilote)


# -- removal -----------------------------------------------------------------------------
async def test_removed_member_stops_receiving_the_room_within_a_second(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    paul = await client(server, world, "paul")
    marie = await client(server, world, "marie")
    copilote = await client(server, world, "copilote")
    await paul.subscribe(room)
    await paul.subscribe(world.chantier_room)
    await marie.subscribe(room)
    removed = await copilote.request(
        "member.remove", room_id=room, user_id=world.id("paul"), reason="Harcèlement"
    )
    assert removed["type"] == "ack"
    async with asyncio.timeout(1):
        gone = await paul.wait_for(lambda f: f["type"] == "removed" and f["room_id"] == room)
    assert gone["reason"] == "excluded"
    told = await paul.wait_for(notice("removed", room))
    assert told["reason"] == "Harcèlement"
    event = await marie.wait_event(room, removed["seq"])
    assert event["type"] == "member.removed"
    assert event["user"]["id"] == world.id("paul")

    after = await marie.post(room, "Paul n'est plus là")
    await marie.wait_event(room, after["seq"])
    await asyncio.sleep(0.3)
    assert not [f for f in paul.events(room) if f["seq"] == after["seq"]]
    # The exclusion overrides his group membership, for this room only.
    again = await paul.request("subscribe", rooms=[{"room_id": room}])
    assert again["code"] == "room_excluded"
    assert (await paul.post(room, "je reviens"))["code"] == "room_excluded"
    status, body = await get_json(server, world, "paul", f"/api/rooms/{room}/messages")
    assert (status, body["error"]["code"]) == (403, "room_excluded")
    _, unread = await get_json(server, world, "paul", "/api/unread")
    assert str(room) not in unread["rooms"]
    assert str(world.chantier_room) in unread["rooms"]
    assert (await paul.post(world.chantier_room, "ici ça va"))["type"] == "ack"
    async with http(server, world, "paul") as session:
        assert (await session.get(f"/salons/{room}")).status_code == 404
    twice = await copilote.request(
        "member.remove", room_id=room, user_id=world.id("paul"), reason="Harcèlement"
    )
    assert twice["seq"] is None

    readmitted = await copilote.request("member.readmit", room_id=room, user_id=world.id("paul"))
    assert readmitted["changed"] is True
    await paul.wait_for(notice("readmitted", room))
    await paul.subscribe(room)
    assert (await paul.post(room, "merci"))["type"] == "ack"
    await close(paul, marie, copilote)


# -- flags -------------------------------------------------------------------------------
async def test_flags_reach_moderators_and_hide_at_the_threshold(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    marie = await client(server, world, "marie")
    copilote = await client(server, world, "copilote")
    flaggers = {who: await client(server, world, who) for who in ("paul", "elodie", "rapporteur")}
    await copilote.subscribe(room)
    posted = await marie.post(room, "achetez mes bougies")
    message = {"room_id": room, "message_id": posted["message_id"]}

    first = await flaggers["paul"].request(
        "message.flag", **message, reason="spam", comment="publicité"
    )
    assert (first["type"], first["duplicate"], first["hidden"]) == ("ack", False, False)
    raised = await copilote.wait_for(lambda f: f["type"] == "flag.raised")
    assert raised["room_id"] == room
    assert raised["flag"]["reason"] == "spam"
    assert raised["flag"]["comment"] == "publicité"
    assert raised["flag"]["by"] == {"id": world.id("paul"), "name": "Paul Sicard"}
    assert raised["message"]["excerpt"] == "achetez mes bougies"
    assert (raised["open_flags"], raised["hidden"]) == (1, False)
    # Flags are not room events: members do not see them.
    assert not [f for f in marie.frames if f["type"].startswith("flag.")]
    again = await flaggers["paul"].request("message.flag", **message, reason="spam")
    assert (again["duplicate"], again["flag_id"]) == (True, first["flag_id"])
    bad = await flaggers["elodie"].request("message.flag", **message, reason="boring")
    assert (bad["code"], bad["field"]) == ("invalid_input", "reason")

    await flaggers["elodie"].request("message.flag", **message, reason="offensive")
    third = await flaggers["rapporteur"].request("message.flag", **message, reason="spam")
    assert third["hidden"] is True
    event = await copilote.wait_event(room, third["seq"])
    assert event == {
        "type": "message.hidden",
        "room_id": room,
        "seq": third["seq"],
        "message_id": posted["message_id"],
        "pending_review": True,
    }
    told = await marie.wait_for(notice("message_hidden", room))
    assert told["pending_review"] is True
    assert told["flags"] == {"offensive": 1, "spam": 2}
    assert told["reason"] == ""
    last = await copilote.wait_for(lambda f: f["type"] == "flag.raised" and f["open_flags"] == 3)
    assert last["hidden"] is True

    # The queue shows the original text to moderators.
    _, report = await get_json(server, world, "copilote", f"/api/rooms/{room}/moderation")
    (queued,) = report["flags"]
    assert queued["message"]["source"] == "achetez mes bougies"
    assert queued["message"]["pending_review"] is True
    assert [f["reason"] for f in queued["flags"]] == ["spam", "offensive", "spam"]

    # The copilot keeps the message: flags dismissed, message shown again.
    dismissed = await copilote.request("flags.dismiss", **message, reason="Rien de grave")
    assert dismissed["resolved"] == 3
    restored = await copilote.wait_event(room, dismissed["seq"])
    assert restored["type"] == "message.restored"
    assert restored["message"]["source"] == "achetez mes bougies"
    resolved = await copilote.wait_for(lambda f: f["type"] == "flag.resolved")
    assert (resolved["resolution"], resolved["count"]) == ("dismissed", 3)
    _, report = await get_json(server, world, "copilote", f"/api/rooms/{room}/moderation")
    assert report["flags"] == []
    actions = [e["action"] for e in reversed(report["log"])]
    assert actions == [
        "message.flagged",
        "message.flagged",
        "message.flagged",
        "message.hidden",
        "message.restored",
        "flags.dismissed",
    ]
    automatic = next(e for e in report["log"] if e["action"] == "message.hidden")
    assert automatic["actor"] is None
    assert automatic["details"]["pending_review"] is True
    await close(marie, copilote, *flaggers.values())


async def test_a_copilot_confirms_a_message_hidden_by_flags(database_url: str) -> None:
    async with live_server(database_url, flag_hide_threshold=1) as server:
        world = await build_world(server.state.db)
        room = world.group_room
        marie = await client(server, world, "marie")
        paul = await client(server, world, "paul")
        copilote = await client(server, world, "copilote")
        await copilote.subscribe(room)
        posted = await marie.post(room, "propos limite")
        flagged = await paul.request(
            "message.flag", room_id=room, message_id=posted["message_id"], reason="offensive"
        )
        assert flagged["hidden"] is True
        confirmed = await copilote.request(
            "message.hide", room_id=room, message_id=posted["message_id"], reason="Confirmé"
        )
        event = await copilote.wait_event(room, confirmed["seq"])
        assert (event["type"], event["pending_review"]) == ("message.hidden", False)
        told = await marie.wait_for(
            lambda f: f["type"] == "moderation.notice" and f.get("reason") == "Confirmé"
        )
        assert told["pending_review"] is False
        _, report = await get_json(server, world, "copilote", f"/api/rooms/{room}/moderation")
        assert report["flags"] == []
        await close(marie, paul, copilote)


# -- announcements, pins, description ------------------------------------------------------
async def test_announcement_acknowledgements_are_seen_by_copilots(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    copilote = await client(server, world, "copilote")
    marie = await client(server, world, "marie")
    paul = await client(server, world, "paul")
    await paul.subscribe(room)
    posted = await copilote.request(
        "announcement.post", room_id=room, body="Réunion **jeudi** : merci d'en prendre acte."
    )
    event = await paul.wait_event(room, posted["seq"])
    assert event["type"] == "announcement.posted"
    announcement = event["announcement"]
    assert announcement["id"] == posted["announcement_id"]
    assert (
        announcement["html"] == "<p>Réunion <strong>jeudi</strong> : merci d'en prendre acte.</p>\n"
    )
    assert announcement["author"] == {"id": world.id("copilote"), "name": "Sophie Vidal"}

    acked = await marie.request(
        "announcement.ack", room_id=room, announcement_id=announcement["id"]
    )
    assert (acked["type"], acked["duplicate"]) == ("ack", False)
    seen = await copilote.wait_for(lambda f: f["type"] == "announcement.acknowledged")
    assert seen["user"] == {"id": world.id("marie"), "name": "Marie Dupont"}
    assert (seen["announcement_id"], seen["count"]) == (announcement["id"], 1)
    twice = await marie.request(
        "announcement.ack", room_id=room, announcement_id=announcement["id"]
    )
    assert twice["duplicate"] is True
    # Observers acknowledge too; other members are not told who did.
    observer = await client(server, world, "observer")
    await observer.request("announcement.ack", room_id=room, announcement_id=announcement["id"])
    await copilote.wait_for(lambda f: f["type"] == "announcement.acknowledged" and f["count"] == 2)
    assert not [f for f in paul.frames if f["type"] == "announcement.acknowledged"]
    missing = await marie.request("announcement.ack", room_id=room, announcement_id=10**9)
    assert missing["code"] == "announcement_not_found"

    _, state = await get_json(server, world, "marie", f"/api/rooms/{room}/state")
    (shown,) = state["announcements"]
    assert shown["acknowledged"] is True
    assert "ack_count" not in shown
    _, state = await get_json(server, world, "paul", f"/api/rooms/{room}/state")
    assert state["announcements"][0]["acknowledged"] is False
    _, state = await get_json(server, world, "copilote", f"/api/rooms/{room}/state")
    assert state["announcements"][0]["ack_count"] == 2
    _, report = await get_json(server, world, "copilote", f"/api/rooms/{room}/moderation")
    names = [a["user"]["name"] for a in report["announcements"][0]["acknowledged"]]
    assert names == ["Marie Dupont", "Louise Fournier"]
    await close(copilote, marie, paul, observer)


async def test_pins_and_the_room_description(server: LiveServer, world: World) -> None:
    room = world.chantier_room
    marie = await client(server, world, "marie")
    copilote = await client(server, world, "copilote")
    await marie.subscribe(room)
    posted = await marie.post(room, "Le compte rendu est en ligne.")
    pinned = await copilote.request("message.pin", room_id=room, message_id=posted["message_id"])
    event = await marie.wait_event(room, pinned["seq"])
    assert event["type"] == "message.pinned"
    assert event["excerpt"] == "Le compte rendu est en ligne."
    assert event["author"] == {"id": world.id("marie"), "name": "Marie Dupont"}
    assert event["pinned_by"]["id"] == world.id("copilote")
    assert (await copilote.request("message.pin", room_id=room, message_id=posted["message_id"]))[
        "seq"
    ] is None
    _, state = await get_json(server, world, "marie", f"/api/rooms/{room}/state")
    assert [(p["message_id"], p["excerpt"]) for p in state["pins"]] == [
        (posted["message_id"], "Le compte rendu est en ligne.")
    ]
    unpinned = await copilote.request(
        "message.unpin", room_id=room, message_id=posted["message_id"]
    )
    assert (await marie.wait_event(room, unpinned["seq"]))["type"] == "message.unpinned"

    updated = await copilote.request(
        "room.update",
        room_id=room,
        description="Le chantier des **bourgs-centres**.",
        agenda="1. Calendrier\n2. Auditions",
    )
    event = await marie.wait_event(room, updated["seq"])
    assert event["type"] == "room.updated"
    assert event["description_html"] == "<p>Le chantier des <strong>bourgs-centres</strong>.</p>\n"
    assert "<ol>" in event["agenda_html"]
    same = await copilote.request(
        "room.update", room_id=room, description="Le chantier des **bourgs-centres**."
    )
    assert same["seq"] is None
    _, state = await get_json(server, world, "marie", f"/api/rooms/{room}/state")
    assert state["pins"] == []
    assert state["agenda"] == "1. Calendrier\n2. Auditions"
    assert state["me"] == {
        "moderator": False,
        "can_flag": True,
        "can_acknowledge": True,
        "muted_until": None,
        "blocked": False,
    }
    await close(marie, copilote)


# -- blocking ----------------------------------------------------------------------------
async def test_a_blocked_member_reads_everywhere_but_writes_nowhere(
    server: LiveServer, world: World
) -> None:
    admin = await client(server, world, "admin")
    paul = await client(server, world, "paul")
    marie = await client(server, world, "marie")
    posted = await marie.post(world.group_room, "à lire")
    blocked = await admin.request("member.block", user_id=world.id("paul"), reason="Propos haineux")
    assert (blocked["type"], blocked["changed"]) == ("ack", True)
    async with server.state.db.read() as session:  # also in the admins' audit log
        logged = list(await session.scalars(select(AuditEvent.action)))
    assert "member.blocked" in logged
    told = await paul.wait_for(notice("blocked"))
    assert told["reason"] == "Propos haineux"
    assert "room_id" not in told

    for room in (world.group_room, world.chantier_room):
        refused = await paul.post(room, "bonjour")
        assert refused["code"] == "blocked", room
        assert "Propos haineux" in refused["message"]
    react = await paul.request(
        "react", room_id=world.group_room, message_id=posted["message_id"], emoji="👍", op="add"
    )
    assert react["code"] == "blocked"
    flag = await paul.request(
        "message.flag", room_id=world.group_room, message_id=posted["message_id"], reason="spam"
    )
    assert flag["code"] == "blocked"
    # He still reads: subscriptions, live events and history.
    await paul.subscribe(world.group_room)
    later = await marie.post(world.group_room, "toujours lisible")
    assert (await paul.wait_event(world.group_room, later["seq"]))["type"] == "message.posted"
    status, _ = await get_json(server, world, "paul", f"/api/rooms/{world.chantier_room}/messages")
    assert status == 200
    _, state = await get_json(server, world, "paul", f"/api/rooms/{world.group_room}/state")
    assert state["me"]["blocked"] is True

    # The act is in every room's moderation log.
    _, report = await get_json(
        server, world, "copilote", f"/api/rooms/{world.chantier_room}/moderation"
    )
    entry = report["log"][0]
    assert (entry["action"], entry["room_id"], entry["reason"]) == (
        "member.blocked",
        None,
        "Propos haineux",
    )
    assert [b["user"]["id"] for b in report["blocks"]] == [world.id("paul")]
    itself = await admin.request("member.block", user_id=world.id("admin"), reason="x")
    assert itself["reason"] == "self"

    unblocked = await admin.request("member.unblock", user_id=world.id("paul"))
    assert unblocked["changed"] is True
    await paul.wait_for(notice("unblocked"))
    assert (await paul.post(world.group_room, "merci"))["type"] == "ack"
    await close(admin, paul, marie)


# -- the log -----------------------------------------------------------------------------
async def test_moderation_log_records_every_act_and_has_a_french_page(
    server: LiveServer, world: World
) -> None:
    room = world.group_room
    copilote = await client(server, world, "copilote")
    marie = await client(server, world, "marie")
    posted = await marie.post(room, "texte à masquer")
    await copilote.request("room.lock", room_id=room, reason="Pause")
    await copilote.request("room.unlock", room_id=room)
    await copilote.request("room.slow_mode", room_id=room, seconds=10)
    await copilote.request(
        "member.mute", room_id=room, user_id=world.id("paul"), seconds=600, reason="Calme"
    )
    await copilote.request(
        "message.hide", room_id=room, message_id=posted["message_id"], reason="Hors sujet"
    )
    await copilote.request("announcement.post", room_id=room, body="Pause de dix minutes")
    status, report = await get_json(server, world, "copilote", f"/api/rooms/{room}/moderation")
    assert status == 200
    log = list(reversed(report["log"]))
    assert [e["action"] for e in log] == [
        "room.locked",
        "room.unlocked",
        "room.slow_mode",
        "member.muted",
        "message.hidden",
        "announcement.posted",
    ]
    assert all(e["actor"]["name"] == "Sophie Vidal" and e["created_at"] for e in log)
    assert log[0]["reason"] == "Pause"
    assert log[2]["details"] == {"seconds": 10}
    assert (log[3]["target"]["name"], log[3]["reason"]) == ("Paul Sicard", "Calme")
    assert log[3]["details"]["seconds"] == 600
    assert [m["user"]["name"] for m in report["mutes"]] == ["Paul Sicard"]
    # Paging back.
    _, older = await get_json(
        server, world, "copilote", f"/api/rooms/{room}/moderation?before={log[2]['id']}"
    )
    assert [e["action"] for e in older["log"]] == ["room.unlocked", "room.locked"]

    async with http(server, world, "copilote") as session:
        page = await session.get(f"/salons/{room}/moderation")
    assert page.status_code == 200
    for text in ("Journal de modération", "Salon verrouillé", "Hors sujet", "texte à masquer"):
        assert text in page.text, text
    async with http(server, world, "marie") as session:
        assert (await session.get(f"/salons/{room}/moderation")).status_code == 403
        # The room page tells the browser what the member may do.
        room_page = await session.get(f"/salons/{room}")
    assert '"can_moderate": false' in room_page.text
    await close(copilote, marie)


@pytest.mark.parametrize("who", ["copilote", "admin"])
async def test_room_page_offers_moderation_to_moderators(
    server: LiveServer, world: World, who: str
) -> None:
    async with http(server, world, who) as session:
        page = await session.get(f"/salons/{world.group_room}")
    assert '"can_moderate": true' in page.text
    assert f'href="/salons/{world.group_room}/moderation"' in page.text


async def test_a_muted_member_is_not_shown_typing(server: LiveServer, world: World) -> None:
    room = world.group_room
    sophie = await ProtocolClient.connect(server.ws_url, world.cookies["copilote"])
    paul = await ProtocolClient.connect(server.ws_url, world.cookies["paul"])
    await sophie.subscribe(room)
    await paul.subscribe(room)
    muted = await sophie.request(
        "member.mute", room_id=room, user_id=world.id("paul"), seconds=1800, reason="Calme"
    )
    assert muted["type"] == "ack", muted
    await paul.send("typing", room_id=room, topic="Sujet")
    assert not [f for f in await sophie.quiet(0.4) if f["type"] == "typing"]
    await sophie.close()
    await paul.close()
