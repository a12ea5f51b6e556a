"""Account actions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.errors import InvalidCredentials
from auth.models import User
from auth.passwords import hash_password, verify_password


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def do_create_user(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    password: str | None = None,
    civility: str | None = None,
    territory: str | None = None,
) -> User:
    """Create an account; ``password`` may be omitted for an invited or OIDC-only person."""
    user = User(
        email=normalise_email(email),
        display_name=" ".join(display_name.split()),
        password_hash=hash_password(password) if password else None,
        civility=civility,
        territory=territory,
    )
    session.add(user)
    await session.flush()
    return user


async def check_password_login(session: AsyncSession, email: str, password: str) -> User:
    """The active user with this email and password.

    Raises:
        InvalidCredentials: the same error, after the same work, whether the account is
            unknown, inactive or the password wrong (no account enumeration).
    """
    user = await session.scalar(
        select(User).where(func.lower(User.email) == normalise_email(email))
    )
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise InvalidCredentials()
    return user
