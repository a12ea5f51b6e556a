"""Pure validation of user input; raises ``InvalidInput`` naming the field."""

from __future__ import annotations

import unicodedata

from rooms.errors import InvalidInput
from rooms.limits import (
    MAX_CLIENT_ID_CHARS,
    MAX_EMOJI_CHARS,
    MAX_MESSAGE_SOURCE_BYTES,
    MAX_REASON_CHARS,
    MAX_TOPIC_CHARS,
)


def clean_topic(topic: str) -> str:
    """A topic name: single line, trimmed, 1 to ``MAX_TOPIC_CHARS`` characters."""
    cleaned = " ".join(topic.split())
    if not cleaned:
        raise InvalidInput(field="topic", reason="empty")
    if len(cleaned) > MAX_TOPIC_CHARS:
        raise InvalidInput(field="topic", reason="too_long", limit=MAX_TOPIC_CHARS)
    return cleaned


def clean_source(source: str) -> str:
    """A message body: not blank, at most ``MAX_MESSAGE_SOURCE_BYTES`` of UTF-8."""
    source = source.replace("\x00", "").rstrip()
    if not source.strip():
        raise InvalidInput(field="body", reason="empty")
    if len(source.encode()) > MAX_MESSAGE_SOURCE_BYTES:
        raise InvalidInput(field="body", reason="too_long", limit=MAX_MESSAGE_SOURCE_BYTES)
    return source


def clean_client_id(client_id: str) -> str:
    if not client_id or len(client_id) > MAX_CLIENT_ID_CHARS or not client_id.isprintable():
        raise InvalidInput(field="client_id", reason="invalid")
    return client_id


def clean_emoji(emoji: str) -> str:
    """An emoji (possibly a ZWJ sequence): symbols, modifiers and joiners only."""
    allowed = {"So", "Sk", "Mn", "Me", "Cf"}
    if (
        not emoji
        or len(emoji) > MAX_EMOJI_CHARS
        or any(unicodedata.category(ch) not in allowed for ch in emoji)
    ):
        raise InvalidInput(field="emoji", reason="invalid")
    return emoji


def clean_reason(reason: str | None, *, required: bool = True, field: str = "reason") -> str:
    """A moderation reason: white space collapsed, at most ``MAX_REASON_CHARS``."""
    cleaned = " ".join((reason or "").split())
    if required and not cleaned:
        raise InvalidInput(field=field, reason="empty")
    if len(cleaned) > MAX_REASON_CHARS:
        raise InvalidInput(field=field, reason="too_long", limit=MAX_REASON_CHARS)
    return cleaned
