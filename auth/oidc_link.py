"""Who an OpenID Connect identity is: the members-only rule, with no HTTP in sight.

The edge (``server/oidc.py``) has already checked the protocol — state, PKCE, the ID
token's signature, issuer, audience, expiry and nonce — and hands over the verified
claims as an :class:`OidcClaims`. Here we decide which member they belong to:

1. an identity seen before is found by ``(issuer, subject)``, whatever email the
   provider sends today;
2. otherwise the provider's *verified* email is the first link (ProConnect gives each
   service its own ``sub``, so the ``sub`` alone cannot match anyone): an active member
   with that address, else a pending invitation to that address — the account is then
   created from the invitation and the invitation is accepted;
3. anyone else is refused with :class:`~auth.errors.NotAMember` (``data['reason']``).

A successful match remembers ``(issuer, subject)`` as an :class:`OidcIdentity`, so the
email is used once. The refusal is audited by :func:`do_record_oidc_refusal` in its own
transaction, since the caller's rolls back.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import audit
from auth.actions import do_create_user, normalise_email
from auth.base import utcnow
from auth.errors import NotAMember
from auth.models import Invitation, OidcIdentity, User

# ``NotAMember.data['reason']`` values.
REASON_UNKNOWN_EMAIL = "unknown_email"
REASON_EMAIL_NOT_VERIFIED = "email_not_verified"
REASON_NO_EMAIL = "no_email"
REASON_INACTIVE = "inactive"

#: Called when an invitation is accepted through OpenID Connect, inside the transaction,
#: to give the invitee the invitation's spaces and roles (and audit the acceptance).
InvitationHook = Callable[[AsyncSession, Invitation, User], Awaitable[Any] | Any]


@dataclass(frozen=True, slots=True)
class OidcClaims:
    """What the provider asserted, after the edge verified it."""

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False


@dataclass(frozen=True, slots=True)
class OidcSignIn:
    """The member an identity belongs to, and what this sign-in changed."""

    user: User
    identity: OidcIdentity
    newly_linked: bool
    invitation: Invitation | None = None


def _is_member(user: User) -> bool:
    return user.is_active and user.anonymised_at is None


async def find_pending_invitation(session: AsyncSession, email: str) -> Invitation | None:
    """The newest invitation to ``email`` that is neither accepted, revoked nor expired."""
    return await session.scalar(
        select(Invitation)
        .where(
            func.lower(Invitation.email) == normalise_email(email),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(1)
        .with_for_update()
    )


async def _accept_invitation(
    session: AsyncSession,
    invitation: Invitation,
    *,
    ip: str | None,
    on_invitation_accepted: InvitationHook | None,
) -> User:
    user = await do_create_user(
        session,
        email=invitation.email,
        display_name=invitation.display_name,
        civility=invitation.civility,
        territory=invitation.territory,
    )
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    if on_invitation_accepted is None:
        audit.record(
            session,
            audit.INVITATION_ACCEPTED,
            actor_id=user.id,
            target_user_id=user.id,
            ip=ip,
            invitation_id=invitation.id,
            via="oidc",
        )
    else:
        # The invitation acceptance proper (grants, its audit event) belongs to rooms.
        result = on_invitation_accepted(session, invitation, user)
        if inspect.isawaitable(result):
            await result
    await session.flush()
    return user


async def do_oidc_sign_in(
    session: AsyncSession,
    claims: OidcClaims,
    *,
    ip: str | None = None,
    on_invitation_accepted: InvitationHook | None = None,
) -> OidcSignIn:
    """The member ``claims`` belong to, linking the identity at the first sign-in.

    Raises:
        NotAMember: no active member and no pending invitation match (``data['reason']``
            is one of the ``REASON_*`` constants, ``data['email']`` the address asserted).
    """
    now = utcnow()
    identity = await session.scalar(
        select(OidcIdentity).where(
            OidcIdentity.issuer == claims.issuer, OidcIdentity.subject == claims.subject
        )
    )
    if identity is not None:
        user = await session.get(User, identity.user_id)
        if user is None or not _is_member(user):
            raise NotAMember(reason=REASON_INACTIVE, email=claims.email)
        identity.last_used_at = now
        if claims.email and claims.email_verified:
            identity.email = normalise_email(claims.email)[:254]
        _record_login(session, user, claims, ip)
        return OidcSignIn(user=user, identity=identity, newly_linked=False)

    if not claims.email:
        raise NotAMember(reason=REASON_NO_EMAIL, email=None)
    if not claims.email_verified:
        raise NotAMember(reason=REASON_EMAIL_NOT_VERIFIED, email=claims.email)
    email = normalise_email(claims.email)
    user = await session.scalar(select(User).where(func.lower(User.email) == email))
    invitation: Invitation | None = None
    if user is not None:
        if not _is_member(user):
            raise NotAMember(reason=REASON_INACTIVE, email=email)
    else:
        invitation = await find_pending_invitation(session, email)
        if invitation is None:
            raise NotAMember(reason=REASON_UNKNOWN_EMAIL, email=email)
        user = await _accept_invitation(
            session, invitation, ip=ip, on_invitation_accepted=on_invitation_accepted
        )

    identity = OidcIdentity(
        issuer=claims.issuer,
        subject=claims.subject,
        user_id=user.id,
        email=email[:254],
        created_at=now,
        last_used_at=now,
    )
    session.add(identity)
    await session.flush()
    audit.record(
        session,
        audit.OIDC_LINKED,
        actor_id=user.id,
        target_user_id=user.id,
        ip=ip,
        issuer=claims.issuer,
        subject=claims.subject,
        email=email[:254],
        invitation_id=invitation.id if invitation else None,
    )
    _record_login(session, user, claims, ip)
    return OidcSignIn(user=user, identity=identity, newly_linked=True, invitation=invitation)


def _record_login(session: AsyncSession, user: User, claims: OidcClaims, ip: str | None) -> None:
    audit.record(
        session,
        audit.LOGIN_SUCCEEDED,
        actor_id=user.id,
        target_user_id=user.id,
        ip=ip,
        method="oidc",
        issuer=claims.issuer,
    )


async def do_record_oidc_refusal(
    session: AsyncSession,
    reason: str,
    *,
    issuer: str,
    subject: str | None = None,
    email: str | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """Audit a refused OpenID Connect sign-in (not a member, or a failed protocol check)."""
    target = None
    if email:
        target = await session.scalar(
            select(User.id).where(func.lower(User.email) == normalise_email(email))
        )
    audit.record(
        session,
        audit.OIDC_REFUSED,
        target_user_id=target,
        ip=ip,
        reason=reason[:60],
        issuer=issuer[:300],
        subject=subject[:255] if subject else None,
        email=normalise_email(email)[:254] if email else None,
        detail=detail[:200] if detail else None,
    )
