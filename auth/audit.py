"""The audit log: who signed in, who changed whose role, who was invited or removed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import AuditEvent

# Stable action names (also the keys of the French labels in the catalogue).
LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
LOGIN_THROTTLED = "login.throttled"
LOGOUT = "logout"
SESSIONS_REVOKED = "sessions.revoked"
PASSWORD_CHANGED = "password.changed"  # noqa: S105 - an action name
PASSWORD_RESET_REQUESTED = "password.reset_requested"  # noqa: S105
PASSWORD_RESET = "password.reset"  # noqa: S105
INVITATION_SENT = "invitation.sent"
INVITATION_ACCEPTED = "invitation.accepted"
ROLE_GRANTED = "role.granted"
ROLE_REVOKED = "role.revoked"
PARITY_OVERRIDDEN = "parity.overridden"
ACCOUNT_DEACTIVATED = "account.deactivated"
ACCOUNT_ANONYMISED = "account.anonymised"
ACCOUNT_EXPORTED = "account.exported"
OIDC_LINKED = "oidc.linked"
OIDC_REFUSED = "oidc.refused"
MEMBER_BLOCKED = "member.blocked"
MEMBER_UNBLOCKED = "member.unblocked"


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    target_user_id: int | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor_id,
            target_user_id=target_user_id,
            ip=ip,
            details=details,
        )
    )


async def recent(session: AsyncSession, *, limit: int = 200) -> list[AuditEvent]:
    rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    return list(rows)
