"""Comments and suggestions on a draft's passages, threads, resolution, notifications.

A comment is anchored by two relative positions (pycrdt ``StickyIndex``, the Yjs
"relative position"), so the passage it points at survives everyone's edits. A
suggestion carries a ``replacement``: a member without the right to edit proposes it, a
rapporteur accepts (the change is applied as an edit, attributed to the proposer) or
rejects it. Notifications go to the members mentioned and to the draft's writers.
"""

from __future__ import annotations

import base64
import binascii
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from pycrdt import Assoc, Doc, StickyIndex, Text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import dumps, emit, utcnow
from documents import crdt
from documents.actions import store_update
from documents.errors import DocumentsError, DraftLocked, InvalidDraftInput
from documents.models import Draft, DraftComment, Notification
from documents.rendering import render_markdown

MAX_COMMENT_BYTES = 8 * 1024
QUOTE_CHARS = 300


class CommentNotFound(DocumentsError):
    code = "comment_not_found"


@dataclass(frozen=True, slots=True)
class Anchor:
    start: bytes
    end: bytes
    quote: str


# pycrdt 0.14 (yrs) counts a sticky index's offset as the UTF-8 length of the items
# before the one it points into, plus the UTF-16 length of what precedes it *inside*
# that item (y-crdt/pycrdt#382), while its other offsets (insert, delete) are UTF-8
# bytes. The two agree when no multi-byte character comes before a position within its
# own item. So sticky indices are made and read on a scratch copy of the document in
# which every multi-byte character ends its item (an insertion deleted at once splits
# the item; the text is unchanged and characters keep their ids, so an index made there
# holds in the real document). One copy per state of a document.
_byte_views: weakref.WeakKeyDictionary[Doc, tuple[bytes, Text]] = weakref.WeakKeyDictionary()


def _byte_view(doc: Doc) -> Text:
    update = doc.get_update()
    cached = _byte_views.get(doc)
    if cached is not None and cached[0] == update:
        return cached[1]
    scratch: Doc = Doc(skip_gc=True)
    scratch.apply_update(update)
    text = scratch.get(crdt.TEXT_NAME, type=Text)
    cuts, offset = [], 0
    for char in str(text):
        offset += len(char.encode())
        if char > "\x7f":
            cuts.append(offset)
    with scratch.transaction():
        for cut in reversed(cuts):
            text.insert(cut, "\x00")
            del text[cut : cut + 1]
    _byte_views[doc] = (update, text)
    return text


def _before_offset(text: str, index: int) -> int:
    """Where to make an index tied to the character before ``index`` (Assoc.BEFORE):
    yrs counts that character in UTF-16 units."""
    if index == 0:
        return 0
    return crdt.utf8_offset(text, index - 1) + len(text[index - 1].encode("utf-16-le")) // 2


def _byte_to_char(text: str, offset: int) -> int:
    """The first character boundary at or after ``offset`` (an index tied to the
    character before it ends inside that character, see ``_before_offset``)."""
    chars = len(text.encode()[:offset].decode(errors="ignore"))
    return chars + 1 if crdt.utf8_offset(text, chars) < offset else chars


def anchor_range(doc: Doc, start: int, end: int) -> Anchor:
    """Anchors for characters ``start``..``end`` of the document's current text."""
    text = _byte_view(doc)
    current = str(text)
    if not 0 <= start <= end <= len(current):
        raise InvalidDraftInput(field="range", reason="out_of_range")
    first = text.sticky_index(crdt.utf8_offset(current, start), Assoc.AFTER)
    last = text.sticky_index(_before_offset(current, end), Assoc.BEFORE)
    return Anchor(first.encode(), last.encode(), current[start:end][:QUOTE_CHARS])


def anchor_from_client(doc: Doc, start_b64: str, end_b64: str) -> Anchor:
    """Anchors made by a browser (``Y.encodeRelativePosition``, base64)."""
    try:
        start, end = base64.b64decode(start_b64, validate=True), base64.b64decode(end_b64)
        resolved = resolve(doc, start, end)
    except (binascii.Error, ValueError, RuntimeError):
        raise InvalidDraftInput(field="anchor", reason="invalid") from None
    if resolved is None:
        raise InvalidDraftInput(field="anchor", reason="invalid")
    text = crdt.markdown_of(doc)
    return Anchor(start, end, text[resolved[0] : resolved[1]][:QUOTE_CHARS])


def resolve(doc: Doc, start: bytes | None, end: bytes | None) -> tuple[int, int] | None:
    """The passage's character range in today's text (``None``: no anchor, or one
    naming text this document does not have)."""
    if start is None or end is None:
        return None
    text = _byte_view(doc)
    current = str(text)
    try:
        first = StickyIndex.decode(start, text).get_index()
        last = StickyIndex.decode(end, text).get_index()
    except BaseException as exc:
        # pycrdt panics (pyo3's PanicException, a BaseException) on an index naming an
        # item the document lacks: text a browser typed and has not sent yet.
        if type(exc).__name__ != "PanicException":
            raise
        return None
    a, b = _byte_to_char(current, first), _byte_to_char(current, last)
    return (a, max(a, b))


