"""The assembly's structure and the message stream.

Every room has ``last_seq``: the position of its newest event. An action that changes a
room increments it *in the writing transaction* (``rooms.events.record``), so the room's
events form a gap-free, strictly increasing log (``room_events``) that clients and server
instances resume from. The log row's ``data`` is the exact wire frame, which is why a
catch-up replays precisely what the live stream delivered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

import auth.models  # noqa: F401 - the users table that memberships and messages reference
from auth.base import Base, utcnow


class Group(Base):
    """A groupe de travail (4 in the assembly), led by a binôme copilote."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    themes: Mapped[str] = mapped_column(Text, default="")


class Chantier(Base):
    """A workstream of a group; its rapporteur writes its report."""

    __tablename__ = "chantiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")


class Saisine(Base):
    """A formal referral by the Region: questions and an expected date for the answer."""

    __tablename__ = "saisines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_label: Mapped[str] = mapped_column(String(120), default="")
    chantier_id: Mapped[int | None] = mapped_column(
        ForeignKey("chantiers.id", ondelete="SET NULL"), default=None
    )


class Room(Base):
    """A live room. Each group and each chantier has one; copilots may open more."""

    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), default=None, index=True
    )
    chantier_id: Mapped[int | None] = mapped_column(
        ForeignKey("chantiers.id", ondelete="CASCADE"), default=None, index=True
    )
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Moderation (``rooms/actions/moderation.py``): the description and the agenda are
    # markdown, rendered once like messages; a locked room is read-only but for its
    # moderators; slow mode spaces a member's messages by that many seconds.
    description_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    agenda: Mapped[str] = mapped_column(Text, default="", server_default="")
    agenda_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    slow_mode_secs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Membership(Base):
    """A role held by a user in a space: ``assembly``, ``group:<id>``, ``chantier:<id>``,
    ``room:<id>``. Mandates may have dates; outside them the role is not granted."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "space", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    space: Mapped[str] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # An admin may seat a binôme that breaks parity; the reason is kept with the grant.
    parity_override: Mapped[str | None] = mapped_column(String(500), default=None)


class RoomEvent(Base):
    """One entry of a room's log; ``data`` is the JSON wire frame, stored once."""

    __tablename__ = "room_events"
    __table_args__ = (UniqueConstraint("room_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    """A chat message: source and server-rendered HTML, in a topic (*sujet*) of a room.

    ``(author_id, client_id)`` is unique forever: a resent frame returns the first result.
    A deleted message keeps its row as a tombstone (``deleted_at``) with its text erased.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("author_id", "client_id"),
        Index("ix_messages_room_seq", "room_id", "seq"),
        Index("ix_messages_room_topic_seq", "room_id", "topic", "seq"),
        # Slow mode's "the author's last message in this room" (``rooms.moderation``'s
        # write state): without it, the lookup read the whole room on SQLite, and the
        # whole table under PostgreSQL's generic plan (docs/performance.md, finding 33).
        Index("ix_messages_author_room_id", "author_id", "room_id", "id"),
        # The replies of a message being deleted or hidden, whose quotes of it go too
        # (``rooms.events.replies_of``). Partial: a message that replies to none costs
        # nothing more to write (finding 35).
        Index(
            "ix_messages_reply_to_id",
            "reply_to_id",
            sqlite_where=text("reply_to_id IS NOT NULL"),
            postgresql_where=text("reply_to_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(120))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Hidden by the moderation: ``deleted_at`` is set too (the text is gone for everyone,
    # and every rule about deleted messages applies); the original is in ``HiddenMessage``.
    hidden_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class MessageEdit(Base):
    """The text a message had before an edit (edit history)."""

    __tablename__ = "message_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reaction(Base):
    __tablename__ = "reactions"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    emoji: Mapped[str] = mapped_column(String(32), primary_key=True)


class Mention(Base):
    """A member mentioned by a message; counted as an unread mention past their marker."""

    __tablename__ = "mentions"
    __table_args__ = (Index("ix_mentions_user_room_seq", "user_id", "room_id", "seq"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)


class ReadMarker(Base):
    """How far a member has read: ``topic == ""`` is the whole room, else one topic."""

    __tablename__ = "read_markers"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(120), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)


# -- moderation ------------------------------------------------------------------------
# Copilots, the comité and administrators moderate rooms (``rooms/actions/moderation.py``,
# ``docs/moderation.md``). Current restrictions are rows (deleted when lifted); the
# history of every act is the moderation log (``ModerationEntry``).


class HiddenMessage(Base):
    """The original of a message hidden by a moderator or by members' flags."""

    __tablename__ = "hidden_messages"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(500), default="")
    # Hidden automatically by flags, until a moderator confirms or restores it.
    pending_review: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    hidden_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoomExclusion(Base):
    """A member removed from a room: overrides every role they hold that reaches it."""

    __tablename__ = "room_exclusions"
    __table_args__ = (UniqueConstraint("room_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoomMute(Base):
    """A member who may not write in a room until ``until``."""

    __tablename__ = "room_mutes"

    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MemberBlock(Base):
    """A member blocked across the assembly: reads everything, writes nowhere."""

    __tablename__ = "member_blocks"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PinnedMessage(Base):
    __tablename__ = "pinned_messages"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    pinned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    pinned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Announcement(Base):
    """An announcement of a room's moderators, which members are asked to acknowledge."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnnouncementAck(Base):
    """ "J'ai pris connaissance": seen by the room's moderators only."""

    __tablename__ = "announcement_acks"

    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    acked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MessageFlag(Base):
    """A member's report of a message; open until a moderator resolves it."""

    __tablename__ = "message_flags"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        Index("ix_message_flags_room_resolved", "room_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # ``hidden`` (the message was hidden) or ``dismissed`` (kept).
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)


class ModerationEntry(Base):
    """One act of moderation: who, when, what, on whom, why. ``room_id`` is ``None`` for
    assembly-wide acts (blocking a member). A hidden message's original is in
    ``details['source']``, for moderators only."""

    __tablename__ = "moderation_log"
    __table_args__ = (Index("ix_moderation_log_room_id", "room_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int | None] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), default=None
    )
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _ballot_key() -> str:
    # Random, so that the order of the keys says nothing about the order of the votes.
    return uuid.uuid4().hex


class Poll(Base):
    """A poll in a room's topic. ``electorate`` is fixed when the poll opens: the ids of
    the members whose roles in the room let them vote (``vote``); observers never do."""

    __tablename__ = "polls"
    __table_args__ = (Index("ix_polls_open_deadline", "closed_at", "closes_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    # ``live`` (counts shown while voting), ``after_vote`` (to those who voted) or
    # ``closed`` (only the result).
    visibility: Mapped[str] = mapped_column(String(20), default="live")
    quorum_share: Mapped[float | None] = mapped_column(Float, default=None)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closes_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    outcome: Mapped[str] = mapped_column(Text, default="")
    electorate: Mapped[list[int]] = mapped_column(JSON, default=list)
    # A scheduled poll has ``opens_at`` and no ``opened_at`` until the hub opens it; its
    # electorate is fixed then, not at creation.
    opens_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The reminder to those who have not voted, ``remind_minutes`` before ``closes_at``:
    # ``remind_at`` is when it is due, cleared once sent (and set again by an extension).
    remind_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    remind_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PollParticipation(Base):
    """That a member took part in a poll — and nothing else: no time, no ballot link.
    ``proxy_id`` is set when their proxy holder voted for them."""

    __tablename__ = "poll_participations"

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    proxy_id: Mapped[int | None] = mapped_column(
        ForeignKey("poll_proxies.id", ondelete="SET NULL"), default=None
    )


class PollProxy(Base):
    """A procuration: ``giver`` lets ``holder`` vote for them in the room's polls — one
    poll (``poll_id``) or every poll until ``until``. Rows are never deleted: revoking sets
    ``revoked_at``, so the table is the proxies' log."""

    __tablename__ = "poll_proxies"
    __table_args__ = (Index("ix_poll_proxies_room_active", "room_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    giver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    poll_id: Mapped[int | None] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), default=None
    )
    until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class PollBallot(Base):
    """One ballot. ``voter_id`` is set for open polls only; a secret ballot is reachable
    only through ``receipt_hash`` (sha256 of the receipt its voter holds). No timestamp,
    and a random key, so that neither time nor order links a ballot to a voter."""

    __tablename__ = "poll_ballots"
    __table_args__ = (UniqueConstraint("poll_id", "voter_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_ballot_key)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    data: Mapped[Any] = mapped_column(JSON)
    voter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    receipt_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
