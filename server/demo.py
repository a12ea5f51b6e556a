"""The demo assembly: the real structure of the Assemblée des Territoires (4 groupes de
travail, 8 chantiers, the 4 saisines of Frontignan, 31 March 2017) with fictitious
members, copilot pairs, rapporteurs and a few messages. Built only through actions, so
it is also a check that the actions compose.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.actions import do_create_user
from auth.models import User
from auth.roles import Role
from documents.actions import do_create_draft, do_name_version, template_from_questions
from rooms.access import RoomAccess, access_room
from rooms.actions import polls
from rooms.actions.messages import check_post
from rooms.actions.structure import (
    do_create_chantier,
    do_create_group,
    do_create_saisine,
    do_grant_role,
)
from rooms.models import Group, Room, Saisine

DEMO_PASSWORD = "atelier-demo"  # noqa: S105 - documented demo credential
DEMO_DOMAIN = "demo.atelier.test"

GROUPS = [
    (
        "Attractivité et Innovation",
        "Tourisme, thermalisme, économie-emploi, agriculture, industrie, innovation-recherche, "
        "mobilités, culture, Europe",
        [
            "Tourisme et impact des résidences secondaires",
            "Usages numériques et collaboratifs et développement territorial",
        ],
    ),
    (
        "Qualité de vie et Cohésion sociale",
        "Urbanisme-foncier-habitat, patrimoine, vie associative, formation, jeunesse, sports, "
        "santé, égalité femmes/hommes",
        ["Bonheur sociétal et bien-être territorial", "Le tourisme expérientiel"],
    ),
    (
        "Solidarités Territoriales",
        "Aménagement du territoire, ruralité, montagne, Méditerranée, services publics, accueil "
        "de nouvelles populations, politique de la ville",
        ["Attirer de nouvelles populations", "La politique des bourgs-centres"],
    ),
    (
        "Territoires en transition durable",
        "Prévention des risques, eau-air-sols, transition écologique et énergétique, "
        "biodiversité, économie circulaire, déchets, mobilités",
        [
            "L'appropriation locale de la production d'énergies renouvelables",
            "Les circuits alimentaires de proximité en restauration collective",
        ],
    ),
]

SAISINES = [
    (
        "Politique des bourgs-centres",
        (3, 2),
        "Contribution attendue en 2017",
        [
            "Comment renforcer l'attractivité des bourgs-centres pour l'économie et l'emploi ?",
            "Quelles fonctions assurent-ils pour les territoires qui les entourent ?",
            "Comment améliorer les conditions de vie (logement, services) ?",
            "Quel rôle dans la transition écologique et énergétique ?",
            "Quelle méthode pour construire un projet global de développement ?",
        ],
    ),
    (
        "Tourisme expérientiel",
        (2, 2),
        "Pour le schéma régional du tourisme (juin 2017)",
        [
            "Quels acteurs publics et privés mobiliser ?",
            "Quels rôles et quelles complémentarités entre eux ?",
            "Quelles collaborations, et comment les encourager ?",
        ],
    ),
    (
        "Circuits alimentaires de proximité en restauration collective",
        (4, 2),
        "À partir du 1er trimestre 2018",
        [
            "État des lieux : outils, méthodes, projets, formations.",
            "Quels outils et moyens pour multiplier les initiatives réussies ?",
            "Quelles propositions pour mettre en réseau les initiatives locales ?",
        ],
    ),
    (
        "Usages numériques et collaboratifs",
        (1, 2),
        "Septembre 2017",
        ["Quelles conditions de réussite pour les tiers-lieux ?"],
    ),
]

# (name, civility, territory, [(space, role)]) — spaces: "assembly", "g<n>", "c<n>.<m>".
PEOPLE = [
    ("Administration Atelier", None, "Région Occitanie", [("assembly", Role.ADMIN)]),
    (
        "Hélène Marty",
        "mme",
        "PETR du Pays Lauragais",
        [("assembly", Role.COMITE), ("g3", Role.MEMBER)],
    ),
    (
        "Jean-Pierre Castan",
        "m",
        "Parc naturel régional des Grands Causses",
        [("assembly", Role.COMITE), ("g4", Role.MEMBER)],
    ),
    ("Sophie Vidal", "mme", "Montpellier Méditerranée Métropole", [("g1", Role.COPILOTE)]),
    ("Marc Roux", "m", "Pays Cœur d'Hérault", [("g1", Role.COPILOTE)]),
    ("Claire Fabre", "mme", "Communauté d'agglomération de l'Albigeois", [("g2", Role.COPILOTE)]),
    ("Thomas Garcia", "m", "PETR Pays des Nestes", [("g2", Role.COPILOTE)]),
    ("Nadia Benali", "mme", "Toulouse Métropole", [("g3", Role.COPILOTE)]),
    ("Pierre Rouquette", "m", "Pays de Figeac", [("g3", Role.COPILOTE)]),
    ("Isabelle Costes", "mme", "Parc naturel régional du Haut-Languedoc", [("g4", Role.COPILOTE)]),
    ("Julien Bernard", "m", "GAL Pyrénées catalanes", [("g4", Role.COPILOTE)]),
    (
        "Anne Lafont",
        "mme",
        "Pays Pyrénées Méditerranée",
        [("g1", Role.MEMBER), ("c1.1", Role.RAPPORTEUR)],
    ),
    (
        "Luc Mercier",
        "m",
        "Pays Haut Languedoc et Vignobles",
        [("g1", Role.MEMBER), ("c1.2", Role.RAPPORTEUR)],
    ),
    (
        "Lucie Morel",
        "mme",
        "PETR du Pays d'Armagnac",
        [("g2", Role.MEMBER), ("c2.1", Role.RAPPORTEUR)],
    ),
    (
        "Henri Barthe",
        "m",
        "Pays des Pyrénées Cathares",
        [("g2", Role.MEMBER), ("c2.2", Role.RAPPORTEUR)],
    ),
    ("Élodie Cazals", "mme", "Pays Midi-Quercy", [("g3", Role.MEMBER), ("c3.1", Role.RAPPORTEUR)]),
    (
        "Marie Dupont",
        "mme",
        "Communauté de communes Causses et Vallée de la Dordogne",
        [("g3", Role.MEMBER), ("c3.2", Role.RAPPORTEUR)],
    ),
    (
        "Paul Sicard",
        "m",
        "Pays de la Vallée de la Dordogne lotoise",
        [("g3", Role.MEMBER), ("c3.2", Role.CO_RAPPORTEUR)],
    ),
    (
        "François Py",
        "m",
        "PETR du Pays Ruthénois",
        [("g4", Role.MEMBER), ("c4.1", Role.RAPPORTEUR)],
    ),
    (
        "Martine Sarda",
        "mme",
        "Pays Corbières Minervois",
        [("g4", Role.MEMBER), ("c4.2", Role.RAPPORTEUR)],
    ),
    ("Olivier Gay", "m", "Pays Comminges Pyrénées", [("g3", Role.MEMBER), ("g1", Role.MEMBER)]),
    ("Sylvie Lacombe", "mme", "Pays Val d'Adour", [("g2", Role.MEMBER), ("g4", Role.MEMBER)]),
    ("Louise Fournier", "mme", "Services de la Région", [("observer", Role.OBSERVER)]),
]

MESSAGES = [
    (
        "La politique des bourgs-centres",
        "Marie Dupont",
        "Calendrier",
        "Bonjour à toutes et à tous ! Je propose une première réunion en visio **jeudi 14 h** "
        "pour lancer notre contribution sur la saisine *bourgs-centres*.",
    ),
    (
        "La politique des bourgs-centres",
        "Paul Sicard",
        "Calendrier",
        "Jeudi me va. @**Marie Dupont**, je peux préparer la synthèse des retours "
        "de nos territoires.",
    ),
    (
        "La politique des bourgs-centres",
        "Pierre Rouquette",
        "Retours de terrain",
        "À Figeac, la revitalisation du centre passe d'abord par le **logement** :\n"
        "- réhabilitation des logements vacants ;\n- commerces en rez-de-chaussée ;\n"
        "- maison de santé.",
    ),
    (
        "Solidarités Territoriales",
        "Nadia Benali",
        "Organisation du groupe",
        "Bienvenue dans le salon du groupe 3. Les deux chantiers ont chacun leur salon ; "
        "ici, on coordonne.",
    ),
    (
        "Le tourisme expérientiel",
        "Henri Barthe",
        "Acteurs à mobiliser",
        "Première liste d'acteurs : offices de tourisme, gîtes, producteurs, associations "
        "patrimoniales. Qui complète ?",
    ),
]


def _email(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    local = ".".join(ascii_name.lower().replace("'", "").split())
    return f"{local}@{DEMO_DOMAIN}"


async def is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(User))) == 0


async def load_demo(session: AsyncSession) -> dict[str, str]:
    """Create the demo assembly in ``session``; returns sign-ins to show (email → role)."""
    spaces: dict[str, str] = {"assembly": "assembly", "observer": "assembly"}
    chantiers = {}
    for g_number, (title, themes, chantier_titles) in enumerate(GROUPS, start=1):
        group = await do_create_group(
            session, number=g_number, slug=f"groupe-{g_number}", title=title, themes=themes
        )
        spaces[f"g{g_number}"] = f"group:{group.id}"
        for c_number, c_title in enumerate(chantier_titles, start=1):
            chantier = await do_create_chantier(
                session,
                group,
                number=c_number,
                slug=f"chantier-{g_number}-{c_number}",
                title=c_title,
            )
            spaces[f"c{g_number}.{c_number}"] = f"chantier:{chantier.id}"
            chantiers[(g_number, c_number)] = chantier
    for number, (title, key, due, questions) in enumerate(SAISINES, start=1):
        await do_create_saisine(
            session,
            number=number,
            title=title,
            questions=questions,
            due_label=due,
            chantier=chantiers[key],
        )
    users: dict[str, User] = {}
    for name, civility, territory, grants in PEOPLE:
        user = await do_create_user(
            session,
            email=_email(name),
            display_name=name,
            password=DEMO_PASSWORD,
            civility=civility,
            territory=territory,
        )
        users[name] = user
        if not any(space in ("assembly", "observer") for space, _ in grants):
            await do_grant_role(session, user.id, "assembly", Role.MEMBER)
        for space, role in grants:
            await do_grant_role(session, user.id, spaces[space], role)
    for room_name, author, topic, body in MESSAGES:
        room = await session.scalar(select(Room).where(Room.name == room_name))
        assert room is not None  # noqa: S101 - demo data is static
        access = await access_room(session, users[author].id, room.id)
        await check_post(session, access, topic=topic, source=body, client_id=str(uuid.uuid4()))
    await _demo_draft(session, users, spaces)
    await _demo_polls(session, users)
    return {
        _email("Marie Dupont"): "rapporteure, groupe 3",
        _email("Sophie Vidal"): "copilote, groupe 1",
        _email("Hélène Marty"): "comité d'animation",
        _email("Louise Fournier"): "observatrice (lecture seule)",
        _email("Administration Atelier"): "administration (membres et rôles)",
    }


DRAFT_INTRO = """
Les bourgs-centres structurent la vie quotidienne de nos territoires ruraux : commerces,
services, santé, écoles. Ce rapport rassemble les retours des membres du chantier.
"""


async def _demo_draft(
    session: AsyncSession, users: dict[str, User], spaces: dict[str, str]
) -> None:
    """The chantier 3.2 report, started from saisine 1's questions, with a first version."""
    saisine = await session.scalar(select(Saisine).where(Saisine.number == 1))
    assert saisine is not None  # noqa: S101 - demo data is static
    title = "Contribution sur la politique des bourgs-centres"
    text = template_from_questions(title, list(saisine.questions))
    text = text.replace(f"# {title}\n", f"# {title}\n{DRAFT_INTRO}", 1)
    draft = await do_create_draft(
        session,
        space=spaces["c3.2"],
        title=title,
        author_id=users["Marie Dupont"].id,
        initial_text=text,
        saisine_id=saisine.id,
    )
    await do_name_version(
        session, draft, label="Plan de travail", author_id=users["Marie Dupont"].id
    )