async def do_comment(
    session: AsyncSession,
    draft: Draft,
    doc: Doc,
    *,
    author_id: int,
    body: str,
    anchor: Anchor | None = None,
    parent_id: int | None = None,
    replacement: str | None = None,
    mentions: dict[str, int] | None = None,
    writers: Sequence[int] = (),
    link: str = "",
) -> DraftComment:
    """Add a comment, a reply (``parent_id``) or a suggestion (``replacement``)."""
    body = body.strip()
    if not body and replacement is None:
        raise InvalidDraftInput(field="body", reason="empty")
    if len(body.encode()) > MAX_COMMENT_BYTES or len((replacement or "").encode()) > 64 * 1024:
        raise InvalidDraftInput(field="body", reason="too_long")
    if parent_id is not None:
        parent = await session.get(DraftComment, parent_id)
        if parent is None or parent.draft_id != draft.id:
            raise CommentNotFound(comment_id=parent_id)
        anchor, replacement = None, None
    elif anchor is None:
        raise InvalidDraftInput(field="anchor", reason="missing")
    if replacement is not None and draft.locked_at is not None:
        raise DraftLocked(draft_id=draft.id)
    rendered = render_markdown(body, mentions=mentions or {})
    comment = DraftComment(
        draft_id=draft.id,
        parent_id=parent_id,
        author_id=author_id,
        anchor_start=anchor.start if anchor else None,
        anchor_end=anchor.end if anchor else None,
        quote=anchor.quote if anchor else "",
        source=body,
        html=rendered.html,
        replacement=replacement,
    )
    session.add(comment)
    await session.flush()
    if link.endswith("#commentaire-"):
        link += str(comment.id)  # the panel opens this thread
    what = "suggestion" if replacement is not None else "comment"
    for user_id in set(rendered.mentioned) - {author_id}:
        notify(
            session, user_id, "mention", f"Mention dans un commentaire de « {draft.title} »", link
        )
    noun = "Nouvelle suggestion" if what == "suggestion" else "Nouveau commentaire"
    for user_id in set(writers) - {author_id} - set(rendered.mentioned):
        notify(session, user_id, what, f"{noun} sur « {draft.title} »", link)
    return comment


def notify(session: AsyncSession, user_id: int, kind: str, text: str, link: str) -> None:
    session.add(Notification(user_id=user_id, kind=kind, text=text[:500], link=link[:300]))
    emit(
        session,
        f"user:{user_id}",
        dumps({"type": "notification", "kind": kind, "text": text[:500], "link": link[:300]}),
    )


async def get_comment(session: AsyncSession, draft_id: int, comment_id: int) -> DraftComment:
    comment = await session.get(DraftComment, comment_id)
    if comment is None or comment.draft_id != draft_id:
        raise CommentNotFound(comment_id=comment_id)
    return comment


async def do_resolve(
    session: AsyncSession, comment: DraftComment, *, user_id: int, resolved: bool
) -> None:
    if comment.replacement is not None and comment.state in ("accepted", "rejected"):
        raise InvalidDraftInput(field="state", reason="decided")
    comment.state = "resolved" if resolved else "open"
    comment.decided_by_id = user_id if resolved else None
    comment.decided_at = utcnow() if resolved else None


async def do_decide_suggestion(
    session: AsyncSession,
    draft: Draft,
    doc: Doc,
    comment: DraftComment,
    *,
    user_id: int,
    accept: bool,
) -> int | None:
    """Accept (apply as an edit, attributed to the proposer) or reject a suggestion.

    Returns:
        The stored update's id when accepted.
    """
    if comment.replacement is None or comment.state != "open":
        raise InvalidDraftInput(field="state", reason="not_pending")
    comment.state = "accepted" if accept else "rejected"
    comment.decided_by_id = user_id
    comment.decided_at = utcnow()
    if not accept:
        return None
    if draft.locked_at is not None:
        raise DraftLocked(draft_id=draft.id)
    span = resolve(doc, comment.anchor_start, comment.anchor_end)
    if span is None:
        raise InvalidDraftInput(field="anchor", reason="missing")
    current = crdt.markdown_of(doc)
    target = current[: span[0]] + comment.replacement + current[span[1] :]
    update = crdt.edit_to(doc, target)
    return await store_update(session, draft, update, author_id=comment.author_id)


async def list_comments(session: AsyncSession, draft_id: int) -> list[DraftComment]:
    rows = await session.scalars(
        select(DraftComment).where(DraftComment.draft_id == draft_id).order_by(DraftComment.id)
    )
    return list(rows)
