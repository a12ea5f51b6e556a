"""Accounts and login sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auth.base import Base, utcnow


class User(Base):
    """A person who may sign in: a member of the assembly, a guest, or an administrator.

    ``civility`` ("mme" / "m") is recorded because the statute requires parity in the
    binômes and the comité d'animation.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    civility: Mapped[str | None] = mapped_column(String(8), default=None)
    territory: Mapped[str | None] = mapped_column(String(200), default=None)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the member asked for their account to be erased: the row stays so their
    # messages keep an author ("Ancien membre"), everything personal is blanked.
    anonymised_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    notify_mentions: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_digest: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginSession(Base):
    """A server-side sign-in; the cookie carries a token whose SHA-256 is ``id``."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)


class Invitation(Base):
    """An invitation by email into the assembly and some spaces, with roles.

    ``grants`` is a list of ``{"space", "role", "starts_on", "ends_on"}``; they are
    applied when the invitee accepts (sets a password or links an OpenID identity).
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    civility: Mapped[str | None] = mapped_column(String(8), default=None)
    territory: Mapped[str | None] = mapped_column(String(200), default=None)
    grants: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PasswordReset(Base):
    """A single-use password reset link (only the token's SHA-256 is stored)."""

    __tablename__ = "password_resets"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OidcIdentity(Base):
    """An OpenID Connect identity linked to a member, remembered as (issuer, subject)."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LoginAttempt(Base):
    """A failed sign-in, counted per account key and per address for throttling.

    Kept in the database (not in a process) so that several Atelier processes share
    the count; old rows are pruned as new ones are written.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AuditEvent(Base):
    """The audit log: sign-ins, role changes, invitations, revocations, overrides."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
