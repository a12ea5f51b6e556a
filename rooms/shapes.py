"""The JSON shapes of messages, shared by live frames, catch-up and HTTP history.

One function per shape so that a message looks the same whichever way it reaches a
client.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from rooms.models import Message

FORMER_MEMBER = "Ancien membre"
EXCERPT_CHARS = 140


@dataclass(slots=True)
class NewMessage:
    """A message being posted, as the shapes read it: an ORM ``Message`` costs about
    20 µs to build, for attributes that are only read (the row is a Core insert)."""

    room_id: int
    seq: int
    topic: str
    author_id: int | None
    client_id: str
    source: str
    html: str
    reply_to_id: int | None
    created_at: dt.datetime
    id: int = 0
    edited_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None
    hidden_at: dt.datetime | None = None


def iso(moment: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``; SQLite hands back naive datetimes, taken as UTC."""
    if moment is None:
        return None
    offset = moment.utcoffset()
    if offset:  # another time zone: convert
        moment = moment.astimezone(dt.UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def excerpt(message: Message | NewMessage) -> str:
    text = " ".join(message.source.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def reply_shape(
    parent: Message | NewMessage | None, parent_author: str | None
) -> dict[str, Any] | None:
    if parent is None:
        return None
    return {
        "id": parent.id,
        "author": parent_author or FORMER_MEMBER,
        "excerpt": "" if parent.deleted_at else excerpt(parent),
        "deleted": parent.deleted_at is not None,
    }


def message_shape(
    message: Message | NewMessage,
    *,
    author_name: str | None,
    reactions: dict[str, list[int]] | None = None,
    mentions: list[int] | None = None,
    reply: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message as clients see it. A deleted message keeps its place but not its text;
    so does a message hidden by the moderation (``hidden``, and ``deleted`` too)."""
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "room_id": message.room_id,
        "seq": message.seq,
        "topic": message.topic,
        "author": {"id": message.author_id, "name": author_name or FORMER_MEMBER},
        "client_id": message.client_id,
        "source": "" if deleted else message.source,
        "html": "" if deleted else message.html,
        "reply_to": reply,
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "deleted": deleted,
        "hidden": message.hidden_at is not None,
        "reactions": {} if deleted else (reactions or {}),
        "mentions": [] if deleted else sorted(mentions or []),
    }
