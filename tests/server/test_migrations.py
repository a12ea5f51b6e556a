"""The migrations build exactly the schema the models describe, on both backends, and the
data migrations move what was stored before them."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, text

import auth.models  # noqa: F401 - registers the tables
import documents.models  # noqa: F401
from auth.base import Base, dumps
from documents.rendering import render_markdown
from rooms.models import Message, Room, RoomEvent
from server.cli import migrate_async
from server.database import Database, make_engine
from tests.factories import build_world, message_row


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_stored_headings_move_under_the_pages_own(database_url: str, db: Database) -> None:
    """0010: what was rendered when a member's "#" was an h1 reads as the renderer now
    writes it (h3), in every stored copy; the markdown itself is left alone."""
    world = await build_world(db)
    source = "# Ordre du jour\n\n## Points\n\nLe code `<h1>` reste du texte."
    html = render_markdown(source).html
    frame = {"type": "message", "room_id": world.group_room, "seq": 1, "source": source}
    async with db.transaction() as session:
        message_id = (
            await session.execute(
                insert(Message).returning(Message.id),
                [message_row(world.group_room, 1, world.id("marie"), source=source, html=html)],
            )
        ).scalar_one()
        event = RoomEvent(
            room_id=world.group_room,
            seq=1,
            type="message",
            message_id=message_id,
            data=dumps(frame | {"message": {"id": message_id, "html": html}}),
        )
        session.add(event)
        room = await session.get(Room, world.group_room)
        assert room is not None
        room.description_html = html
    await db.dispose()

    async def stored() -> tuple[str, str, dict]:
        engine = make_engine(database_url)
        ids = {"message": message_id, "room": world.group_room}
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        text(
                            "SELECT m.html, r.description_html, e.data FROM messages m"
                            " JOIN rooms r ON r.id = :room"
                            " JOIN room_events e ON e.message_id = m.id WHERE m.id = :message"
                        ),
                        ids,
                    )
                ).one()
        finally:
            await engine.dispose()
        return row[0], row[1], json.loads(row[2])

    await migrate_async(database_url, "0009", down=True)
    before, room_before, frame_before = await stored()
    assert (
        before
        == room_before
        == frame_before["message"]["html"]
        == (
            "<h1>Ordre du jour</h1>\n<h2>Points</h2>\n"
            "<p>Le code <code>&lt;h1&gt;</code> reste du texte.</p>\n"
        )
    )
    await migrate_async(database_url)
    after, room_after, frame_after = await stored()
    assert after == room_after == frame_after["message"]["html"] == html
    assert "<h3>Ordre du jour</h3>" in html
    assert frame_after["source"] == frame_before["source"] == source  # not HTML: untouched
