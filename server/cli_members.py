"""``atelier admin create``, ``atelier admin invite``, ``atelier members list``.

For the operator at the server: create the first administrator, invite someone when
the web is not at hand, list who holds which role. Output is plain French text, one
line per fact, so it reads well and pipes well.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import func, select

from auth.actions import do_create_user
from auth.errors import AuthError
from auth.models import User
from auth.passwords import check_password_policy
from auth.roles import ROLE_LABELS, Role
from rooms.actions.members import Grant, clean_email, clean_name, do_assign_role, do_invite
from rooms.models import Membership
from server.broker.memory import MemoryBroker
from server.config import Settings
from server.database import Database, make_engine
from server.errors import describe
from server.mailer import Mail, create_mailer


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = sub.add_parser("admin", help="comptes d'administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="créer un compte administrateur")
    create.add_argument("email")
    create.add_argument("name", help="nom affiché, entre guillemets")
    create.add_argument("--civility", choices=["mme", "m"])
    create.add_argument(
        "--password-stdin", action="store_true", help="lire le mot de passe sur l'entrée"
    )
    invite = admin_sub.add_parser("invite", help="inviter une personne (envoie le courriel)")
    invite.add_argument("email")
    invite.add_argument("name")
    invite.add_argument("--civility", choices=["mme", "m"])
    invite.add_argument("--territory", default="")
    invite.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ESPACE=RÔLE",
        help="ex. group:3=copilote (répétable ; l'assemblée est toujours donnée)",
    )
    invite.add_argument("--url", default="", help="adresse publique pour le lien")
    members = sub.add_parser("members", help="membres")
    members_sub = members.add_subparsers(dest="members_command", required=True)
    members_sub.add_parser("list", help="lister les membres et leurs rôles")


def _grants(specs: list[str]) -> list[Grant]:
    grants = []
    for spec in specs:
        space, _, role = spec.partition("=")
        try:
            grants.append(Grant(space.strip(), Role(role.strip())))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise SystemExit(f"Rôle inconnu dans « {spec} » : {known}") from None
    return grants


async def run(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(make_engine(settings.database_url), MemoryBroker())
    try:
        if args.command == "members":
            return await _list(db)
        if args.admin_command == "create":
            return await _create_admin(db, args)
        return await _invite(db, args, settings)
    except AuthError as exc:
        print(f"Refusé : {describe(exc)[1]}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()


async def _create_admin(db: Database, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Mot de passe : ")
        if password != getpass.getpass("Confirmez : "):
            print("Les deux saisies diffèrent.", file=sys.stderr)
            return 2
    email, name = clean_email(args.email), clean_name(args.name)
    check_password_policy(password, email=email, display_name=name)
    async with db.transaction() as session:
        if await session.scalar(select(User.id).where(func.lower(User.email) == email)):
            print(f"Un compte existe déjà pour {email}.", file=sys.stderr)
            return 2
        user = await do_create_user(
            session, email=email, display_name=name, password=password, civility=args.civility
        )
        await do_assign_role(
            session, actor_id=user.id, user=user, grant=Grant("assembly", Role.ADMIN)
        )
    print(f"Compte administrateur créé : {name} <{email}>.")
    return 0


async def _invite(db: Database, args: argparse.Namespace, settings: Settings) -> int:
    async with db.transaction() as session:
        invitation, token = await do_invite(
            session,
            actor_id=None,
            email=args.email,
            display_name=args.name,
            civility=args.civility,
            territory=args.territory,
            grants=_grants(args.role),
        )
    base = (args.url or settings.public_url or f"http://{settings.host}:{settings.port}").rstrip(
        "/"
    )
    link = f"{base}/invitation/{token}"
    mailer = create_mailer(settings.smtp_url, settings.mail_from, settings.mail_outbox_dir)
    await mailer.send(
        Mail(
            to=invitation.email,
            subject="Invitation à rejoindre l'Assemblée des Territoires sur Atelier",
            text=(
                f"Bonjour {invitation.display_name},\n\nVous êtes invité·e à rejoindre "
                "Atelier, l'espace de travail de l'Assemblée des Territoires.\n"
                f"Pour créer votre accès, ouvrez ce lien (valable 14 jours) :\n{link}\n"
            ),
        )
    )
    print(f"Invitation envoyée à {invitation.email}.")
    print(f"Lien (valable 14 jours) : {link}")
    return 0


async def _list(db: Database) -> int:
    async with db.read() as session:
        users = list(await session.scalars(select(User).order_by(User.display_name)))
        memberships = list(await session.scalars(select(Membership).order_by(Membership.space)))
    roles: dict[int, list[str]] = {}
    for m in memberships:
        until = f" jusqu'au {m.ends_on:%d/%m/%Y}" if m.ends_on else ""
        roles.setdefault(m.user_id, []).append(f"{ROLE_LABELS[Role(m.role)]} ({m.space}){until}")
    shown = [u for u in users if u.anonymised_at is None]
    for user in shown:
        state = "" if user.is_active else " [désactivé]"
        print(f"{user.display_name} <{user.email}>{state}")
        for line in roles.get(user.id, []) or ["aucun rôle"]:
            print(f"    {line}")
    print(f"{len(shown)} membre(s).")
    return 0
