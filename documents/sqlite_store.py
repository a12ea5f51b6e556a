"""A batch of draft updates written on SQLite in one synchronous call, with ``sqlite3``
(run by ``server.database.SqliteWriter``).

Why: fifty people typing make a batch of updates every few milliseconds; through the
async engine each batch was four hops to aiosqlite's thread and back (the draft's lock,
the insert, the draft's date, the commit), which was most of co-editing's CPU. The
rules are :func:`documents.actions.check_update`'s; the statements are Core statements
compiled once for SQLite.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import sqlite

from auth.rawsql import Compiled, datetime_conversions
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

_DIALECT = sqlite.dialect()  # type: ignore[no-untyped-call]
_DRAFTS = Draft.__table__
_UPDATES = DraftUpdate.__table__
_to_db, _ = datetime_conversions(_DIALECT)


_LOCK = Compiled(select(_DRAFTS.c.locked_at).where(_DRAFTS.c.id == bindparam("id")), _DIALECT)
_LAST_ID = Compiled(select(func.max(_UPDATES.c.id)), _DIALECT)
_INSERT = Compiled(INSERT_UPDATES_WITH_IDS, _DIALECT, many=True)
_TOUCH = Compiled(
    update(_DRAFTS).where(_DRAFTS.c.id == bindparam("id")).values(updated_at=bindparam("now")),
    _DIALECT,
)


def store_updates(
    connection: sqlite3.Connection,
    draft_id: int,
    updates: Updates,
    now: dt.datetime,
) -> tuple[list[int | DocumentsError], list[tuple[str, str]]]:
    """As ``documents.actions.check_store_updates``, in one transaction of
    ``connection`` (autocommit mode); returns the results and what to publish."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = connection.execute(_LOCK.sql, _LOCK.args({"id": draft_id})).fetchone()
        if found is None:
            connection.execute("ROLLBACK")
            return [DraftNotFound(draft_id=draft_id) for _ in updates], []
        results, rows = accept_updates(draft_id, found[0] is not None, updates)
        outbox: list[tuple[str, str]] = []
        if rows:
            last = connection.execute(_LAST_ID.sql, _LAST_ID.args({})).fetchone()[0] or 0
            ids = range(last + 1, last + 1 + len(rows))
            stamp = _to_db(now)
            values = {"draft_id": draft_id, "created_at": stamp}
            connection.executemany(
                _INSERT.sql,
                [
                    _INSERT.args({**values, "id": i, "data": d, "author_id": a})
                    for i, (d, a) in zip(ids, rows, strict=True)
                ],
            )
            connection.execute(_TOUCH.sql, _TOUCH.args({"id": draft_id, "now": stamp}))
            channel = draft_channel(draft_id)
            outbox = [(channel, encode_relay(i, d, a)) for i, (d, a) in zip(ids, rows, strict=True)]
            results = numbered(results, ids)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return results, outbox
