"""A small assembly for tests, built through the same actions the app uses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from auth.actions import do_create_user
from auth.models import User
from auth.roles import Role
from auth.sessions import open_session
from rooms.actions.structure import do_create_chantier, do_create_group, do_grant_role
from rooms.models import Room
from server.database import Database

PASSWORD = "un mot de passe assez long"


@dataclass
class World:
    """Group 1 with chantier 1.1; one user per role and a session cookie for each."""

    group_room: int
    chantier_room: int
    other_group_room: int
    users: dict[str, User] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def id(self, who: str) -> int:
        return self.users[who].id


# who -> (display name, [(space key, role)]); "g1"/"c1"/"g2" are filled in at build time.
PEOPLE: dict[str, tuple[str, list[tuple[str, Role]]]] = {
    "admin": ("Alice Admin", [("assembly", Role.ADMIN)]),
    "copilote": ("Sophie Vidal", [("g1", Role.COPILOTE)]),
    "rapporteur": ("Anne Lafont", [("g1", Role.MEMBER), ("c1", Role.RAPPORTEUR)]),
    "marie": ("Marie Dupont", [("g1", Role.MEMBER)]),
    "paul": ("Paul Sicard", [("g1", Role.MEMBER)]),
    "elodie": ("Élodie Cazals", [("g1", Role.MEMBER)]),
    "observer": ("Louise Fournier", [("g1", Role.OBSERVER)]),
    "other": ("Henri Barthe", [("g2", Role.MEMBER)]),
    "expired": ("Luc Mercier", [("g1", Role.MEMBER)]),
}


async def build_world(db: Database) -> World:
    async with db.transaction() as session:
        g1 = await do_create_group(session, number=1, slug="g1", title="Groupe 1")
        c1 = await do_create_chantier(session, g1, number=1, slug="c1", title="Chantier 1.1")
        g2 = await do_create_group(session, number=2, slug="g2", title="Groupe 2")
        spaces = {"assembly": "assembly", "g1": f"group:{g1.id}", "c1": f"chantier:{c1.id}"}
        spaces["g2"] = f"group:{g2.id}"
        users: dict[str, User] = {}
        for who, (name, grants) in PEOPLE.items():
            email = f"{who}@test.atelier"
            # Hashing is slow on purpose: only the account the sign-in tests use has one.
            password = PASSWORD if who == "marie" else None
            user = await do_create_user(session, email=email, display_name=name, password=password)
            users[who] = user
            for space, role in grants:
                ends = dt.date(2020, 1, 1) if who == "expired" else None
                await do_grant_role(session, user.id, spaces[space], role, ends_on=ends)
        cookies = {who: await open_session(session, user) for who, user in users.items()}
        group_room = await session.scalar(
            select(Room.id).where(Room.group_id == g1.id, Room.chantier_id.is_(None))
        )
        chantier_room = await session.scalar(select(Room.id).where(Room.chantier_id == c1.id))
        other_room = await session.scalar(
            select(Room.id).where(Room.group_id == g2.id, Room.chantier_id.is_(None))
        )
    assert group_room
    assert chantier_room
    assert other_room
    return World(
        group_room=group_room,
        chantier_room=chantier_room,
        other_group_room=other_room,
        users=users,
        cookies=cookies,
    )


def message_row(
    room_id: int, seq: int, author_id: int, *, source: str = "Bonjour", **columns: Any
) -> dict[str, Any]:
    """A ``messages`` row for seeding many at once (``insert(Message)``): a plain text
    message, without its event; ``columns`` sets or overrides the others."""
    return {
        "room_id": room_id,
        "seq": seq,
        "topic": "",
        "author_id": author_id,
        "client_id": f"seed-{room_id}-{seq}",
        "source": source,
        "html": f"<p>{source}</p>",
        "created_at": dt.datetime.now(dt.UTC),
    } | columns
