"""Server-side sign-in sessions.

The browser holds a random 256-bit token; only its SHA-256 is stored, so reading the
table does not let anyone impersonate a member. A session ends when it is revoked (sign
out, "sign out everywhere", deactivation), after ``IDLE_TIMEOUT`` without use, or at
``ABSOLUTE_TIMEOUT`` whatever the use. Each sign-in creates a new session (a new id),
so a token planted before sign-in is worthless after it.

Revocations are announced on the member's control channel so that their open
WebSockets close at once; the hub also re-checks sessions on its timer, so a lost
announcement delays the close by a few seconds, never forever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import emit, utcnow
from auth.models import LoginSession, User

ABSOLUTE_TIMEOUT = dt.timedelta(days=30)
IDLE_TIMEOUT = dt.timedelta(days=7)
# ``last_seen_at`` is written at most this often (one write per page view would cost more
# than the idle check is worth).
TOUCH_EVERY = dt.timedelta(minutes=5)
SESSION_LIFETIME = ABSOLUTE_TIMEOUT


def control_channel(user_id: int) -> str:
    """Where the hub hears about a member's sessions and access changing."""
    return f"control:{user_id}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    session: AsyncSession, user: User, *, user_agent: str | None = None, ip: str | None = None
) -> str:
    """Create a login session for ``user`` and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            id=digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            user_agent=(user_agent or "")[:200] or None,
            ip=ip,
        )
    )
    await session.flush()
    return token


def _live(now: dt.datetime) -> tuple:  # type: ignore[type-arg]
    return (
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > now,
        or_(LoginSession.last_seen_at.is_(None), LoginSession.last_seen_at > now - IDLE_TIMEOUT),
        User.is_active.is_(True),
    )


async def find_session(
    session: AsyncSession, token: str | None
) -> tuple[User, LoginSession] | None:
    """The active user and their live session for ``token``, or ``None``."""
    if not token or len(token) > 100:
        return None
    row = (
        await session.execute(
            select(User, LoginSession)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.id == digest(token), *_live(utcnow()))
        )
    ).first()
    return (row[0], row[1]) if row else None


async def find_user_by_token(session: AsyncSession, token: str | None) -> User | None:
    found = await find_session(session, token)
    return found[0] if found else None


def needs_touch(login: LoginSession) -> bool:
    seen = login.last_seen_at
    if seen is not None and seen.tzinfo is None:
        seen = seen.replace(tzinfo=dt.UTC)
    return seen is None or utcnow() - seen > TOUCH_EVERY


async def touch_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=utcnow())
    )


async def touch_sessions(session: AsyncSession, session_ids: list[str]) -> None:
    """Record use of sessions with an open socket: chatting counts as activity."""
    now = utcnow()
    await session.execute(
        update(LoginSession)
        .where(
            LoginSession.id.in_(session_ids),
            or_(LoginSession.last_seen_at.is_(None), LoginSession.last_seen_at < now - TOUCH_EVERY),
        )
        .values(last_seen_at=now)
    )


async def live_session_ids(session: AsyncSession, session_ids: list[str]) -> set[str]:
    """Which of ``session_ids`` are still live (the hub's periodic check)."""
    if not session_ids:
        return set()
    rows = await session.scalars(
        select(LoginSession.id)
        .join(User, LoginSession.user_id == User.id)
        .where(LoginSession.id.in_(session_ids), *_live(utcnow()))
    )
    return set(rows)


def _announce(session: AsyncSession, user_id: int, session_ids: list[str] | None) -> None:
    emit(
        session,
        control_channel(user_id),
        json.dumps({"op": "sessions_ended", "sessions": session_ids}),
    )


async def revoke_session(session: AsyncSession, token: str) -> None:
    """End one login session (sign-out)."""
    session_id = digest(token)
    user_id = await session.scalar(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(LoginSession.user_id)
    )
    if user_id is not None:
        _announce(session, user_id, [session_id])


async def revoke_all_sessions(
    session: AsyncSession, user_id: int, *, keep_token: str | None = None
) -> int:
    """End every session of ``user_id`` (but ``keep_token``'s); returns how many ended."""
    keep = digest(keep_token) if keep_token else None
    query = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    ended = list(
        await session.scalars(query.values(revoked_at=utcnow()).returning(LoginSession.id))
    )
    if ended:
        _announce(session, user_id, ended)
    return len(ended)


async def list_sessions(session: AsyncSession, user_id: int) -> list[LoginSession]:
    rows = await session.scalars(
        select(LoginSession)
        .join(User, LoginSession.user_id == User.id)
        .where(LoginSession.user_id == user_id, *_live(utcnow()))
        .order_by(LoginSession.created_at.desc())
    )
    return list(rows)
