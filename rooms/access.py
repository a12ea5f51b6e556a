"""Which roles a person holds in a room, and the one place rooms permissions are checked.

Roles come from memberships in the room's *spaces*, from the widest to the narrowest:
``assembly`` → ``group:<id>`` → ``chantier:<id>`` → ``room:<id>``. Each current
membership gives a ``(scope, role)`` pair; :data:`auth.roles.PERMISSIONS` says what each
pair allows (e.g. an assembly ``membre`` reads every room; a group ``membre`` writes in
the group's rooms and its chantiers' rooms). A mandate outside its dates grants nothing.
Someone holding no pair that reads the room gets ``RoomNotFound``, so the existence of a
room is not revealed to strangers. A member removed from a room by its moderators
(``RoomExclusion``) gets ``ExcludedFromRoom`` there whatever their roles, unless they
moderate it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import as_id
from auth.models import User
from auth.roles import Permission, Role, Scope, allows, scope_of
from documents.errors import DraftNotFound
from documents.models import Draft
from rooms.errors import ExcludedFromRoom, NotAllowed, RoomNotFound
from rooms.models import Chantier, Membership, Room, RoomExclusion

ASSEMBLY = "assembly"


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """A room together with the roles the caller holds in it."""

    room: Room
    user_id: int
    held: frozenset[tuple[Scope, Role]]

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(role for _, role in self.held)

    def allows(self, permission: Permission) -> bool:
        return allows(self.held, permission)

    @property
    def allows_post(self) -> bool:
        return self.allows(Permission.POST_MESSAGE)

    @property
    def allows_manage_topics(self) -> bool:
        return self.allows(Permission.MANAGE_TOPICS)

    @property
    def allows_moderate(self) -> bool:
        return self.allows(Permission.MODERATE_ROOM)


async def room_spaces(session: AsyncSession, room: Room) -> list[str]:
    """The spaces whose memberships apply in ``room``, widest first."""
    spaces = [ASSEMBLY]
    group_id = room.group_id
    if room.chantier_id is not None:
        if group_id is None:
            group_id = await session.scalar(
                select(Chantier.group_id).where(Chantier.id == room.chantier_id)
            )
        spaces.append(f"group:{group_id}")
        spaces.append(f"chantier:{room.chantier_id}")
    elif group_id is not None:
        spaces.append(f"group:{group_id}")
    spaces.append(f"room:{room.id}")
    return spaces


async def active_roles(
    session: AsyncSession, user_id: int, spaces: list[str], today: dt.date | None = None
) -> dict[str, set[Role]]:
    """Roles held by ``user_id`` in each of ``spaces`` whose mandate is current."""
    today = today or dt.date.today()  # noqa: DTZ011 - mandates are calendar dates
    rows = await session.execute(
        select(Membership.space, Membership.role).where(
            Membership.user_id == user_id,
            Membership.space.in_(spaces),
            *_current(today),
        )
    )
    held: dict[str, set[Role]] = {}
    for space, role in rows:
        held.setdefault(space, set()).add(Role(role))
    return held


def held_pairs(held: dict[str, set[Role]]) -> frozenset[tuple[Scope, Role]]:
    """The ``(scope, role)`` pairs of the roles held per space (pure)."""
    return frozenset((scope_of(space), role) for space, roles in held.items() for role in roles)


async def access_room(
    session: AsyncSession,
    user_id: int,
    room_id: int,
    permission: Permission = Permission.READ_ROOM,
) -> RoomAccess:
    """Fetch a room and check that ``user_id`` may do ``permission`` in it.

    Raises:
        RoomNotFound: no such room, or the caller holds no role that reaches it.
        ExcludedFromRoom: the room's moderators removed the caller from it.
        NotAllowed: the caller can see the room but their roles lack ``permission``.
    """
    # The room and whether the caller was removed from it, in one statement.
    excluded = (
        select(RoomExclusion.id)
        .where(RoomExclusion.room_id == Room.id, RoomExclusion.user_id == user_id)
        .exists()
    )
    found = (await session.execute(select(Room, excluded).where(Room.id == room_id))).first()
    if found is None:
        raise RoomNotFound(room_id=room_id)
    room, is_excluded_ = found
    held = held_pairs(await active_roles(session, user_id, await room_spaces(session, room)))
    if not allows(held, Permission.READ_ROOM):
        raise RoomNotFound(room_id=room_id)
    access = RoomAccess(room=room, user_id=user_id, held=held)
    if not access.allows_moderate and is_excluded_:
        raise ExcludedFromRoom(room_id=room_id)
    return require(access, permission)


def require(access: RoomAccess, permission: Permission) -> RoomAccess:
    """``access`` when it allows ``permission``; raises ``NotAllowed`` otherwise.

    The check applied to an access read earlier (the sockets keep one per room).
    """
    if not access.allows(permission):
        raise NotAllowed(permission=permission.value, room_id=access.room.id)
    return access


def _current(today: dt.date) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Mandates in force on ``today`` (open-ended when a date is missing)."""
    return (
        or_(Membership.starts_on.is_(None), Membership.starts_on <= today),
        or_(Membership.ends_on.is_(None), Membership.ends_on >= today),
    )


async def moderator_ids(session: AsyncSession, room: Room) -> list[int]:
    """Everyone who moderates ``room`` today (``room.moderate`` through any of their roles)."""
    today = dt.date.today()  # noqa: DTZ011 - mandates are calendar dates
    rows = await session.execute(
        select(Membership.user_id, Membership.space, Membership.role).where(
            Membership.space.in_(await room_spaces(session, room)), *_current(today)
        )
    )
    held: dict[int, set[tuple[Scope, Role]]] = {}
    for user_id, space, role in rows:
        held.setdefault(user_id, set()).add((scope_of(space), Role(role)))
    return sorted(uid for uid, pairs in held.items() if allows(pairs, Permission.MODERATE_ROOM))


