"""Drafts: co-edited markdown documents of a group or chantier, stored as a CRDT log.

The Yjs document of a draft is the sum of its ``draft_updates`` rows (append-only, each
accepted update stored before it is broadcast). ``draft_snapshots`` hold the merged
state up to an update id, so loading reads one snapshot and the rows after it; rows are
never deleted, so attribution and versions can always be recomputed. A version keeps
the full state and text it names.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import auth.models  # noqa: F401 - the users table drafts reference
from auth.base import Base, utcnow


class Draft(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space: Mapped[str] = mapped_column(String(40), index=True)  # "group:<id>" / "chantier:<id>"
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="report")  # report, notes, other
    saisine_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # A chantier may open editing to all its members (else: rapporteurs and copilots).
    members_can_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    locked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class DraftUpdate(Base):
    """One accepted Yjs update, in arrival order (``id``), with who sent it."""

    __tablename__ = "draft_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DraftSnapshot(Base):
    """The merged state of a draft up to ``upto_update_id`` (a loading shortcut)."""

    __tablename__ = "draft_snapshots"
    __table_args__ = (UniqueConstraint("draft_id", "upto_update_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    upto_update_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DraftVersion(Base):
    """A named or automatic version: the full state and its text at that point."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    upto_update_id: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DraftComment(Base):
    """A comment (or a suggested change) anchored to a passage, possibly a reply.

    The passage is held by two Yjs relative positions (``StickyIndex``), so it follows
    the text through everyone's edits; ``quote`` keeps what it said when commented.
    """

    __tablename__ = "draft_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("draft_comments.id", ondelete="CASCADE"), default=None
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    anchor_start: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    anchor_end: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    quote: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    # A suggestion proposes ``replacement`` for the passage; rapporteurs decide.
    replacement: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str] = mapped_column(
        String(12), default="open"
    )  # open, resolved, accepted, rejected
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    """Something a member should see: a mention in a comment, a comment on their draft."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
