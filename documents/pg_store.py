"""A batch of draft updates written on PostgreSQL through the driver (asyncpg) directly.

Why: as for messages (``rooms.actions.pg_posting``), SQLAlchemy's async execution cost
about as much as the statements, and each of a batch's five round trips waited for a
busy event loop. Here a batch is four: ``BEGIN``; the draft's lock read while its date is
moved, with fresh update ids; the updates in one ``executemany``; ``COMMIT``. The rules
are :func:`documents.actions.check_update`'s.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from auth.rawsql import Compiled
from documents.actions import (
    INSERT_UPDATES_WITH_IDS,
    Updates,
    accept_updates,
    draft_channel,
    encode_relay,
    numbered,
)
from documents.errors import DocumentsError, DraftNotFound
from documents.models import Draft, DraftUpdate

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_DRAFTS = Draft.__table__
_UPDATES = DraftUpdate.__table__


def _touch_statement() -> Any:
    """``(drafts found, locked_at, fresh ids)``: the draft's date moved to ``now``."""
    touched = (
        update(_DRAFTS)
        .where(_DRAFTS.c.id == bindparam("draft_id"))
        .values(updated_at=bindparam("now"))
        .returning(_DRAFTS.c.locked_at)
        .cte("touched")
    )
    fresh = select(func.nextval(func.pg_get_serial_sequence("draft_updates", "id"))).select_from(
        func.generate_series(1, bindparam("count"))
    )
    return select(
        select(func.count()).select_from(touched).scalar_subquery(),
        select(touched.c.locked_at).scalar_subquery(),
        func.array(fresh.scalar_subquery()),
    )


_TOUCH = Compiled(_touch_statement(), _DIALECT)
_INSERT = Compiled(INSERT_UPDATES_WITH_IDS, _DIALECT, many=True)


class _Refused(Exception):
    """Rolls the transaction back (the draft's date was moved) when nothing is stored."""


async def store_updates(
    connection: Any,
    draft_id: int,
    updates: Updates,
    now: dt.datetime,
) -> tuple[list[int | DocumentsError], list[tuple[str, str]]]:
    """As ``documents.actions.check_store_updates``, in one transaction of the asyncpg
    ``connection``; returns the results and what to publish now that it committed."""
    results: list[int | DocumentsError] = []
    outbox: list[tuple[str, str]] = []
    try:
        async with connection.transaction():
            params = {"draft_id": draft_id, "now": now, "count": len(updates)}
            found, locked_at, ids = await connection.fetchrow(_TOUCH.sql, *_TOUCH.args(params))
            if not found:
                results = [DraftNotFound(draft_id=draft_id) for _ in updates]
                raise _Refused
            results, rows = accept_updates(draft_id, locked_at is not None, updates)
            if not rows:
                raise _Refused
            ids = ids[: len(rows)]
            values = {"draft_id": draft_id, "created_at": now}
            await connection.executemany(
                _INSERT.sql,
                [
                    _INSERT.args({**values, "id": i, "data": d, "author_id": a})
                    for i, (d, a) in zip(ids, rows, strict=True)
                ],
            )
            channel = draft_channel(draft_id)
            outbox = [(channel, encode_relay(i, d, a)) for i, (d, a) in zip(ids, rows, strict=True)]
            results = numbered(results, ids)
    except _Refused:
        return results, []
    return results, outbox
