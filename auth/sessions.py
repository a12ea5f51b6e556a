"""Server-side login sessions.

The browser holds a random 256-bit token; only its SHA-256 is stored, so reading the
table does not let anyone impersonate a member. Sessions are revocable (``revoked_at``)
and expire (``expires_at``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.models import LoginSession, User

SESSION_LIFETIME = dt.timedelta(days=30)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(session: AsyncSession, user: User) -> str:
    """Create a login session for ``user`` and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            id=_digest(token), user_id=user.id, created_at=now, expires_at=now + SESSION_LIFETIME
        )
    )
    await session.flush()
    return token


async def find_user_by_token(session: AsyncSession, token: str | None) -> User | None:
    """The active user behind a live session token, or ``None``."""
    if not token or len(token) > 100:
        return None
    row = await session.execute(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.id == _digest(token),
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > utcnow(),
            User.is_active.is_(True),
        )
    )
    return row.scalar_one_or_none()


async def revoke_session(session: AsyncSession, token: str) -> None:
    """End one login session (sign-out)."""
    await session.execute(
        update(LoginSession).where(LoginSession.id == _digest(token)).values(revoked_at=utcnow())
    )
