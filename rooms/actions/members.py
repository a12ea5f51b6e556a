"""Bringing people in and out: invitations, role grants with parity, anonymisation.

Invitations live in ``auth`` (they are accounts-to-be) but their grants are memberships
of spaces, which this package owns; so inviting, accepting and granting are here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import audit
from auth.actions import do_create_user, normalise_email
from auth.base import as_id, dumps, utcnow
from auth.errors import InvalidAccountInput, InvalidToken, ParityError
from auth.models import Invitation, User
from auth.passwords import check_password_policy, hash_password
from auth.roles import Role
from auth.sessions import digest
from rooms.access import ASSEMBLY
from rooms.actions.structure import announce_access_changed, do_grant_role
from rooms.models import Chantier, Group, Membership, Message, Room, RoomEvent

INVITATION_TTL = dt.timedelta(days=14)
CIVILITIES = ("mme", "m")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,252}\.[^@\s]{2,}$")


@dataclass(frozen=True, slots=True)
class Grant:
    """A role to hold in a space, possibly for a mandate with dates."""

    space: str
    role: Role
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "space": self.space,
            "role": self.role.value,
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grant:
        return cls(
            space=str(data["space"]),
            role=Role(data["role"]),
            starts_on=dt.date.fromisoformat(data["starts_on"]) if data.get("starts_on") else None,
            ends_on=dt.date.fromisoformat(data["ends_on"]) if data.get("ends_on") else None,
        )


async def check_space(session: AsyncSession, space: str) -> str:
    """``space`` if it names the assembly or an existing group, chantier or room.

    Raises:
        InvalidAccountInput: ``field='space'``.
    """
    kind, _, raw_id = space.partition(":")
    model = {"group": Group, "chantier": Chantier, "room": Room}.get(kind)
    if space == ASSEMBLY:
        return space
    row_id = as_id(raw_id)
    if model is None or row_id is None or await session.get(model, row_id) is None:
        raise InvalidAccountInput(field="space", reason="unknown", space=space)
    return space


def clean_email(email: str) -> str:
    email = normalise_email(email)
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidAccountInput(field="email", reason="invalid")
    return email


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 2 <= len(name) <= 120:
        raise InvalidAccountInput(field="display_name", reason="length")
    return name


# -- parity --------------------------------------------------------------------------
async def copilots_of(session: AsyncSession, space: str) -> list[User]:
    today = dt.date.today()  # noqa: DTZ011 - mandates are calendar dates
    rows = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.space == space,
            Membership.role == Role.COPILOTE.value,
            (Membership.ends_on.is_(None)) | (Membership.ends_on >= today),
        )
    )
    return list(rows)


def parity_problem(civilities: list[str | None]) -> str | None:
    """Why a binôme copilote breaks parity, or ``None`` (one woman and one man)."""
    if len(civilities) > 2:
        return "too_many"
    if any(c not in CIVILITIES for c in civilities):
        return "civility_unknown"
    if len(civilities) == 2 and civilities[0] == civilities[1]:
        return "same_civility"
    return None


async def check_copilot_parity(
    session: AsyncSession, user: User, space: str, *, override: str | None
) -> str | None:
    """Refuse a copilot grant that breaks the binôme's parity, unless overridden.

    Returns:
        The recorded override reason when parity is broken and an override was given.

    Raises:
        ParityError: ``reason`` is ``too_many``, ``civility_unknown`` or
            ``same_civility``; ``names`` lists the current copilots.
    """
    current = [u for u in await copilots_of(session, space) if u.id != user.id]
    problem = parity_problem([u.civility for u in [*current, user]])
    if problem is None:
        return None
    if override and override.strip():
        return override.strip()[:500]
    raise ParityError(reason=problem, names=", ".join(u.display_name for u in current))


async def parity_report(session: AsyncSession) -> dict[str, Any]:
    """Every group's binôme and the comité d'animation, with their parity status."""
    groups = list(await session.scalars(select(Group).order_by(Group.number)))
    binomes = []
    for group in groups:
        copilots = await copilots_of(session, f"group:{group.id}")
        civilities = [u.civility for u in copilots]
        problem = parity_problem(civilities) or ("incomplete" if len(copilots) < 2 else None)
        binomes.append(
            {
                "group": group,
                "copilots": copilots,
                "problem": problem,
            }
        )
    comite = list(
        await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.space == ASSEMBLY, Membership.role == Role.COMITE.value)
            .order_by(User.display_name)
        )
    )
    women = sum(u.civility == "mme" for u in comite)
    men = sum(u.civility == "m" for u in comite)
    return {
        "binomes": binomes,
        "comite": {
            "members": comite,
            "women": women,
            "men": men,
            "unknown": len(comite) - women - men,
            "balanced": abs(women - men) <= 1 and women + men == len(comite),
        },
    }


async def do_assign_role(
    session: AsyncSession,
    *,
    actor_id: int,
    user: User,
    grant: Grant,
    parity_override: str | None = None,
) -> Membership:
    """Grant a role in a space, checking the copilots' parity; logged in the audit.

    Raises:
        InvalidAccountInput: unknown space, or dates in the wrong order.
        ParityError: see :func:`check_copilot_parity`.
    """
    await check_space(session, grant.space)
    if grant.starts_on and grant.ends_on and grant.ends_on < grant.starts_on:
        raise InvalidAccountInput(field="ends_on", reason="before_start")
    override = None
    if grant.role == Role.COPILOTE and grant.space.startswith("group:"):
        override = await check_copilot_parity(session, user, grant.space, override=parity_override)
    membership = await do_grant_role(
        session, user.id, grant.space, grant.role, starts_on=grant.starts_on, ends_on=grant.ends_on
    )
    membership.granted_by_id = actor_id
    membership.parity_override = override
    audit.record(
        session,
        audit.ROLE_GRANTED,
        actor_id=actor_id,
        target_user_id=user.id,
        **grant.as_json(),
    )
    if override:
        audit.record(
            session,
            audit.PARITY_OVERRIDDEN,
            actor_id=actor_id,
            target_user_id=user.id,
            space=grant.space,
            reason=override,
        )
    announce_access_changed(session, user.id)
    return membership


async def do_remove_role(
    session: AsyncSession, *, actor_id: int, user_id: int, space: str, role: Role
) -> bool:
    from rooms.actions.structure import do_revoke_role

    removed = await do_revoke_role(session, user_id, space, role)
    if removed:
        audit.record(
            session,
            audit.ROLE_REVOKED,
            actor_id=actor_id,
            target_user_id=user_id,
            space=space,
            role=role.value,
        )
    return bool(removed)


# -- invitations ---------------------------------------------------------------------
async def do_invite(
    session: AsyncSession,
    *,
    actor_id: int | None,
    email: str,
    display_name: str,
    civility: str | None = None,
    territory: str | None = None,
    grants: list[Grant],
) -> tuple[Invitation, str]:
    """Invite a person by email into the assembly and spaces; returns the link's token.

    Raises:
        InvalidAccountInput: bad email/name/civility, unknown space, or the person is
            already a member (``reason='already_member'``: assign roles instead).
    """
    email = clean_email(email)
    display_name = clean_name(display_name)
    if civility not in (None, "", *CIVILITIES):
        raise InvalidAccountInput(field="civility", reason="invalid")
    existing = await session.scalar(select(User).where(func.lower(User.email) == email))
    if existing is not None and existing.anonymised_at is None:
        raise InvalidAccountInput(field="email", reason="already_member")
    for grant in grants:
        await check_space(session, grant.space)
    if not any(g.space == ASSEMBLY for g in grants):
        grants = [Grant(ASSEMBLY, Role.MEMBER), *grants]
    # A new invitation replaces the pending ones for the same address.
    for pending in await session.scalars(
        select(Invitation).where(
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ):
        pending.revoked_at = utcnow()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = Invitation(
        token_digest=digest(token),
        email=email,
        display_name=display_name,
        civility=civility or None,
        territory=(territory or "").strip()[:200] or None,
        grants=[g.as_json() for g in grants],
        invited_by_id=actor_id,
        created_at=now,
        expires_at=now + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        audit.INVITATION_SENT,
        actor_id=actor_id,
        email=email,
        grants=invitation.grants,
    )
    return invitation, token


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def pending(invitation: Invitation | None) -> bool:
    return (
        invitation is not None
        and invitation.accepted_at is None
        and invitation.revoked_at is None
        and _aware(invitation.expires_at) > utcnow()
    )


async def check_invitation(session: AsyncSession, token: str) -> Invitation:
    """The pending invitation behind ``token``.

    Raises:
        InvalidToken: unknown, accepted, revoked or expired.
    """
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_digest == digest(token or "")).with_for_update()
    )
    if invitation is None or not pending(invitation):
        raise InvalidToken()
    return invitation


async def apply_invitation_grants(
    session: AsyncSession, invitation: Invitation, user: User
) -> None:
    """Accepting: the invitation's roles become the member's, and it is used up."""
    for data in invitation.grants:
        grant = Grant.from_json(data)
        await do_grant_role(
            session,
            user.id,
            grant.space,
            grant.role,
            starts_on=grant.starts_on,
            ends_on=grant.ends_on,
        )
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    audit.record(
        session,
        audit.INVITATION_ACCEPTED,
        actor_id=user.id,
        target_user_id=user.id,
        invitation_id=invitation.id,
    )


async def do_accept_invitation(session: AsyncSession, token: str, password: str) -> User:
    """The invitee sets a password: their account is created with the invited roles.

    Raises:
        InvalidToken: the link cannot be used.
        WeakPassword: the password breaks the rules.
    """
    invitation = await check_invitation(session, token)
    check_password_policy(password, email=invitation.email, display_name=invitation.display_name)
    user = await session.scalar(select(User).where(func.lower(User.email) == invitation.email))
    if user is None:
        user = await do_create_user(
            session,
            email=invitation.email,
            display_name=invitation.display_name,
            civility=invitation.civility,
            territory=invitation.territory,
        )
    user.password_hash = hash_password(password)
    user.is_active = True
    await apply_invitation_grants(session, invitation, user)
    return user


# -- leaving -------------------------------------------------------------------------
async def do_deactivate(session: AsyncSession, *, actor_id: int, user: User) -> None:
    """Close an account: sign-in refused, sockets closed, roles kept for the record."""
    from auth.sessions import revoke_all_sessions

    user.is_active = False
    await revoke_all_sessions(session, user.id)
    audit.record(session, audit.ACCOUNT_DEACTIVATED, actor_id=actor_id, target_user_id=user.id)


async def do_anonymise_member(session: AsyncSession, *, actor_id: int, user: User) -> None:
    """Erase a member on request; their messages stay, signed "Ancien membre".

    The logged frames of their messages (and of replies quoting them) carry the name,
    so they are rewritten too: a catch-up must not bring the name back.
    """
    from auth.accounts import ANONYMOUS_NAME, do_anonymise

    await do_anonymise(session, user, actor_id=actor_id)
    await session.execute(Membership.__table__.delete().where(Membership.user_id == user.id))
    own = set(await session.scalars(select(Message.id).where(Message.author_id == user.id)))
    if not own:
        return
    events = await session.scalars(select(RoomEvent).where(RoomEvent.type == "message.posted"))
    for event in events:
        frame = json.loads(event.data)
        message = frame.get("message", {})
        changed = False
        if message.get("author", {}).get("id") == user.id:
            message["author"]["name"] = ANONYMOUS_NAME
            changed = True
        reply = message.get("reply_to")
        if reply and reply.get("id") in own:
            reply["author"] = ANONYMOUS_NAME
            changed = True
        if changed:
            event.data = dumps(frame)
