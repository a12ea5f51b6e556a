"""The shared base every table and every action stands on.

Why here: the top level is fixed (no ``core/``) and every table ends up referencing
``users``, so the single declarative ``Base`` and the outbox helper sit at the bottom of
the layer stack where all packages may import them.

The outbox is the "publish only after commit" rule made concrete: actions call
:func:`emit` to *record* a message for the broker inside the session; the edge
(``server.database``) publishes ``session.info["outbox"]`` once the transaction has
committed, and drops it on rollback. A rolled-back write therefore never reaches a client.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so Alembic gets stable constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def dumps(frame: Any) -> str:
    """Compact JSON, the one encoding of every frame, stored event and broker message.

    ``orjson``: the same text as ``json.dumps(frame, ensure_ascii=False,
    separators=(",", ":"))`` for what frames hold, in a tenth of the time — a room
    event is encoded once per message, on the path every message takes."""
    return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS).decode()


# Every integer column is an ``INTEGER``, 32-bit on PostgreSQL: an id, position or
# count from a client outside this range matches no row and could not be stored, and
# PostgreSQL's driver refuses it halfway through an action. Clients' input is checked
# against it at the edge (``server.protocol``, ``server.views.common``).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def is_int(value: object) -> bool:
    """An integer, and not a boolean: ``bool`` is an ``int`` subclass in Python, but JSON's
    ``true`` is not an id, a grade or a count."""
    return isinstance(value, int) and not isinstance(value, bool)


def in_int_range(value: int) -> bool:
    return INT_MIN <= value <= INT_MAX


def as_id(raw: str) -> int | None:
    """A row id written in text (a query parameter, a form field, the number in a space
    key such as ``chantier:6``), or ``None`` when ``raw`` is not one: not ASCII digits
    (``"²".isdigit()`` is true), or beyond ``INT_MAX``. Callers answer as for an id that
    matches no row."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= INT_MAX else None


def has_nul(value: Any) -> bool:
    """A NUL character anywhere in decoded JSON (strings, list items, object keys and
    values): PostgreSQL's text and JSON columns cannot hold one, and no member types one
    (it comes from a broken client or pasted binary), so input loses them at the edge
    (:func:`without_nul`), as a message's text always did."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    return False


def without_nul(value: Any) -> Any:
    """``value`` with the NUL characters taken out of every string in it (a copy)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC; every stored timestamp goes through here."""
    return dt.datetime.now(dt.UTC)


OUTBOX_KEY = "outbox"


def emit(session: AsyncSession, channel: str, message: str) -> None:
    """Queue ``message`` for ``channel``; it is published only if the transaction commits.

    Only ``*/actions*`` modules call this (checked by ``tests/test_architecture.py``).
    """
    session.info.setdefault(OUTBOX_KEY, []).append((channel, message))


def take_outbox(session: AsyncSession) -> list[tuple[str, str]]:
    """Remove and return what the transaction queued (the edge calls this after commit)."""
    return session.info.pop(OUTBOX_KEY, [])
