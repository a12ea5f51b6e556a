"""rendered markdown: a member's "#" is an h3 inside a page, not a second h1

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 22:10:00

The renderer now starts a member's headings at ``<h3>`` in everything shown in a page
(documents/rendering.py, ``PAGE_HEADING``). What it rendered before is stored (messages,
room descriptions and agendas, announcements, draft comments, and the message frames of
the rooms' logs, which resuming clients replay): this moves those headings two levels
down too, so that old and new text read the same. The stored HTML is the sanitiser's
output, where ``<h1>``…``<h6>`` are tags without attributes and a member's own ``<h1>``
is escaped text, so the tags can be rewritten as text. In the logs' JSON only the
values of ``"html"`` keys are HTML; the rest (the markdown source) is left alone.

Downgrading moves them back up. It loses one distinction: ``#####`` and ``######``
(``<h5>``, ``<h6>`` before) were both capped at ``<h6>`` and come back as ``<h4>``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SHIFT = 2
_TAG = re.compile(r"<(/?)h([1-6])>")
# (table, column) holding sanitised HTML.
HTML_COLUMNS = (
    ("messages", "html"),
    ("rooms", "description_html"),
    ("rooms", "agenda_html"),
    ("announcements", "html"),
    ("draft_comments", "html"),
)


def _shift_html(html: str, by: int) -> str:
    return _TAG.sub(lambda m: f"<{m[1]}h{max(1, min(6, int(m[2]) + by))}>", html)


def _shift_frame(value: Any, by: int) -> Any:
    if isinstance(value, dict):
        return {
            key: _shift_html(item, by)
            if key == "html" and isinstance(item, str)
            else _shift_frame(item, by)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_shift_frame(item, by) for item in value]
    return value


def _dumps(frame: Any) -> str:
    # The same text as the application's ``auth.base.dumps`` (orjson, compact, UTF-8).
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _shift(by: int) -> None:
    connection = op.get_bind()
    for table, column in HTML_COLUMNS:
        rows = connection.execute(
            sa.text(f"SELECT id, {column} FROM {table} WHERE {column} LIKE '%<h_>%'")  # noqa: S608 - fixed names
        ).all()
        for row_id, html in rows:
            shifted = _shift_html(html, by)
            if shifted != html:
                connection.execute(
                    sa.text(f"UPDATE {table} SET {column} = :html WHERE id = :id"),  # noqa: S608
                    {"html": shifted, "id": row_id},
                )
    rows = connection.execute(
        sa.text("SELECT id, data FROM room_events WHERE data LIKE '%<h_>%'")
    ).all()
    for row_id, data in rows:
        frame = json.loads(data)
        shifted = _shift_frame(frame, by)
        if shifted != frame:
            connection.execute(
                sa.text("UPDATE room_events SET data = :data WHERE id = :id"),
                {"data": _dumps(shifted), "id": row_id},
            )


def upgrade() -> None:
    _shift(SHIFT)


def downgrade() -> None:
    _shift(-SHIFT)
