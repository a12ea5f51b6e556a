"""Roles and the permission matrix: one table, pure data, no I/O.

A person holds roles in *spaces*: the assembly, a groupe de travail, a chantier or a room.
``rooms.access`` resolves which roles apply in a given room (assembly roles apply
everywhere, group roles apply to the group's chantiers, an assembly member with no role
in the space is an observer there); this module only answers "does any of these roles
allow that permission?". ``docs/permissions.md`` is rendered from :data:`PERMISSIONS`
(``atelier permissions``), and ``tests/auth/test_roles.py`` walks every cell.
"""

from __future__ import annotations

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
}

_WRITERS = frozenset(
    {Role.ADMIN, Role.COMITE, Role.COPILOTE, Role.RAPPORTEUR, Role.CO_RAPPORTEUR, Role.MEMBER}
)

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.READ_ROOM: frozenset(Role),
    Permission.POST_MESSAGE: _WRITERS,
    Permission.EDIT_OWN_MESSAGE: _WRITERS,
    Permission.DELETE_OWN_MESSAGE: _WRITERS,
    Permission.REACT: _WRITERS,
    Permission.MANAGE_TOPICS: frozenset({Role.ADMIN, Role.COMITE, Role.COPILOTE}),
}


def allows(roles: Iterable[Role], permission: Permission) -> bool:
    """True when at least one of ``roles`` grants ``permission``."""
    granted = PERMISSIONS[permission]
    return any(role in granted for role in roles)


def render_matrix_markdown() -> str:
    """The matrix as a Markdown table (the body of ``docs/permissions.md``)."""
    roles = list(Role)
    head = "| Action | " + " | ".join(ROLE_LABELS[r] for r in roles) + " |"
    sep = "|---|" + "|".join(":-:" for _ in roles) + "|"
    rows = [
        f"| {PERMISSION_LABELS[p]} (`{p.value}`) | "
        + " | ".join("✅" if r in PERMISSIONS[p] else "—" for r in roles)
        + " |"
        for p in Permission
    ]
    return "\n".join([head, sep, *rows]) + "\n"
