"""Sign-in throttling per account and per network address, shared through the database.

Failures are counted in a sliding window; the account key is the normalised email as
typed, whether or not such an account exists, so the throttle answers the same way for
unknown accounts (no enumeration).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.errors import TooManyAttempts
from auth.models import LoginAttempt

WINDOW = dt.timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 30


def keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    found = [(f"account:{email.strip().lower()[:254]}", MAX_PER_ACCOUNT)]
    if ip:
        found.append((f"ip:{ip}", MAX_PER_ADDRESS))
    return found


async def check_throttle(session: AsyncSession, email: str, ip: str | None) -> None:
    """Raise ``TooManyAttempts`` when the account or the address has failed too often."""
    since = utcnow() - WINDOW
    for key, limit in keys(email, ip):
        count, oldest = (
            await session.execute(
                select(func.count(LoginAttempt.id), func.min(LoginAttempt.at)).where(
                    LoginAttempt.key == key, LoginAttempt.at > since
                )
            )
        ).one()
        if count >= limit:
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            retry = (oldest + WINDOW - utcnow()).total_seconds() if oldest else WINDOW.seconds
            raise TooManyAttempts(retry_after=max(1, int(retry)), minutes=max(1, int(retry) // 60))


async def record_failure(session: AsyncSession, email: str, ip: str | None) -> None:
    now = utcnow()
    await session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - WINDOW))
    session.add_all(LoginAttempt(key=key, at=now) for key, _ in keys(email, ip))
    await session.flush()


async def clear_account(session: AsyncSession, email: str) -> None:
    """A successful sign-in forgets the account's failures (not the address's)."""
    key, _ = keys(email, None)[0]
    await session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
