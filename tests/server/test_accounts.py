"""Invitations, password reset, profile and member administration over real HTTP + SMTP."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from auth.models import AuditEvent, User
from rooms.models import Membership
from tests.conftest import live_server
from tests.factories import PASSWORD, build_world
from tests.forms import post_form
from tests.mailbox import smtp_server
from tests.wsclient import ProtocolClient


async def test_comite_invites_a_member_who_accepts_by_mail(database_url: str) -> None:
    async with (
        smtp_server() as (mailbox, smtp_url),
        live_server(database_url, smtp_url=smtp_url) as server,
    ):
        world = await build_world(server.state.db)
        async with httpx.AsyncClient(base_url=server.base_url) as admin:
            admin.cookies.set("atelier_session", world.cookies["admin"])
            page = await admin.get("/admin/membres")
            assert page.status_code == 200
            assert "Parité des binômes" in page.text
            sent = await post_form(
                admin,
                "/admin/invitations",
                {
                    "email": "lea.martin@exemple.fr",
                    "display_name": "Léa Martin",
                    "civility": "mme",
                    "territory": "Pays Lauragais",
                    "space": "group:1",
                    "role": "membre",
                },
            )
            assert sent.status_code == 303
            again = await post_form(
                admin,
                "/admin/invitations",
                {"email": "marie@test.atelier", "display_name": "Marie Dupont"},
            )
            assert again.status_code == 422
            assert "already_member" in again.text or "déjà" in again.text or "email" in again.text
        mail = await mailbox.wait_for("lea.martin@exemple.fr")
        assert "Invitation" in mail["Subject"]
        link = urlsplit(mailbox.link(mail))
        async with httpx.AsyncClient(base_url=server.base_url) as lea:
            form = await lea.get(link.path)
            assert form.status_code == 200
            assert "Léa Martin" in form.text
            weak = await post_form(
                lea, link.path, {"password": "azertyuiop123", "password_confirm": "azertyuiop123"}
            )
            assert weak.status_code == 422
            assert "répandus" in weak.text
            accepted = await post_form(
                lea,
                link.path,
                {"password": "la garrigue en été", "password_confirm": "la garrigue en été"},
            )
            assert accepted.status_code == 303
            home = await lea.get("/")
            assert home.status_code == 200
            assert "Groupe 1" in home.text
            token = lea.cookies["atelier_session"]
            used = await lea.get(link.path)
            assert used.status_code == 410
        member = await ProtocolClient.connect(server.ws_url, token)
        posted = await member.post(world.group_room, "Bonjour à toutes et à tous")
        assert posted["type"] == "ack"
        await member.close()


async def test_password_reset_by_mail(database_url: str) -> None:
    async with (
        smtp_server() as (mailbox, smtp_url),
        live_server(database_url, smtp_url=smtp_url) as server,
    ):
        await build_world(server.state.db)
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            unknown = await post_form(http, "/mot-de-passe/oublie", {"email": "nobody@x.fr"})
            known = await post_form(http, "/mot-de-passe/oublie", {"email": "marie@test.atelier"})
            assert unknown.status_code == known.status_code == 200
            assert "Si cette adresse correspond" in unknown.text
            mail = await mailbox.wait_for("marie@test.atelier")
            assert len(mailbox.messages) == 1  # nothing for the unknown address
            path = urlsplit(mailbox.link(mail)).path
            changed = await post_form(
                http, path, {"password": "le vent d'autan", "password_confirm": "le vent d'autan"}
            )
            assert changed.status_code == 303
            assert (await http.get("/profil")).status_code == 200
            assert (await http.get(path)).status_code == 410
        async with httpx.AsyncClient(base_url=server.base_url) as fresh:
            old = await post_form(
                fresh, "/connexion", {"email": "marie@test.atelier", "password": PASSWORD}
            )
            assert old.status_code == 401
            new = await post_form(
                fresh, "/connexion", {"email": "marie@test.atelier", "password": "le vent d'autan"}
            )
            assert new.status_code == 303


async def test_profile_export_and_deletion(database_url: str) -> None:
    async with live_server(database_url) as server:
        world = await build_world(server.state.db)
        marie = await ProtocolClient.connect(server.ws_url, world.cookies["marie"])
        await marie.post(world.group_room, "Ma contribution")
        await marie.close()
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            http.cookies.set("atelier_session", world.cookies["marie"])
            saved = await post_form(
                http,
                "/profil",
                {"display_name": "Marie Dupont-Sol", "civility": "mme", "locale": "fr"},
            )
            assert saved.status_code == 303
            exported = await http.get("/profil/export.json")
            data = json.loads(exported.text)
            assert data["account"]["display_name"] == "Marie Dupont-Sol"
            assert [m["source"] for m in data["messages"]] == ["Ma contribution"]
            refused = await post_form(http, "/profil/suppression", {"confirm_email": "x@y.fr"})
            assert refused.status_code == 422
            gone = await post_form(
                http, "/profil/suppression", {"confirm_email": "marie@test.atelier"}
            )
            assert gone.status_code == 303
            assert (await http.get("/api/unread")).status_code == 401
        async with server.state.db.read() as session:
            user = await session.get(User, world.id("marie"))
            assert user is not None
            assert user.display_name == "Ancien membre"
        async with httpx.AsyncClient(base_url=server.base_url) as other:
            other.cookies.set("atelier_session", world.cookies["paul"])
            page = (await other.get(f"/api/rooms/{world.group_room}/messages")).json()
            assert page["messages"][0]["author"]["name"] == "Ancien membre"


async def test_members_cannot_administer(database_url: str) -> None:
    async with live_server(database_url) as server:
        world = await build_world(server.state.db)
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            http.cookies.set("atelier_session", world.cookies["copilote"])
            assert (await http.get("/admin/membres")).status_code == 403
            refused = await post_form(
                http,
                "/admin/roles",
                {"user_id": world.id("paul"), "space": "assembly", "role": "admin"},
            )
            assert refused.status_code == 403
        async with server.state.db.read() as session:
            roles = set(
                await session.scalars(
                    select(Membership.role).where(Membership.user_id == world.id("paul"))
                )
            )
        assert roles == {"membre"}


async def test_role_assignment_checks_parity_and_logs(database_url: str) -> None:
    async with live_server(database_url) as server:
        world = await build_world(server.state.db)
        async with server.state.db.transaction() as session:
            for who, civility in (("copilote", "mme"), ("marie", "mme"), ("paul", "m")):
                user = await session.get(User, world.id(who))
                assert user is not None
                user.civility = civility
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            http.cookies.set("atelier_session", world.cookies["admin"])
            same = await post_form(
                http, "/admin/roles",
                {"user_id": world.id("marie"), "space": "group:1", "role": "copilote"},
            )  # fmt: skip
            assert same.status_code == 409 or same.status_code == 422
            assert "une femme et un homme" in same.text
            ok = await post_form(
                http, "/admin/roles",
                {"user_id": world.id("paul"), "space": "group:1", "role": "copilote",
                 "ends_on": "2027-06-30"},
            )  # fmt: skip
            assert ok.status_code == 303
            page = await http.get("/admin/membres")
            assert "respectée" in page.text
            journal = await http.get("/admin/journal")
            assert "Rôle attribué" in journal.text
        async with server.state.db.read() as session:
            actions = list(await session.scalars(select(AuditEvent.action)))
        assert "role.granted" in actions
