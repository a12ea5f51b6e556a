"""Roles and the permission matrix: one table, pure data, no I/O.

A person holds roles in *spaces*: the assembly, a groupe de travail, a chantier or a room.
A role held in a space applies in every space inside it (a group's chantiers and rooms).
The matrix says, for each action, which roles grant it *according to the scope where
they are held*: a member of the assembly reads every room, but writes only where they
hold a role in the room's group, chantier or the room itself. ``rooms.access`` collects
the ``(scope, role)`` pairs that reach a room; this module answers "does any of them
allow that permission?". ``docs/permissions.md`` is rendered from :data:`PERMISSIONS`
(``atelier permissions``), and ``tests/auth/test_roles.py`` walks every cell.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COMITE = "comite"
    COPILOTE = "copilote"
    RAPPORTEUR = "rapporteur"
    CO_RAPPORTEUR = "co_rapporteur"
    MEMBER = "membre"
    OBSERVER = "observateur"


class Permission(StrEnum):
    READ_ROOM = "room.read"
    POST_MESSAGE = "message.post"
    EDIT_OWN_MESSAGE = "message.edit_own"
    DELETE_OWN_MESSAGE = "message.delete_own"
    REACT = "reaction.toggle"
    MANAGE_TOPICS = "topic.manage"
    INVITE_MEMBER = "member.invite"
    ASSIGN_ROLE = "role.assign"
    OVERRIDE_PARITY = "parity.override"
    DEACTIVATE_MEMBER = "member.deactivate"
    READ_AUDIT = "audit.read"
    READ_DRAFT = "draft.read"
    EDIT_DRAFT = "draft.edit"
    CREATE_DRAFT = "draft.create"
    LOCK_DRAFT = "draft.lock"
    COMMENT_DRAFT = "draft.comment"
    MODERATE_ROOM = "room.moderate"
    FLAG_MESSAGE = "message.flag"
    ACK_ANNOUNCEMENT = "announcement.ack"
    BLOCK_MEMBER = "member.block"
    CREATE_POLL = "poll.create"
    VOTE = "poll.vote"


class Scope(StrEnum):
    """Where a role is held; a role applies in its space and every space inside it."""

    ASSEMBLY = "assembly"
    GROUP = "group"
    CHANTIER = "chantier"
    ROOM = "room"


def scope_of(space: str) -> Scope:
    """``"group:3"`` → ``Scope.GROUP``; ``"assembly"`` → ``Scope.ASSEMBLY``."""
    return Scope(space.partition(":")[0])


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrateur·rice",
    Role.COMITE: "Comité d'animation",
    Role.COPILOTE: "Copilote",
    Role.RAPPORTEUR: "Rapporteur·e",
    Role.CO_RAPPORTEUR: "Co-rapporteur·e",
    Role.MEMBER: "Membre",
    Role.OBSERVER: "Observateur·rice",
}

PERMISSION_LABELS: dict[Permission, str] = {
    Permission.READ_ROOM: "Lire un salon et son historique",
    Permission.POST_MESSAGE: "Écrire un message (et répondre)",
    Permission.EDIT_OWN_MESSAGE: "Modifier ses propres messages",
    Permission.DELETE_OWN_MESSAGE: "Supprimer ses propres messages",
    Permission.REACT: "Ajouter ou retirer une réaction",
    Permission.MANAGE_TOPICS: "Renommer un sujet, déplacer des messages entre sujets",
    Permission.INVITE_MEMBER: "Inviter une personne dans l'assemblée",
    Permission.ASSIGN_ROLE: "Attribuer ou retirer un rôle, fixer un mandat",
    Permission.OVERRIDE_PARITY: "Passer outre la parité d'un binôme (avec motif)",
    Permission.DEACTIVATE_MEMBER: "Désactiver ou anonymiser un compte",
    Permission.READ_AUDIT: "Consulter le journal d'audit",
    Permission.READ_DRAFT: "Lire un brouillon, ses versions, l'exporter",
    Permission.EDIT_DRAFT: "Écrire dans un brouillon, nommer et restaurer des versions",
    Permission.CREATE_DRAFT: "Créer un brouillon",
    Permission.LOCK_DRAFT: "Figer ou rouvrir un brouillon",
    Permission.COMMENT_DRAFT: "Commenter un brouillon, y proposer une modification",
    Permission.MODERATE_ROOM: (
        "Modérer un salon (masquer, épingler, verrouiller, annonces, sourdine, retrait…)"
    ),
    Permission.FLAG_MESSAGE: "Signaler un message à la modération",
    Permission.ACK_ANNOUNCEMENT: "Prendre connaissance d'une annonce (accusé de lecture)",
    Permission.BLOCK_MEMBER: "Bloquer un membre dans toute l'assemblée (lecture seule)",
    Permission.CREATE_POLL: "Ouvrir, programmer, prolonger et clore un vote dans un salon",
    Permission.VOTE: "Voter et donner procuration (les observateur·rices ne votent jamais)",
}

SCOPE_LABELS: dict[Scope, str] = {
    Scope.ASSEMBLY: "Rôle tenu dans l'assemblée",
    Scope.GROUP: "Rôle tenu dans un groupe de travail (vaut pour ses chantiers et salons)",
    Scope.CHANTIER: "Rôle tenu dans un chantier (vaut pour ses salons)",
    Scope.ROOM: "Rôle tenu dans un salon",
}

_ALL = frozenset(Role)
_NONE: frozenset[Role] = frozenset()
_ASSEMBLY_WIDE = frozenset({Role.ADMIN, Role.COMITE})
_LOCAL_WRITERS = frozenset({Role.COPILOTE, Role.RAPPORTEUR, Role.CO_RAPPORTEUR, Role.MEMBER})
_DRAFT_WRITERS = frozenset({Role.COPILOTE, Role.RAPPORTEUR, Role.CO_RAPPORTEUR})


def _room_action(local: frozenset[Role]) -> dict[Scope, frozenset[Role]]:
    return {
        Scope.ASSEMBLY: _ASSEMBLY_WIDE,
        Scope.GROUP: local,
        Scope.CHANTIER: local,
        Scope.ROOM: local,
    }


def _draft_action(local: frozenset[Role]) -> dict[Scope, frozenset[Role]]:
    # Drafts belong to a group or chantier: a role held in one room does not reach them.
    return {
        Scope.ASSEMBLY: _ASSEMBLY_WIDE,
        Scope.GROUP: local,
        Scope.CHANTIER: local,
        Scope.ROOM: _NONE,
    }


def _assembly_action(roles: frozenset[Role]) -> dict[Scope, frozenset[Role]]:
    return {Scope.ASSEMBLY: roles, Scope.GROUP: _NONE, Scope.CHANTIER: _NONE, Scope.ROOM: _NONE}


# The permission matrix: action × scope where the role is held × role. Every check in
# Atelier (HTTP views, WebSocket frames) goes through :func:`allows` on this table.
# Reading is open to the whole assembly (its members read every room: the statute wants
# the groups to inform one another); writing is for those who work in the space.
PERMISSIONS: dict[Permission, dict[Scope, frozenset[Role]]] = {
    Permission.READ_ROOM: dict.fromkeys(Scope, _ALL),
    Permission.POST_MESSAGE: _room_action(_LOCAL_WRITERS),
    Permission.EDIT_OWN_MESSAGE: _room_action(_LOCAL_WRITERS),
    Permission.DELETE_OWN_MESSAGE: _room_action(_LOCAL_WRITERS),
    Permission.REACT: _room_action(_LOCAL_WRITERS),
    Permission.MANAGE_TOPICS: _room_action(frozenset({Role.COPILOTE})),
    Permission.INVITE_MEMBER: _assembly_action(_ASSEMBLY_WIDE),
    Permission.ASSIGN_ROLE: _assembly_action(_ASSEMBLY_WIDE),
    Permission.OVERRIDE_PARITY: _assembly_action(frozenset({Role.ADMIN})),
    Permission.DEACTIVATE_MEMBER: _assembly_action(frozenset({Role.ADMIN})),
    Permission.READ_AUDIT: _assembly_action(_ASSEMBLY_WIDE),
    # Drafts: rapporteurs and copilots write the reports; members read them (and edit
    # when the draft is opened to members, which adds ``membre`` at the edit check).
    Permission.READ_DRAFT: {**_draft_action(_ALL), Scope.ASSEMBLY: _ALL},
    Permission.EDIT_DRAFT: _draft_action(_DRAFT_WRITERS),
    Permission.CREATE_DRAFT: _draft_action(_DRAFT_WRITERS),
    Permission.LOCK_DRAFT: _draft_action(_DRAFT_WRITERS),
    Permission.COMMENT_DRAFT: _draft_action(_LOCAL_WRITERS),
    # Moderation: the binôme copilote in its group (and chantiers), the comité and the
    # administrators everywhere. Members who work in the space flag messages; the whole
    # audience of a room (observers included) acknowledges its announcements.
    Permission.MODERATE_ROOM: _room_action(frozenset({Role.COPILOTE})),
    Permission.FLAG_MESSAGE: _room_action(_LOCAL_WRITERS),
    Permission.ACK_ANNOUNCEMENT: _room_action(_ALL),
    Permission.BLOCK_MEMBER: _assembly_action(_ASSEMBLY_WIDE),
    # Polls: the binôme copilote opens and closes them; those who work in the space vote.
    Permission.CREATE_POLL: _room_action(frozenset({Role.COPILOTE})),
    Permission.VOTE: _room_action(_LOCAL_WRITERS),
}

ROOM_PERMISSIONS = (
    Permission.READ_ROOM,
    Permission.POST_MESSAGE,
    Permission.EDIT_OWN_MESSAGE,
    Permission.DELETE_OWN_MESSAGE,
    Permission.REACT,
    Permission.MANAGE_TOPICS,
    Permission.MODERATE_ROOM,
    Permission.FLAG_MESSAGE,
    Permission.ACK_ANNOUNCEMENT,
    Permission.CREATE_POLL,
    Permission.VOTE,
)

DRAFT_PERMISSIONS = (
    Permission.READ_DRAFT,
    Permission.EDIT_DRAFT,
    Permission.CREATE_DRAFT,
    Permission.LOCK_DRAFT,
    Permission.COMMENT_DRAFT,
)

Held = Iterable[tuple[Scope, Role]]


def allows(held: Held, permission: Permission) -> bool:
    """True when one of the ``(scope, role)`` pairs held grants ``permission``."""
    return _allows(held if isinstance(held, frozenset) else frozenset(held), permission)


@functools.lru_cache(maxsize=4096)
def _allows(held: frozenset[tuple[Scope, Role]], permission: Permission) -> bool:
    """Remembered: a socket's kept access asks at every frame, and an assembly holds a
    handful of distinct role sets."""
    cells = PERMISSIONS[permission]
    return any(role in cells[scope] for scope, role in held)


def render_matrix_markdown() -> str:
    """The matrix as Markdown tables, one per scope (the body of ``docs/permissions.md``)."""
    roles = list(Role)
    out: list[str] = []
    for scope in Scope:
        out += [f"#### {SCOPE_LABELS[scope]}", ""]
        out.append("| Action | " + " | ".join(ROLE_LABELS[r] for r in roles) + " |")
        out.append("|---|" + "|".join(":-:" for _ in roles) + "|")
        for permission in Permission:
            cells = PERMISSIONS[permission][scope]
            marks = " | ".join("✅" if r in cells else "—" for r in roles)
            out.append(f"| {PERMISSION_LABELS[permission]} (`{permission.value}`) | {marks} |")
        out.append("")
    return "\n".join(out)
