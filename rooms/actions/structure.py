"""Creating the assembly's structure: groups, chantiers, their rooms, saisines, memberships.

Used by the demo loader and by administrators; each group and each chantier gets its room
at creation, so no space is ever without one.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import emit
from auth.roles import Role
from auth.sessions import control_channel
from rooms.models import Chantier, Group, Membership, Room, Saisine


async def do_create_group(
    session: AsyncSession, *, number: int, slug: str, title: str, themes: str = ""
) -> Group:
    """Create a groupe de travail and its room."""
    group = Group(number=number, slug=slug, title=title, themes=themes)
    session.add(group)
    await session.flush()
    session.add(Room(slug=slug, name=title, description=themes, group_id=group.id))
    await session.flush()
    return group


async def do_create_chantier(
    session: AsyncSession,
    group: Group,
    *,
    number: int,
    slug: str,
    title: str,
    description: str = "",
) -> Chantier:
    """Create a chantier of ``group`` and its room."""
    chantier = Chantier(
        group_id=group.id, number=number, slug=slug, title=title, description=description
    )
    session.add(chantier)
    await session.flush()
    session.add(
        Room(
            slug=slug,
            name=title,
            description=description,
            group_id=group.id,
            chantier_id=chantier.id,
        )
    )
    await session.flush()
    return chantier


async def do_create_saisine(
    session: AsyncSession,
    *,
    number: int,
    title: str,
    questions: list[str],
    due_label: str,
    chantier: Chantier | None = None,
) -> Saisine:
    saisine = Saisine(
        number=number,
        title=title,
        questions=questions,
        due_label=due_label,
        chantier_id=chantier.id if chantier else None,
    )
    session.add(saisine)
    await session.flush()
    return saisine


async def do_grant_role(
    session: AsyncSession,
    user_id: int,
    space: str,
    role: Role,
    *,
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
) -> Membership:
    """Give ``user_id`` ``role`` in ``space`` (idempotent: an existing grant is updated).

    The member's open sockets are told (after commit): they keep their access per room
    for a while, and a new right must apply at once.
    """
    existing = await session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.space == space, Membership.role == role
        )
    )
    announce_access_changed(session, user_id)
    if existing is not None:
        existing.starts_on, existing.ends_on = starts_on, ends_on
        return existing
    membership = Membership(
        user_id=user_id, space=space, role=role.value, starts_on=starts_on, ends_on=ends_on
    )
    session.add(membership)
    await session.flush()
    return membership


async def do_revoke_role(
    session: AsyncSession, user_id: int, space: str, role: Role | None = None
) -> int:
    """Remove ``user_id``'s ``role`` (or every role) in ``space``; returns how many.

    The member's open sockets are told at once (after commit) and stop receiving the
    rooms they may no longer read.
    """
    query = delete(Membership).where(Membership.user_id == user_id, Membership.space == space)
    if role is not None:
        query = query.where(Membership.role == role.value)
    removed = len(list(await session.scalars(query.returning(Membership.id))))
    if removed:
        announce_access_changed(session, user_id)
    return removed


def announce_access_changed(session: AsyncSession, user_id: int) -> None:
    emit(session, control_channel(user_id), json.dumps({"op": "access_changed"}))