async def readable_room_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Every room ``user_id`` may read, by the same rules as :func:`access_room`."""
    readable = await _reachable_room_ids(session, user_id)
    excluded = set(
        await session.scalars(select(RoomExclusion.room_id).where(RoomExclusion.user_id == user_id))
    )
    for room_id in readable & excluded:
        # A moderator of the room is never shut out of it (as in ``access_room``).
        try:
            await access_room(session, user_id, room_id)
        except (RoomNotFound, ExcludedFromRoom):
            readable.discard(room_id)
    return readable


async def _reachable_room_ids(session: AsyncSession, user_id: int) -> set[int]:
    today = dt.date.today()  # noqa: DTZ011 - mandates are calendar dates
    rows = await session.execute(
        select(Membership.space).where(Membership.user_id == user_id, *_current(today))
    )
    spaces = {space for (space,) in rows}
    if ASSEMBLY in spaces:
        return set((await session.scalars(select(Room.id))).all())
    ids: dict[str, set[int]] = {"group": set(), "chantier": set(), "room": set()}
    for space in spaces:
        kind, _, key = space.partition(":")
        space_id = as_id(key)
        if kind in ids and space_id is not None:
            ids[kind].add(space_id)
    if not any(ids.values()):
        return set()
    chantiers_of_groups = select(Chantier.id).where(Chantier.group_id.in_(ids["group"]))
    query = select(Room.id).where(
        or_(
            Room.group_id.in_(ids["group"]),
            Room.chantier_id.in_(ids["chantier"]),
            Room.chantier_id.in_(chantiers_of_groups),
            Room.id.in_(ids["room"]),
        )
    )
    return set((await session.scalars(query)).all())


async def check_assembly(session: AsyncSession, user_id: int, permission: Permission) -> None:
    """Check an assembly-wide action (inviting, assigning roles, reading the audit).

    Raises:
        NotAllowed: the roles ``user_id`` holds in the assembly do not grant it.
    """
    held = held_pairs(await active_roles(session, user_id, [ASSEMBLY]))
    if not allows(held, permission):
        raise NotAllowed(permission=permission.value)


@dataclass(frozen=True, slots=True)
class DraftAccess:
    """A draft together with the ``(scope, role)`` pairs the caller holds over it."""

    draft: Draft
    user_id: int
    held: frozenset[tuple[Scope, Role]]

    def allows(self, permission: Permission) -> bool:
        if allows(self.held, permission):
            return True
        # A draft opened to its members lets the space's members edit too.
        return (
            permission == Permission.EDIT_DRAFT
            and self.draft.members_can_edit
            and any(r == Role.MEMBER and s in (Scope.GROUP, Scope.CHANTIER) for s, r in self.held)
        )

    @property
    def can_edit(self) -> bool:
        return self.allows(Permission.EDIT_DRAFT) and self.draft.locked_at is None


async def space_chain(session: AsyncSession, space: str) -> list[str]:
    """The spaces whose roles apply in ``space`` (a group's roles reach its chantiers)."""
    chain = [ASSEMBLY]
    kind, _, raw = space.partition(":")
    chantier_id = as_id(raw)
    if kind == "chantier" and chantier_id is not None:
        group_id = await session.scalar(select(Chantier.group_id).where(Chantier.id == chantier_id))
        chain.append(f"group:{group_id}")
    if space != ASSEMBLY:
        chain.append(space)
    return chain


async def held_in_space(
    session: AsyncSession, user_id: int, space: str
) -> frozenset[tuple[Scope, Role]]:
    return held_pairs(await active_roles(session, user_id, await space_chain(session, space)))


async def access_draft(
    session: AsyncSession,
    user_id: int,
    draft_id: int,
    permission: Permission = Permission.READ_DRAFT,
) -> DraftAccess:
    """Fetch a draft and check ``permission`` for ``user_id`` (same rules as rooms).

    Raises:
        DraftNotFound: no such draft, or the caller cannot read it.
        NotAllowed: the caller reads it but may not do ``permission``.
    """
    draft = await session.get(Draft, draft_id)
    if draft is None:
        raise DraftNotFound(draft_id=draft_id)
    held = await held_in_space(session, user_id, draft.space)
    access = DraftAccess(draft=draft, user_id=user_id, held=held)
    if not allows(held, Permission.READ_DRAFT):
        raise DraftNotFound(draft_id=draft_id)
    if not access.allows(permission):
        raise NotAllowed(permission=permission.value, draft_id=draft_id)
    return access


async def voting_member_ids(session: AsyncSession, room: Room) -> list[int]:
    """Everyone whose current roles let them vote in ``room`` (observers never)."""
    today = dt.date.today()  # noqa: DTZ011 - mandates are calendar dates
    rows = await session.execute(
        select(Membership.user_id, Membership.space, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.space.in_(await room_spaces(session, room)),
            User.is_active.is_(True),
            *_current(today),
        )
    )
    held: dict[int, set[tuple[Scope, Role]]] = {}
    for user_id, space, role in rows:
        held.setdefault(user_id, set()).add((scope_of(space), Role(role)))
    excluded = set(
        await session.scalars(select(RoomExclusion.user_id).where(RoomExclusion.room_id == room.id))
    )
    return sorted(
        uid for uid, pairs in held.items() if allows(pairs, Permission.VOTE) and uid not in excluded
    )
