"""The chat wire protocol, sans I/O: text in, typed commands out; frames in, text out.

No awaits and no sockets here (websockets' ``protocol.py`` idea): the gateway feeds
strings to :func:`parse_frame` and sends what :func:`encode` returns. ``FRAMES`` is the
single schema of client frames; ``docs/protocol.md`` documents every frame with an
example and ``tests/server/test_protocol.py`` checks both agree.

Errors are :class:`ProtocolError` with a stable ``code`` and the request ``id`` when one
could be read, so the client can match the error to what it sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from auth.base import dumps, has_nul, in_int_range, without_nul

MAX_FRAME_BYTES = 64 * 1024
MAX_REQUEST_ID_CHARS = 64
MAX_SUBSCRIBE_ROOMS = 200

# Server → client frame types that are not room events.
HELLO = "hello"
ACK = "ack"
ERROR = "error"
RESET = "reset"
LIVE = "live"
UNREAD = "unread"
TYPING = "typing"
PRESENCE = "presence"
PONG = "pong"
REMOVED = "removed"
# Moderation frames on a member's own channel (``rooms/actions/moderation.py``): to the
# room's moderators (flags, acknowledgements) and to the member concerned (notices).
FLAG_RAISED = "flag.raised"
FLAG_RESOLVED = "flag.resolved"
ANNOUNCEMENT_ACKNOWLEDGED = "announcement.acknowledged"
MODERATION_NOTICE = "moderation.notice"


class ProtocolError(Exception):
    """A frame that cannot be understood; ``code`` is stable, ``field`` names the culprit."""

    def __init__(self, code: str, request_id: str | None = None, **data: Any) -> None:
        super().__init__(code)
        self.code = code
        self.request_id = request_id
        self.data = data


@dataclass(frozen=True, slots=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = True
    max_len: int | None = None


_ID = Field(str, required=False, max_len=MAX_REQUEST_ID_CHARS)
_ROOM = Field(int)
_INT_LIST = Field(list, max_len=500)
_MESSAGE = Field(int)
_USER = Field(int)
_REASON = Field(str, max_len=2_000)
_OPTIONAL_REASON = Field(str, required=False, max_len=2_000)

FRAMES: dict[str, dict[str, Field]] = {
    "subscribe": {"id": _ID, "rooms": Field(list, max_len=MAX_SUBSCRIBE_ROOMS)},
    "unsubscribe": {"id": _ID, "room_ids": Field(list, max_len=MAX_SUBSCRIBE_ROOMS)},
    "send": {
        "id": _ID,
        "room_id": _ROOM,
        "topic": Field(str, max_len=200),
        "body": Field(str, max_len=MAX_FRAME_BYTES),
        "client_id": Field(str, max_len=64),
        "reply_to": Field(int, required=False),
    },
    "edit": {"id": _ID, "room_id": _ROOM, "message_id": Field(int), "body": Field(str)},
    "delete": {"id": _ID, "room_id": _ROOM, "message_id": Field(int)},
    "react": {
        "id": _ID,
        "room_id": _ROOM,
        "message_id": Field(int),
        "emoji": Field(str, max_len=16),
        "op": Field(str, max_len=6),
    },
    "typing": {"room_id": _ROOM, "topic": Field(str, max_len=200)},
    "read": {
        "id": _ID,
        "room_id": _ROOM,
        "seq": Field(int),
        "topic": Field(str, required=False, max_len=200),
    },
    "topic.rename": {
        "id": _ID,
        "room_id": _ROOM,
        "old": Field(str, max_len=200),
        "new": Field(str, max_len=200),
    },
    "messages.move": {
        "id": _ID,
        "room_id": _ROOM,
        "message_ids": _INT_LIST,
        "topic": Field(str, max_len=200),
    },
    "ping": {"id": _ID},
    # Moderation (permission ``room.moderate`` unless noted).
    "message.hide": {"id": _ID, "room_id": _ROOM, "message_id": _MESSAGE, "reason": _REASON},
    "message.restore": {
        "id": _ID,
        "room_id": _ROOM,
        "message_id": _MESSAGE,
        "reason": _OPTIONAL_REASON,
    },
    "message.pin": {"id": _ID, "room_id": _ROOM, "message_id": _MESSAGE},
    "message.unpin": {"id": _ID, "room_id": _ROOM, "message_id": _MESSAGE},
    "message.flag": {
        "id": _ID,
        "room_id": _ROOM,
        "message_id": _MESSAGE,
        "reason": Field(str, max_len=20),
        "comment": _OPTIONAL_REASON,
    },
    "flags.dismiss": {
        "id": _ID,
        "room_id": _ROOM,
        "message_id": _MESSAGE,
        "reason": _OPTIONAL_REASON,
    },
    "room.lock": {"id": _ID, "room_id": _ROOM, "reason": _OPTIONAL_REASON},
    "room.unlock": {"id": _ID, "room_id": _ROOM},
    "room.slow_mode": {"id": _ID, "room_id": _ROOM, "seconds": Field(int)},
    "room.update": {
        "id": _ID,
        "room_id": _ROOM,
        "description": Field(str, required=False, max_len=MAX_FRAME_BYTES),
        "agenda": Field(str, required=False, max_len=MAX_FRAME_BYTES),
    },
    "announcement.post": {
        "id": _ID,
        "room_id": _ROOM,
        "body": Field(str, max_len=MAX_FRAME_BYTES),
    },
    "announcement.ack": {"id": _ID, "room_id": _ROOM, "announcement_id": Field(int)},
    "member.mute": {
        "id": _ID,
        "room_id": _ROOM,
        "user_id": _USER,
        "seconds": Field(int),
        "reason": _REASON,
    },
    "member.unmute": {"id": _ID, "room_id": _ROOM, "user_id": _USER},
    "member.remove": {"id": _ID, "room_id": _ROOM, "user_id": _USER, "reason": _REASON},
    "member.readmit": {"id": _ID, "room_id": _ROOM, "user_id": _USER},
    "member.block": {"id": _ID, "user_id": _USER, "reason": _REASON},
    "member.unblock": {"id": _ID, "user_id": _USER},
    # Polls (``rooms/actions/polls.py``).
    "poll.create": {
        "id": _ID,
        "room_id": _ROOM,
        "topic": Field(str, max_len=200),
        "kind": Field(str, max_len=20),
        "question": Field(str, max_len=2_000),
        "options": Field(list, max_len=50),
        "settings": Field(dict, required=False),
        "secret": Field(bool, required=False),
        "visibility": Field(str, required=False, max_len=20),
        "quorum": Field((float, int), required=False),
        "closes_in_minutes": Field(int, required=False),
        "opens_in_minutes": Field(int, required=False),
        "remind_minutes": Field(int, required=False),
    },
    "poll.vote": {
        "id": _ID,
        "room_id": _ROOM,
        "poll_id": Field(int),
        "ballot": Field((str, list, dict)),
        "receipt": Field(str, required=False, max_len=100),
        "for_user_id": Field(int, required=False),
    },
    "poll.extend": {
        "id": _ID,
        "room_id": _ROOM,
        "poll_id": Field(int),
        "closes_in_minutes": Field(int),
    },
    # Procurations (``rooms/actions/proxies.py``).
    "proxy.give": {
        "id": _ID,
        "room_id": _ROOM,
        "holder_id": _USER,
        "poll_id": Field(int, required=False),
        "until": Field(str, required=False, max_len=10),
    },
    "proxy.revoke": {"id": _ID, "room_id": _ROOM, "proxy_id": Field(int)},
    "poll.close": {
        "id": _ID,
        "room_id": _ROOM,
        "poll_id": Field(int),
        "outcome": Field(str, required=False, max_len=2_000),
    },
}


@dataclass(frozen=True, slots=True)
class Command:
    """A validated client frame: its ``type``, request ``id`` and typed fields."""

    type: str
    id: str | None
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.fields.get(name)


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    # bool is an int in Python; on the wire true is not a room id (but is a flag).
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind)


def _check_field(name: str, spec: Field, value: Any, request_id: str | None) -> None:
    if not _is_kind(value, spec.kind):
        raise ProtocolError("bad_frame", request_id, field=name, reason="type")
    if spec.max_len is not None and len(value) > spec.max_len:
        raise ProtocolError("bad_frame", request_id, field=name, reason="too_long")
    if spec.kind is int and not in_int_range(value):
        raise ProtocolError("bad_frame", request_id, field=name, reason="range")


def _check_subscriptions(rooms: list[Any], request_id: str | None) -> list[tuple[int, int | None]]:
    wanted = []
    for entry in rooms:
        if not isinstance(entry, dict) or not _is_kind(entry.get("room_id"), int):
            raise ProtocolError("bad_frame", request_id, field="rooms", reason="type")
        if not in_int_range(entry["room_id"]):
            raise ProtocolError("bad_frame", request_id, field="rooms", reason="range")
        after = entry.get("after_seq")
        if after is not None and (not _is_kind(after, int) or after < 0):
            raise ProtocolError("bad_frame", request_id, field="after_seq", reason="type")
        if after is not None and not in_int_range(after):
            raise ProtocolError("bad_frame", request_id, field="after_seq", reason="range")
        wanted.append((entry["room_id"], after))
    return wanted


def parse_frame(text: str | bytes | None) -> Command:
    """Validate one client frame against :data:`FRAMES`.

    Raises:
        ProtocolError: ``binary_frame``, ``frame_too_large``, ``bad_json``,
            ``unknown_type`` or ``bad_frame`` (with ``field`` and ``reason``).
    """
    if not isinstance(text, str):
        raise ProtocolError("binary_frame")
    if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", limit=MAX_FRAME_BYTES)
    try:
        raw = orjson.loads(text)
    except ValueError:  # orjson.JSONDecodeError; stricter than json (no NaN, no lone surrogate)
        raise ProtocolError("bad_json") from None
    if not isinstance(raw, dict):
        raise ProtocolError("bad_json")
    request_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    if request_id is not None and len(request_id) > MAX_REQUEST_ID_CHARS:
        request_id = None
    frame_type = raw.get("type")
    schema = FRAMES.get(frame_type) if isinstance(frame_type, str) else None
    if schema is None:
        raise ProtocolError("unknown_type", request_id)
    fields: dict[str, Any] = {}
    for name, spec in schema.items():
        value = raw.get(name)
        if value is None:
            if spec.required:
                raise ProtocolError("bad_frame", request_id, field=name, reason="missing")
            continue
        _check_field(name, spec, value, request_id)
        fields[name] = without_nul(value) if has_nul(value) else value
    if frame_type == "subscribe":
        fields["rooms"] = _check_subscriptions(fields["rooms"], request_id)
    elif frame_type in ("unsubscribe", "messages.move"):
        key = "room_ids" if frame_type == "unsubscribe" else "message_ids"
        if not all(_is_kind(v, int) for v in fields[key]):
            raise ProtocolError("bad_frame", request_id, field=key, reason="type")
        if not all(in_int_range(v) for v in fields[key]):
            raise ProtocolError("bad_frame", request_id, field=key, reason="range")
    elif frame_type == "react" and fields["op"] not in ("add", "remove"):
        raise ProtocolError("bad_frame", request_id, field="op", reason="value")
    fields.pop("id", None)
    return Command(type=frame_type, id=request_id, fields=fields)


def encode(frame_type: str, **fields: Any) -> str:
    """Encode a server frame (the same compact JSON as stored room events)."""
    return dumps({"type": frame_type, **fields})
