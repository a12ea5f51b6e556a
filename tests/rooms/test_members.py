"""Invitations, role grants with parity, password reset and anonymisation, on the DB."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from auth.accounts import do_request_password_reset, do_reset_password
from auth.actions import check_password_login, do_create_user
from auth.errors import InvalidCredentials, InvalidToken, ParityError, WeakPassword
from auth.models import AuditEvent, Invitation, LoginSession, User
from auth.roles import Role
from auth.sessions import open_session
from rooms.access import access_room
from rooms.actions.members import (
    Grant,
    do_accept_invitation,
    do_anonymise_member,
    do_assign_role,
    do_invite,
    parity_report,
)
from rooms.actions.messages import check_post
from rooms.actions.structure import do_create_chantier, do_create_group
from rooms.models import Membership, RoomEvent
from server.database import Database


async def _people(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        group = await do_create_group(session, number=1, slug="g1", title="Groupe 1")
        await do_create_chantier(session, group, number=1, slug="c1", title="Chantier 1.1")
        ids = {"group": group.id}
        for key, name, civility in [
            ("admin", "Alice Admin", "mme"),
            ("sophie", "Sophie Vidal", "mme"),
            ("nadia", "Nadia Benali", "mme"),
            ("marc", "Marc Roux", "m"),
            ("pierre", "Pierre Rouquette", "m"),
            ("anon", "Camille Sans", None),
        ]:
            user = await do_create_user(
                session, email=f"{key}@test.atelier", display_name=name, civility=civility
            )
            ids[key] = user.id
    return ids


async def test_invitation_lifecycle(db: Database) -> None:
    ids = await _people(db)
    group_space = f"group:{ids['group']}"
    async with db.transaction() as session:
        invitation, token = await do_invite(
            session,
            actor_id=ids["admin"],
            email=" Lea.Martin@Exemple.FR ",
            display_name="Léa  Martin",
            civility="mme",
            grants=[Grant(group_space, Role.MEMBER)],
        )
        assert invitation.email == "lea.martin@exemple.fr"
        # The assembly membership comes with any invitation.
        assert {g["space"] for g in invitation.grants} == {"assembly", group_space}
    async with db.transaction() as session:
        with pytest.raises(WeakPassword):
            await do_accept_invitation(session, token, "court")
    async with db.transaction() as session:
        user = await do_accept_invitation(session, token, "la garrigue en été")
        assert user.display_name == "Léa Martin"
    async with db.transaction() as session:
        with pytest.raises(InvalidToken):
            await do_accept_invitation(session, token, "la garrigue en été")
        login = await check_password_login(session, "lea.martin@exemple.fr", "la garrigue en été")
        roles = set(
            await session.scalars(select(Membership.space).where(Membership.user_id == login.id))
        )
        assert roles == {"assembly", group_space}
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions[:2] == ["invitation.sent", "invitation.accepted"]


async def test_expired_and_replaced_invitations_cannot_be_used(db: Database) -> None:
    ids = await _people(db)
    async with db.transaction() as session:
        _, first = await do_invite(
            session, actor_id=ids["admin"], email="x@exemple.fr", display_name="X Y", grants=[]
        )
        _, second = await do_invite(
            session, actor_id=ids["admin"], email="x@exemple.fr", display_name="X Y", grants=[]
        )
    async with db.transaction() as session:
        with pytest.raises(InvalidToken):
            await do_accept_invitation(session, first, "la garrigue en été")
        await session.execute(
            update(Invitation).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1))
        )
    async with db.transaction() as session:
        with pytest.raises(InvalidToken):
            await do_accept_invitation(session, second, "la garrigue en été")


async def test_binome_copilote_parity(db: Database) -> None:
    ids = await _people(db)
    space = f"group:{ids['group']}"

    async def assign(who: str, override: str | None = None) -> None:
        async with db.transaction() as session:
            user = await session.get(User, ids[who])
            assert user is not None
            await do_assign_role(
                session,
                actor_id=ids["admin"],
                user=user,
                grant=Grant(space, Role.COPILOTE),
                parity_override=override,
            )

    await assign("sophie")
    with pytest.raises(ParityError) as same:
        await assign("nadia")
    assert same.value.data["reason"] == "same_civility"
    assert same.value.data["names"] == "Sophie Vidal"
    with pytest.raises(ParityError) as unknown:
        await assign("anon")
    assert unknown.value.data["reason"] == "civility_unknown"
    await assign("marc")
    with pytest.raises(ParityError) as third:
        await assign("pierre")
    assert third.value.data["reason"] == "too_many"
    # An admin may override, with a reason that is kept.
    await assign("nadia", override="Intérim pendant un congé")
    async with db.read() as session:
        kept = await session.scalar(
            select(Membership.parity_override).where(Membership.user_id == ids["nadia"])
        )
        assert kept == "Intérim pendant un congé"
        report = await parity_report(session)
    assert report["binomes"][0]["problem"] == "too_many"


async def test_password_reset_is_single_use_and_ends_sessions(db: Database) -> None:
    ids = await _people(db)
    async with db.transaction() as session:
        user = await session.get(User, ids["marc"])
        assert user is not None
        await open_session(session, user)
        assert await do_request_password_reset(session, "nobody@test.atelier") is None
        found = await do_request_password_reset(session, "MARC@test.atelier")
        assert found is not None
        _, token = found
    async with db.transaction() as session:
        await do_reset_password(session, token, "un vent d'autan très fort")
    async with db.transaction() as session:
        with pytest.raises(InvalidToken):
            await do_reset_password(session, token, "encore un autre essai")
        live = await session.scalars(
            select(LoginSession).where(
                LoginSession.user_id == ids["marc"], LoginSession.revoked_at.is_(None)
            )
        )
        assert list(live) == []
        await check_password_login(session, "marc@test.atelier", "un vent d'autan très fort")
        with pytest.raises(InvalidCredentials):
            await check_password_login(session, "marc@test.atelier", "autre chose encore")


async def test_anonymised_member_messages_stay_signed_ancien_membre(db: Database) -> None:
    ids = await _people(db)
    async with db.transaction() as session:
        marc = await session.get(User, ids["marc"])
        assert marc is not None
        await do_assign_role(
            session, actor_id=ids["admin"], user=marc, grant=Grant("assembly", Role.COMITE)
        )
    async with db.transaction() as session:
        from rooms.models import Room

        room_id = await session.scalar(select(Room.id).where(Room.group_id == ids["group"]))
        access = await access_room(session, ids["marc"], room_id)
        await check_post(session, access, topic="T", source="Mon avis", client_id="c1")
    async with db.transaction() as session:
        marc = await session.get(User, ids["marc"])
        assert marc is not None
        await do_anonymise_member(session, actor_id=ids["admin"], user=marc)
    async with db.read() as session:
        marc = await session.get(User, ids["marc"])
        assert marc is not None
        assert (marc.display_name, marc.is_active) == ("Ancien membre", False)
        assert "marc" not in marc.email
        logged = await session.scalar(select(RoomEvent.data).where(RoomEvent.room_id == room_id))
        assert '"name":"Ancien membre"' in logged
        assert "Marc Roux" not in logged
