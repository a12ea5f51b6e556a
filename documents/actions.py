"""Draft actions: create, store updates, snapshots, lock, versions, restore.

Access is checked by the caller (``rooms.access.access_draft``: memberships live in
``rooms``); these functions change state and record what must be published, which the
edge sends after commit (``auth.base.emit``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence

from pycrdt import Doc
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import emit, utcnow
from documents import crdt
from documents.errors import (
    DocumentsError,
    DraftLocked,
    DraftNotFound,
    InvalidDraftInput,
    InvalidUpdate,
    UpdateTooLarge,
    VersionNotFound,
)
from documents.models import Draft, DraftSnapshot, DraftUpdate, DraftVersion

MAX_UPDATE_BYTES = 1024 * 1024
MAX_TITLE_CHARS = 200
SNAPSHOT_EVERY = 200  # updates after the last snapshot before a new one is written
# Log rows younger than this may still be committing under an older id.
SETTLE = dt.timedelta(seconds=30)


def draft_channel(draft_id: int) -> str:
    """Broker channel of a draft's accepted updates (JSON: update id + base64 bytes)."""
    return f"draft:{draft_id}"


def encode_relay(update_id: int, data: bytes, author_id: int | None) -> str:
    return json.dumps({"id": update_id, "u": base64.b64encode(data).decode(), "a": author_id})


def decode_relay(message: str) -> tuple[int, bytes]:
    parsed = json.loads(message)
    return int(parsed["id"]), base64.b64decode(parsed["u"])


async def get_draft(session: AsyncSession, draft_id: int) -> Draft:
    draft = await session.get(Draft, draft_id)
    if draft is None:
        raise DraftNotFound(draft_id=draft_id)
    return draft


def template_from_questions(title: str, questions: list[str]) -> str:
    """A report skeleton: the title, then one heading per question of the saisine."""
    parts = [f"# {title}", ""]
    for number, question in enumerate(questions, start=1):
        parts += [f"## {number}. {question.strip()}", "", ""]
    return "\n".join(parts)


async def do_create_draft(
    session: AsyncSession,
    *,
    space: str,
    title: str,
    author_id: int | None,
    kind: str = "report",
    initial_text: str = "",
    saisine_id: int | None = None,
) -> Draft:
    """Create a draft in ``space``; ``initial_text`` (e.g. a saisine's questions) becomes
    its first update, so every later client syncs from the same CRDT history."""
    title = " ".join(title.split())
    if not 1 <= len(title) <= MAX_TITLE_CHARS:
        raise InvalidDraftInput(field="title", reason="length")
    if kind not in ("report", "notes", "other"):
        raise InvalidDraftInput(field="kind", reason="invalid")
    draft = Draft(
        space=space, title=title, kind=kind, created_by_id=author_id, saisine_id=saisine_id
    )
    session.add(draft)
    await session.flush()
    if initial_text:
        doc = crdt.new_doc()
        update = crdt.edit_to(doc, initial_text)
        session.add(DraftUpdate(draft_id=draft.id, author_id=author_id, data=update))
        await session.flush()
    return draft


async def load_doc(session: AsyncSession, draft_id: int) -> tuple[Doc, int]:
    """The draft's document and the id of the last update in it."""
    snapshot = await session.scalar(
        select(DraftSnapshot)
        .where(DraftSnapshot.draft_id == draft_id)
        .order_by(DraftSnapshot.upto_update_id.desc())
        .limit(1)
    )
    after = snapshot.upto_update_id if snapshot else 0
    rows = (
        await session.execute(
            select(DraftUpdate.id, DraftUpdate.data)
            .where(DraftUpdate.draft_id == draft_id, DraftUpdate.id > after)
            .order_by(DraftUpdate.id)
        )
    ).all()
    updates = ([snapshot.state] if snapshot else []) + [data for _, data in rows]
    last = rows[-1][0] if rows else after
    return crdt.load(updates), last


async def updates_after(
    session: AsyncSession, draft_id: int, after_id: int
) -> list[tuple[int, bytes]]:
    rows = await session.execute(
        select(DraftUpdate.id, DraftUpdate.data)
        .where(DraftUpdate.draft_id == draft_id, DraftUpdate.id > after_id)
        .order_by(DraftUpdate.id)
    )
    return [(int(i), bytes(d)) for i, d in rows]


