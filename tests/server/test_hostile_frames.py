"""Every field of every client frame, given values a hostile or broken client could send.

``test_errors.py`` checks that frames the schema refuses get a structured error. This
goes further, from the schema itself (``server.protocol.FRAMES``): for each frame type, a
frame that is valid in every field but one, that one set in turn to values of the right
JSON type that the code behind it may not expect — integers beyond PostgreSQL's 32-bit
columns, dates that do not exist, empty and oversized text, control characters, nested
lists and objects. Each frame is sent by a copilot (so that it gets past the permission
check to the code behind it) and must be answered, with an ``ack`` or an ``error`` whose
code says what was wrong: never ``internal_error``, never a closed socket, and nothing
logged as a failure. Run on SQLite and PostgreSQL, whose integer ranges differ and whose
text cannot hold a NUL character.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from server import gateway
from server.protocol import FRAMES, Field
from tests.conftest import LiveServer
from tests.factories import World
from tests.server.test_polls import open_poll
from tests.wsclient import ProtocolClient

BIG_INTS = [0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**62 - 1, -(2**62) + 1]
ODD_TEXTS = [
    "",
    " ",
    "\x00",
    "\u202e\u200b",
    "<script>alert(1)</script>",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "-1",
    "😀" * 40,
]
ODD_LISTS: list[Any] = [
    [],
    [None],
    [0],
    [2**40],
    ["x"],
    ["\x00"],
    [{}],
    [[]],
    ["a", "a"],
    [True],
]
ODD_OBJECTS: list[Any] = [
    {},
    {"x": None},
    {"reasons": ["off"]},
    {"reasons": "sometimes"},
    {"min_choices": 2**40},
    {"max_choices": -1},
    {"none_option": "yes"},
    {"allow_ties": None},
    {"Plan A": 2**40},
    {"Plan A": "x"},
    {"Plan A": None},
    {"Plan A": [1]},
    {"Plan A\x00": 1},
]
ODD_NUMBERS: list[Any] = [0, -1, 1.5, 1e308, -1e308, 2**62 - 1, 1e-9]


def odd_values(name: str, spec: Field) -> list[Any]:
    """Values of a type the schema accepts for ``spec``, chosen to break what is behind."""
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    values: list[Any] = []
    for kind in kinds:
        if kind is bool:
            values += [True, False]
        elif kind is int:
            values += BIG_INTS
        elif kind is float:
            values += ODD_NUMBERS
        elif kind is str:
            # The test client escapes "é" as six characters: 10 000 of them still fit a
            # frame (``MAX_FRAME_BYTES``), and are more than any text field takes.
            longest = min(spec.max_len or 10_000, 10_000)
            values += [*ODD_TEXTS, "é" * longest, "a" * longest]
        elif kind is list:
            values += ODD_LISTS
        elif kind is dict:
            values += ODD_OBJECTS
    return [v for v in values if not (isinstance(v, str | list) and len(v) > (spec.max_len or 1e9))]


async def _fixtures(copilote: ProtocolClient, marie: ProtocolClient, world: World) -> dict:
    """Real ids for the fields that are not being broken."""
    room = world.group_room
    posted = await marie.post(room, "Un message à commenter")
    assert posted["type"] == "ack", posted
    poll = await open_poll(copilote, room)
    announced = await copilote.request("announcement.post", room_id=room, body="Annonce")
    assert announced["type"] == "ack", announced
    proxy = await marie.request(
        "proxy.give", room_id=room, holder_id=world.id("paul"), poll_id=poll["poll_id"]
    )
    assert proxy["type"] == "ack", proxy
    return {
        "room": room,
        "message": posted["message_id"],
        "poll": poll["poll_id"],
        "announcement": announced["announcement_id"],
        "proxy": proxy["proxy_id"],
        "marie": world.id("marie"),
        "paul": world.id("paul"),
    }


def _valid(frame_type: str, ids: dict) -> dict[str, Any]:
    """A frame of ``frame_type`` that the schema accepts, with real ids."""
    room, message, user = ids["room"], ids["message"], ids["paul"]
    by_name: dict[str, Any] = {
        "rooms": [{"room_id": room}],
        "room_ids": [room],
        "room_id": room,
        "topic": "Sujet",
        "body": "Un texte",
        "client_id": str(uuid.uuid4()),
        "message_id": message,
        "message_ids": [message],
        "emoji": "👍",
        "op": "add",
        "seq": 1,
        "old": "Sujet",
        "new": "Autre sujet",
        "reason": "spam",
        "seconds": 60,
        "description": "Une description",
        "agenda": "Un ordre du jour",
        "announcement_id": ids["announcement"],
        "user_id": user,
        "kind": "single",
        "question": "Une question ?",
        "options": ["Oui", "Non"],
        "poll_id": ids["poll"],
        "ballot": "Plan A",
        "closes_in_minutes": 60,
        "holder_id": user,
        "proxy_id": ids["proxy"],
    }
    schema = FRAMES[frame_type]
    return {name: by_name[name] for name, spec in schema.items() if spec.required and name != "id"}


def _cases(room: int) -> list[tuple[str, str, Any]]:
    cases: list[tuple[str, str, Any]] = []
    for frame_type, schema in FRAMES.items():
        for name, spec in schema.items():
            if name == "id":
                continue
            cases += [(frame_type, name, value) for value in odd_values(name, spec)]
        if frame_type == "subscribe":
            for value in BIG_INTS:
                cases.append((frame_type, "rooms", [{"room_id": value}]))
                cases.append((frame_type, "rooms", [{"room_id": room, "after_seq": abs(value)}]))
    return cases


async def test_every_field_of_every_frame_is_answered_without_an_internal_error(
    server: LiveServer,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Hundreds of refusals in a minute: a real client is cut off long before.
    monkeypatch.setattr(gateway, "ABUSE_ERRORS", 1_000_000)
    copilote = await ProtocolClient.connect(server.ws_url, world.cookies["copilote"])
    marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
    ids = await _fixtures(copilote, marie, world)
    internal: list[str] = []
    answered = 0
    with caplog.at_level(logging.ERROR):
        for frame_type, name, value in _cases(ids["room"]):
            frame = _valid(frame_type, ids)
            frame[name] = value
            if frame_type == "send" and name != "client_id":
                frame["client_id"] = str(uuid.uuid4())
            case = f"{frame_type}.{name} = {value!r:.80}"
            if "id" not in FRAMES[frame_type]:  # not answered: the socket must stay
                await copilote.send(frame_type, **frame)
                frame_type, frame = "ping", {}
            try:
                answer = await copilote.request(frame_type, **frame)
            except TimeoutError:
                pytest.fail(f"no answer to {case}")
            answered += 1
            if answer["type"] == "error" and answer["code"] == "internal_error":
                internal.append(case)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not internal, "\n".join(internal)
    assert not failures, failures[:5]
    assert answered > 500
    assert (await copilote.request("ping"))["type"] == "pong"
    await copilote.close()
    await marie.close()


async def test_nul_characters_are_taken_out_of_every_text_of_a_frame(
    server: LiveServer, world: World
) -> None:
    """No member types one; PostgreSQL cannot store one: a frame's strings lose them."""
    room = world.group_room
    copilote = await ProtocolClient.connect(server.ws_url, world.cookies["copilote"])
    await copilote.subscribe(room)
    sent = await copilote.post(room, "Bon\x00jour", topic="Su\x00jet")
    assert sent["type"] == "ack", sent
    message = (await copilote.wait_event(room, sent["seq"]))["message"]
    assert (message["source"], message["topic"]) == ("Bonjour", "Sujet")
    poll = await copilote.request(
        "poll.create",
        room_id=room,
        topic="Avis",
        kind="single",
        question="Quel\x00 plan ?",
        options=["Plan\x00 A", "Plan B"],
    )
    assert poll["type"] == "ack", poll
    created = (await copilote.wait_event(room, poll["seq"]))["poll"]
    assert (created["question"], created["options"]) == ("Quel plan ?", ["Plan A", "Plan B"])
    vote = await copilote.request(
        "poll.vote", room_id=room, poll_id=poll["poll_id"], ballot="Plan\x00 A"
    )
    assert vote["type"] == "ack", vote
    await copilote.close()
