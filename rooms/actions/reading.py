"""Read markers: how far each member has read a room or one of its topics.

Markers only move forward, so two devices reporting in any order end at the furthest
point. After a change the member's devices are sent fresh unread counts on their own
channel (``user:<id>``), computed by the server: the counts are the same everywhere.

Receipts are written in batches (``server.receipts``): every member reading a room sends
one per message, so in a plenary's room they outnumber the messages a hundred to one.
A batch is one read of the rooms' ends and one upsert, whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import dumps, emit
from rooms.access import RoomAccess
from rooms.errors import InvalidInput, RoomNotFound, RoomsError
from rooms.events import user_channel
from rooms.models import ReadMarker, Room
from rooms.queries import no_unread, unread_in_rooms
from rooms.validation import clean_topic

_MARKERS = ReadMarker.__table__
_ROOMS = Room.__table__
_ROOM_ENDS = select(_ROOMS.c.id, _ROOMS.c.last_seq).where(
    _ROOMS.c.id.in_(bindparam("b_rooms", expanding=True))
)


def _upsert(insert: Any) -> Any:
    """Insert the marker, or move it forward (never back): one statement for a member's
    first receipt and every later one, executed once for a whole batch."""
    statement = insert(_MARKERS).values(
        user_id=bindparam("b_user"),
        room_id=bindparam("b_room"),
        topic=bindparam("b_topic"),
        seq=bindparam("b_seq"),
    )
    return statement.on_conflict_do_update(
        index_elements=[_MARKERS.c.user_id, _MARKERS.c.room_id, _MARKERS.c.topic],
        set_={"seq": statement.excluded.seq},
        where=_MARKERS.c.seq < statement.excluded.seq,
    )


# Core statements built once (finding 38 of docs/performance.md: through the ORM a
# receipt cost about 3 ms of CPU); both dialects spell the upsert the same way.
_UPSERT = {"sqlite": _upsert(sqlite.insert), "postgresql": _upsert(postgresql.insert)}


@dataclass(frozen=True, slots=True)
class Receipt:
    """One ``read`` frame: the member's access to the room (only its ids are used, so the
    gateway's kept access will do), how far they have read, and in which topic (``None``
    or ``""``: the whole room)."""

    access: RoomAccess
    seq: int
    topic: str | None = None


async def check_mark_read_many(
    session: AsyncSession, receipts: Sequence[Receipt]
) -> list[dict[str, Any] | RoomsError]:
    """Advance the markers of ``receipts`` in the caller's transaction.

    Each result is that receipt's room's unread counts for its member after the whole
    batch, or the error that refused it (``RoomNotFound``: the room is gone;
    ``InvalidInput``: ``seq`` is past the room's end, or the topic is not one) — which
    then wrote nothing, the others go on. The rooms' ends are read here, in the
    transaction, so an access kept since the room moved on changes nothing.
    """
    connection = await session.connection()
    upsert = _UPSERT[connection.dialect.name]
    room_ids = sorted({receipt.access.room.id for receipt in receipts})
    ends = {
        int(room_id): int(last_seq)
        for room_id, last_seq in await connection.execute(_ROOM_ENDS, {"b_rooms": room_ids})
    }
    results: list[dict[str, Any] | RoomsError | None] = [None] * len(receipts)
    accepted: list[tuple[int, tuple[int, int]]] = []  # (index, (user, room))
    rows: list[dict[str, Any]] = []
    at_end: set[tuple[int, int]] = set()
    for index, receipt in enumerate(receipts):
        row = _marker_row(receipt, ends)
        if isinstance(row, RoomsError):
            results[index] = row
            continue
        rows.append(row)
        pair = (row["b_user"], row["b_room"])
        accepted.append((index, pair))
        if row["b_topic"] == "" and row["b_seq"] >= ends[row["b_room"]]:
            at_end.add(pair)
    if rows:
        # In key order, so that two processes' batches lock the same markers in the same
        # order (PostgreSQL) and cannot deadlock.
        rows.sort(key=lambda row: (row["b_user"], row["b_room"], row["b_topic"], row["b_seq"]))
        await connection.execute(upsert, rows)
    counts: dict[tuple[int, int], dict[str, Any]] = {}
    caught_up: list[dict[str, Any]] = []
    for user_id, room_id in dict.fromkeys(pair for _, pair in accepted):
        if (user_id, room_id) in at_end:
            # Read to the room's end (as read in this transaction): nothing can be past
            # the marker. The usual receipt — a member reading as messages arrive — then
            # costs no count (docs/performance.md, finding 37).
            found, read_to = no_unread(), None
        else:
            found, read_to = await _count(session, user_id, room_id, ends[room_id])
        counts[(user_id, room_id)] = found
        if read_to is not None:
            caught_up.append(_row(user_id, room_id, "", read_to))
        emit(
            session,
            user_channel(user_id),
            dumps({"type": "unread", "room_id": room_id, **found}),
        )
    if caught_up:
        # Sorted too; a rare deadlock with another process's batch (markers locked by
        # the first statement here, by this one there) fails the batch, which the
        # writer then writes receipt by receipt (``server.receipts``).
        caught_up.sort(key=lambda row: (row["b_user"], row["b_room"]))
        await connection.execute(upsert, caught_up)
    for index, pair in accepted:
        results[index] = counts[pair]
    return [result for result in results if result is not None]


def _row(user_id: int, room_id: int, topic: str, seq: int) -> dict[str, Any]:
    return {"b_user": user_id, "b_room": room_id, "b_topic": topic, "b_seq": seq}


def _marker_row(receipt: Receipt, ends: dict[int, int]) -> dict[str, Any] | RoomsError:
    """The marker ``receipt`` moves (the upsert's parameters), or why it is refused."""
    room_id, seq = receipt.access.room.id, receipt.seq
    last_seq = ends.get(room_id)
    try:
        if last_seq is None:
            raise RoomNotFound(room_id=room_id)
        if seq < 0 or seq > last_seq:
            raise InvalidInput(field="seq", reason="out_of_range", last_seq=last_seq)
        topic = clean_topic(receipt.topic) if receipt.topic else ""
    except RoomsError as exc:
        return exc
    return _row(receipt.access.user_id, room_id, topic, seq)


async def _count(
    session: AsyncSession, user_id: int, room_id: int, end: int
) -> tuple[dict[str, Any], int | None]:
    """The member's unread counts in the room, and where their marker for the whole room
    may move (``None``: where it is).

    Everything before the first unread message is read — through the topics' markers,
    or the member's own, or deleted — so the room's marker may say so too (up to
    ``end`` when nothing is unread): the counts are the same, and the next count starts
    there. A member who reads topic by topic would otherwise have every count read the
    room from its beginning (docs/performance.md, finding 40).
    """
    unread = (await unread_in_rooms(session, user_id, [room_id]))[room_id]
    read_to = end if unread.first_unread is None else unread.first_unread - 1
    return unread.counts, read_to if read_to > unread.room_marker else None