def check_update(draft_id: int, locked: bool, data: bytes) -> None:
    """Whether an editor's update may be stored.

    Raises:
        DraftLocked: the draft is frozen.
        UpdateTooLarge: over ``MAX_UPDATE_BYTES``.
        InvalidUpdate: not a Yjs update (checked on a scratch document).
    """
    if locked:
        raise DraftLocked(draft_id=draft_id)
    if len(data) > MAX_UPDATE_BYTES:
        raise UpdateTooLarge(limit=MAX_UPDATE_BYTES)
    try:
        crdt.check_update(data)
    except crdt.BadUpdate:
        raise InvalidUpdate() from None


_UPDATES = DraftUpdate.__table__
_INSERT_UPDATES = insert(_UPDATES).returning(_UPDATES.c.id, sort_by_parameter_order=True)
# The drivers' paths (``documents.sqlite_store``, ``pg_store``) choose the ids first.
UPDATE_COLUMNS = ("id", "draft_id", "author_id", "data", "created_at")
INSERT_UPDATES_WITH_IDS = insert(_UPDATES).values({c: bindparam(c) for c in UPDATE_COLUMNS})

Updates = Sequence[tuple[bytes, int | None]]  # (data, author_id)


def accept_updates(
    draft_id: int, locked: bool, updates: Updates
) -> tuple[list[int | DocumentsError], list[tuple[bytes, int | None]]]:
    """The group commit's rules (:func:`check_update` for each), shared by the three
    stores: each result is the error that refused the update, or its place in the rows
    to insert (:func:`numbered` replaces it with the update's id); and those rows."""
    results: list[int | DocumentsError] = []
    rows: list[tuple[bytes, int | None]] = []
    for data, author_id in updates:
        try:
            check_update(draft_id, locked, data)
        except DocumentsError as exc:
            results.append(exc)
            continue
        results.append(len(rows))
        rows.append((data, author_id))
    return results, rows


def numbered(results: list[int | DocumentsError], ids: Sequence[int]) -> list[int | DocumentsError]:
    """:func:`accept_updates`'s results once the rows have their ids."""
    return [r if isinstance(r, DocumentsError) else ids[r] for r in results]


async def check_store_updates(
    session: AsyncSession, draft: Draft, updates: Updates
) -> list[int | DocumentsError]:
    """Validate and store editors' updates in one statement — the drafts' group commit;
    each result is the update's id, or the error that refused it (:func:`check_update`),
    which wrote nothing. Relayed after commit."""
    results, rows = accept_updates(draft.id, draft.locked_at is not None, updates)
    if not rows:
        return results
    now = utcnow()
    connection = await session.connection()
    inserted = await connection.execute(
        _INSERT_UPDATES,
        [{"draft_id": draft.id, "author_id": a, "data": d, "created_at": now} for d, a in rows],
    )
    ids = list(inserted.scalars())
    draft.updated_at = now
    channel = draft_channel(draft.id)
    for (data, author_id), update_id in zip(rows, ids, strict=True):
        emit(session, channel, encode_relay(update_id, data, author_id))
    return numbered(results, ids)


async def store_update(
    session: AsyncSession, draft: Draft, data: bytes, *, author_id: int | None
) -> int:
    row = DraftUpdate(draft_id=draft.id, author_id=author_id, data=data)
    session.add(row)
    await session.flush()
    draft.updated_at = utcnow()
    emit(session, draft_channel(draft.id), encode_relay(row.id, data, author_id))
    return row.id


async def maybe_snapshot(session: AsyncSession, draft_id: int) -> bool:
    """Merge settled log rows into a new snapshot when enough piled up since the last.

    Only rows older than ``SETTLE`` count: a row with a lower id may still be committing
    in another transaction, and a snapshot labelled past it would hide it forever.
    The rows stay in the log (versions and attribution replay them).
    """
    last = await session.scalar(
        select(DraftSnapshot)
        .where(DraftSnapshot.draft_id == draft_id)
        .order_by(DraftSnapshot.upto_update_id.desc())
        .limit(1)
    )
    after = last.upto_update_id if last else 0
    settled = await session.scalar(
        select(func.max(DraftUpdate.id)).where(
            DraftUpdate.draft_id == draft_id, DraftUpdate.created_at < utcnow() - SETTLE
        )
    )
    if settled is None or settled <= after:
        return False
    rows = list(
        await session.scalars(
            select(DraftUpdate.data)
            .where(
                DraftUpdate.draft_id == draft_id,
                DraftUpdate.id > after,
                DraftUpdate.id <= settled,
            )
            .order_by(DraftUpdate.id)
        )
    )
    if len(rows) < SNAPSHOT_EVERY:
        return False
    doc = crdt.load([last.state, *rows] if last else rows)
    session.add(DraftSnapshot(draft_id=draft_id, upto_update_id=settled, state=doc.get_update()))
    return True


