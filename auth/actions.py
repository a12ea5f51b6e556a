"""Account actions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import audit
from auth.errors import InvalidCredentials
from auth.models import User
from auth.passwords import hash_password, verify_password
from auth.throttle import check_throttle, clear_account, record_failure


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


async def check_password_login(
    session: AsyncSession, email: str, password: str, *, ip: str | None = None
) -> User:
    """The active user with this email and password.

    Raises:
        TooManyAttempts: the account or the address failed too often recently.
        InvalidCredentials: the same error, after the same work, whether the account is
            unknown, inactive or the password wrong (no account enumeration). The caller
            records the failure with :func:`do_record_login_failure` in its own
            transaction (this one rolls back).
    """
    await check_throttle(session, email, ip)
    user = await session.scalar(
        select(User).where(func.lower(User.email) == normalise_email(email))
    )
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise InvalidCredentials()
    await clear_account(session, email)
    audit.record(session, audit.LOGIN_SUCCEEDED, actor_id=user.id, target_user_id=user.id, ip=ip)
    return user


async def do_record_login_failure(
    session: AsyncSession, email: str, ip: str | None, *, throttled: bool = False
) -> None:
    """Count a failed sign-in and log it (the email as typed, never the password)."""
    if not throttled:
        await record_failure(session, email, ip)
    user_id = await session.scalar(
        select(User.id).where(func.lower(User.email) == normalise_email(email))
    )
    audit.record(
        session,
        audit.LOGIN_THROTTLED if throttled else audit.LOGIN_FAILED,
        target_user_id=user_id,
        ip=ip,
        email=normalise_email(email)[:254],
    )
