"""Password reset, password change and a member's own data (export, anonymisation).

Reset links are single-use, expire after ``RESET_TTL`` and only their SHA-256 is stored.
Asking for a reset answers the same way whether or not the address is known (the caller
sends mail only when a user comes back).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth import audit
from auth.base import utcnow
from auth.errors import InvalidCredentials, InvalidToken
from auth.models import AuditEvent, LoginSession, OidcIdentity, PasswordReset, User
from auth.passwords import check_password_policy, hash_password, verify_password
from auth.sessions import digest, revoke_all_sessions

RESET_TTL = dt.timedelta(hours=1)
ANONYMOUS_NAME = "Ancien membre"


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def do_request_password_reset(
    session: AsyncSession, email: str, *, ip: str | None = None
) -> tuple[User, str] | None:
    """A reset token for the active account with ``email``, or ``None`` (say nothing)."""
    user = await session.scalar(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.is_active)
    )
    if user is None or user.anonymised_at is not None:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordReset(
            token_digest=digest(token), user_id=user.id, created_at=now, expires_at=now + RESET_TTL
        )
    )
    audit.record(session, audit.PASSWORD_RESET_REQUESTED, target_user_id=user.id, ip=ip)
    await session.flush()
    return user, token


async def check_reset_token(session: AsyncSession, token: str) -> PasswordReset:
    """The pending reset for ``token``.

    Raises:
        InvalidToken: unknown, used or expired.
    """
    reset = await session.get(PasswordReset, digest(token or ""), with_for_update=True)
    if reset is None or reset.used_at is not None or _aware(reset.expires_at) < utcnow():
        raise InvalidToken()
    return reset


async def do_reset_password(
    session: AsyncSession, token: str, password: str, *, ip: str | None = None
) -> User:
    """Set a new password from a reset link; every existing session ends.

    Raises:
        InvalidToken: the link cannot be used.
        WeakPassword: the new password breaks the rules.
    """
    reset = await check_reset_token(session, token)
    user = await session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise InvalidToken()
    check_password_policy(password, email=user.email, display_name=user.display_name)
    user.password_hash = hash_password(password)
    reset.used_at = utcnow()
    await revoke_all_sessions(session, user.id)
    audit.record(session, audit.PASSWORD_RESET, actor_id=user.id, target_user_id=user.id, ip=ip)
    return user


async def do_change_password(
    session: AsyncSession,
    user: User,
    current: str,
    new: str,
    *,
    keep_token: str | None = None,
    ip: str | None = None,
) -> None:
    """Change one's password (knowing the current one); other sessions end.

    Raises:
        InvalidCredentials: ``current`` is wrong.
        WeakPassword: ``new`` breaks the rules.
    """
    if user.password_hash and not verify_password(user.password_hash, current):
        raise InvalidCredentials()
    check_password_policy(new, email=user.email, display_name=user.display_name)
    user.password_hash = hash_password(new)
    await revoke_all_sessions(session, user.id, keep_token=keep_token)
    audit.record(session, audit.PASSWORD_CHANGED, actor_id=user.id, target_user_id=user.id, ip=ip)


async def export_account(session: AsyncSession, user: User) -> dict[str, Any]:
    """What Atelier holds about the member's account (their messages are exported by
    the rooms package, which adds them to this dictionary)."""
    sessions = await session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id)
        .order_by(LoginSession.created_at)
    )
    identities = await session.scalars(select(OidcIdentity).where(OidcIdentity.user_id == user.id))
    events = await session.scalars(
        select(AuditEvent)
        .where((AuditEvent.target_user_id == user.id) | (AuditEvent.actor_id == user.id))
        .order_by(AuditEvent.id)
    )
    return {
        "account": {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "civility": user.civility,
            "territory": user.territory,
            "locale": user.locale,
            "created_at": _aware(user.created_at).isoformat(),
            "notify_mentions": user.notify_mentions,
            "notify_digest": user.notify_digest,
        },
        "sessions": [
            {
                "created_at": _aware(s.created_at).isoformat(),
                "last_seen_at": _aware(s.last_seen_at).isoformat() if s.last_seen_at else None,
                "user_agent": s.user_agent,
                "ip": s.ip,
                "revoked": s.revoked_at is not None,
            }
            for s in sessions
        ],
        "oidc_identities": [{"issuer": i.issuer, "subject": i.subject} for i in identities],
        "audit": [
            {"at": _aware(e.at).isoformat(), "action": e.action, "details": e.details}
            for e in events
        ],
    }


async def do_anonymise(session: AsyncSession, user: User, *, actor_id: int) -> None:
    """Erase what identifies the member; the row stays so their messages keep a place
    in the assembly's records, signed "Ancien membre"."""
    await revoke_all_sessions(session, user.id)
    await session.execute(
        update(OidcIdentity).where(OidcIdentity.user_id == user.id).values(email=None)
    )
    for identity in await session.scalars(
        select(OidcIdentity).where(OidcIdentity.user_id == user.id)
    ):
        await session.delete(identity)
    user.email = f"ancien-membre-{user.id}@invalid"
    user.display_name = ANONYMOUS_NAME
    user.civility = None
    user.territory = None
    user.password_hash = None
    user.is_active = False
    user.anonymised_at = utcnow()
    audit.record(session, audit.ACCOUNT_ANONYMISED, actor_id=actor_id, target_user_id=user.id)
