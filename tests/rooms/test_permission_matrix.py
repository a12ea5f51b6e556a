"""Walk every cell of the permission matrix against the real access checks and database.

For each scope and role, one person holds exactly that role in that space; every action
is then checked where the HTTP views and the WebSocket gateway check it
(``rooms.access.access_room`` for room actions, ``check_assembly`` for assembly ones).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from auth.actions import do_create_user
from auth.roles import DRAFT_PERMISSIONS, PERMISSIONS, ROOM_PERMISSIONS, Permission, Role, Scope
from documents.actions import do_create_draft
from documents.errors import DraftNotFound
from rooms.access import access_draft, access_room, check_assembly
from rooms.actions.structure import do_create_chantier, do_create_group, do_grant_role
from rooms.errors import NotAllowed, RoomNotFound
from rooms.models import Room
from server.database import Database


async def test_every_cell(db: Database) -> None:
    async with db.transaction() as session:
        group = await do_create_group(session, number=1, slug="g", title="G")
        chantier = await do_create_chantier(session, group, number=1, slug="c", title="C")
        room_id = await session.scalar(select(Room.id).where(Room.chantier_id == chantier.id))
        assert room_id is not None
        draft = await do_create_draft(
            session, space=f"chantier:{chantier.id}", title="Rapport", author_id=None
        )
        draft_id = draft.id
        spaces = {
            Scope.ASSEMBLY: "assembly",
            Scope.GROUP: f"group:{group.id}",
            Scope.CHANTIER: f"chantier:{chantier.id}",
            Scope.ROOM: f"room:{room_id}",
        }
        holders: dict[tuple[Scope, Role], int] = {}
        for scope, space in spaces.items():
            for role in Role:
                user = await do_create_user(
                    session, email=f"{scope}-{role}@t.atelier", display_name=f"{scope} {role}"
                )
                await do_grant_role(session, user.id, space, role)
                holders[scope, role] = user.id
        nobody = (await do_create_user(session, email="no@t.atelier", display_name="Nobody")).id

    checked = 0
    async with db.read() as session:
        for (scope, role), user_id in holders.items():
            for permission in Permission:
                expected = role in PERMISSIONS[permission][scope]
                try:
                    if permission in ROOM_PERMISSIONS:
                        await access_room(session, user_id, room_id, permission)
                    elif permission in DRAFT_PERMISSIONS:
                        await access_draft(session, user_id, draft_id, permission)
                    else:
                        await check_assembly(session, user_id, permission)
                    allowed = True
                except (NotAllowed, RoomNotFound, DraftNotFound):
                    allowed = False
                assert allowed is expected, (scope, role, permission)
                checked += 1
        for permission in ROOM_PERMISSIONS:
            with pytest.raises(RoomNotFound):
                await access_room(session, nobody, room_id, permission)
    assert checked == len(Scope) * len(Role) * len(Permission)