async def do_set_lock(session: AsyncSession, draft: Draft, *, locked: bool, user_id: int) -> None:
    draft.locked_at = utcnow() if locked else None
    draft.locked_by_id = user_id if locked else None
    emit(
        session,
        draft_channel(draft.id) + ":control",
        json.dumps({"op": "lock", "locked": locked}),
    )


async def do_name_version(
    session: AsyncSession,
    draft: Draft,
    *,
    label: str,
    author_id: int | None,
    automatic: bool = False,
) -> DraftVersion:
    """Record the draft as it stands now under ``label`` (e.g. "soumise au comité")."""
    label = " ".join(label.split())
    if not 1 <= len(label) <= 200:
        raise InvalidDraftInput(field="label", reason="length")
    doc, upto = await load_doc(session, draft.id)
    number = (
        await session.scalar(
            select(func.max(DraftVersion.number)).where(DraftVersion.draft_id == draft.id)
        )
        or 0
    ) + 1
    version = DraftVersion(
        draft_id=draft.id,
        number=number,
        label=label,
        automatic=automatic,
        author_id=author_id,
        upto_update_id=upto,
        state=doc.get_update(),
        text=crdt.markdown_of(doc),
    )
    session.add(version)
    await session.flush()
    return version


async def do_set_members_can_edit(session: AsyncSession, draft: Draft, open_: bool) -> None:
    """Let the members of the draft's space edit it too (or only its writers again)."""
    draft.members_can_edit = open_
    emit(
        session, draft_channel(draft.id) + ":control", json.dumps({"op": "members", "open": open_})
    )


async def get_version(session: AsyncSession, draft_id: int, number: int) -> DraftVersion:
    version = await session.scalar(
        select(DraftVersion).where(DraftVersion.draft_id == draft_id, DraftVersion.number == number)
    )
    if version is None:
        raise VersionNotFound(number=number)
    return version


async def list_versions(session: AsyncSession, draft_id: int) -> list[DraftVersion]:
    rows = await session.scalars(
        select(DraftVersion).where(DraftVersion.draft_id == draft_id).order_by(DraftVersion.number)
    )
    return list(rows)


async def do_restore(
    session: AsyncSession, draft: Draft, version: DraftVersion, *, author_id: int
) -> int | None:
    """Bring the text back to ``version`` as a new edit (history is never rewritten).

    Returns:
        The stored update's id, or ``None`` when the text already is the version's.
    """
    if draft.locked_at is not None:
        raise DraftLocked(draft_id=draft.id)
    doc, _ = await load_doc(session, draft.id)
    update = crdt.edit_to(doc, version.text)
    if update == crdt.EMPTY_UPDATE:
        return None
    return await store_update(session, draft, update, author_id=author_id)


AUTO_VERSION_EVERY = dt.timedelta(hours=1)


async def maybe_auto_version(
    session: AsyncSession, draft_id: int, *, every: dt.timedelta = AUTO_VERSION_EVERY
) -> DraftVersion | None:
    """Keep an automatic version at most every ``every`` while a draft is being edited."""
    last = await session.scalar(
        select(DraftVersion)
        .where(DraftVersion.draft_id == draft_id)
        .order_by(DraftVersion.number.desc())
        .limit(1)
    )
    since = last.upto_update_id if last else 0
    newest = await session.scalar(
        select(func.max(DraftUpdate.id)).where(
            DraftUpdate.draft_id == draft_id, DraftUpdate.id > since
        )
    )
    if newest is None:
        return None
    if last is not None:
        made = last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=dt.UTC)
        if utcnow() - made < every:
            return None
    draft = await get_draft(session, draft_id)
    label = f"Version automatique du {utcnow():%d/%m/%Y à %H:%M} (UTC)"
    return await do_name_version(session, draft, label=label, author_id=None, automatic=True)