async def _demo_polls(session: AsyncSession, users: dict[str, User]) -> None:
    """Group 1's room: a closed consent poll with its result, and an open date poll."""
    room = await session.scalar(
        select(Room)
        .join(Group, Group.id == Room.group_id)
        .where(Group.number == 1, Room.chantier_id.is_(None))
    )
    assert room is not None  # noqa: S101 - demo data is static

    async def access(name: str) -> RoomAccess:
        return await access_room(session, users[name].id, room.id)

    method, _ = await polls.check_create(
        session,
        await access("Marc Roux"),
        topic="Méthode de travail",
        kind="consent",
        question="Adopter notre méthode : deux réunions par mois et un compte rendu partagé ?",
        options=[],
        settings={"reasons": "dissent"},
        secret=False,
        visibility="live",
    )
    for name, position in (
        ("Marc Roux", "pour"),
        ("Sophie Vidal", "pour"),
        ("Olivier Gay", "abstention"),
    ):
        await polls.check_vote(
            session, await access(name), poll_id=method, ballot={"position": position}
        )
    await polls.check_close(
        session,
        await access("Marc Roux"),
        poll_id=method,
        outcome="Méthode adoptée : la première réunion se tient la semaine prochaine.",
    )
    meeting, _ = await polls.check_create(
        session,
        await access("Sophie Vidal"),
        topic="Calendrier",
        kind="date",
        question="Quand tenir la prochaine réunion du groupe en visio ?",
        options=["Mardi, 14 h", "Jeudi, 10 h", "Vendredi, 17 h"],
        settings={},
        secret=False,
        visibility="live",
        closes_in_minutes=7 * 24 * 60,
        remind_minutes=24 * 60,
    )
    await polls.check_vote(
        session,
        await access("Marc Roux"),
        poll_id=meeting,
        ballot={"Mardi, 14 h": "oui", "Jeudi, 10 h": "si besoin", "Vendredi, 17 h": "non"},
    )
