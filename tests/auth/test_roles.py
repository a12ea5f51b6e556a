"""The permission matrix: one table, read the same way everywhere."""

from __future__ import annotations

import pytest

from auth.roles import (
    PERMISSIONS,
    ROOM_PERMISSIONS,
    Permission,
    Role,
    Scope,
    allows,
    render_matrix_markdown,
    scope_of,
)

WRITE = [Permission.POST_MESSAGE, Permission.EDIT_OWN_MESSAGE, Permission.DELETE_OWN_MESSAGE,
         Permission.REACT]  # fmt: skip


@pytest.mark.parametrize("scope", list(Scope))
@pytest.mark.parametrize("role", list(Role))
def test_every_role_anywhere_reads(scope: Scope, role: Role) -> None:
    assert allows([(scope, role)], Permission.READ_ROOM)


@pytest.mark.parametrize("permission", WRITE)
def test_writing_needs_a_working_role_in_the_space(permission: Permission) -> None:
    assert not allows([(Scope.GROUP, Role.OBSERVER)], permission)
    assert not allows([(Scope.ASSEMBLY, Role.MEMBER)], permission)  # reads everywhere only
    assert allows([(Scope.ASSEMBLY, Role.MEMBER), (Scope.CHANTIER, Role.MEMBER)], permission)
    assert allows([(Scope.ASSEMBLY, Role.COMITE)], permission)


def test_assembly_actions_only_count_assembly_roles() -> None:
    assert allows([(Scope.ASSEMBLY, Role.COMITE)], Permission.INVITE_MEMBER)
    assert not allows([(Scope.GROUP, Role.COPILOTE)], Permission.INVITE_MEMBER)
    assert not allows([(Scope.ASSEMBLY, Role.COMITE)], Permission.OVERRIDE_PARITY)
    assert allows([(Scope.ASSEMBLY, Role.ADMIN)], Permission.OVERRIDE_PARITY)


def test_no_role_no_permission() -> None:
    assert not any(allows([], p) for p in Permission)


def test_scope_of_spaces() -> None:
    assert scope_of("assembly") is Scope.ASSEMBLY
    assert scope_of("group:3") is Scope.GROUP
    assert scope_of("chantier:8") is Scope.CHANTIER
    assert scope_of("room:12") is Scope.ROOM


def test_matrix_documents_every_cell() -> None:
    text = render_matrix_markdown()
    for scope in Scope:
        section = text.split("#### ")[list(Scope).index(scope) + 1]
        rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
        assert len(rows) == len(Permission)
        for permission, row in zip(Permission, rows, strict=True):
            cells = [c.strip() for c in row.strip("|").split("|")][1:]
            granted = PERMISSIONS[permission][scope]
            assert cells == ["✅" if r in granted else "—" for r in Role], (scope, permission)


def test_room_permissions_cover_every_room_action() -> None:
    prefixes = {"room", "message", "reaction", "topic", "announcement", "poll"}
    assert set(ROOM_PERMISSIONS) == {p for p in Permission if p.value.split(".")[0] in prefixes}


def test_polls_are_opened_by_copilots_and_voted_by_those_who_work_there() -> None:
    assert allows([(Scope.GROUP, Role.COPILOTE)], Permission.CREATE_POLL)
    assert allows([(Scope.ASSEMBLY, Role.COMITE)], Permission.CREATE_POLL)
    assert not allows([(Scope.GROUP, Role.MEMBER)], Permission.CREATE_POLL)
    for role in (Role.MEMBER, Role.RAPPORTEUR, Role.CO_RAPPORTEUR, Role.COPILOTE):
        assert allows([(Scope.CHANTIER, role)], Permission.VOTE)
    assert allows([(Scope.ASSEMBLY, Role.ADMIN)], Permission.VOTE)
    assert not allows([(Scope.ASSEMBLY, Role.MEMBER)], Permission.VOTE)
    for scope in Scope:
        assert not allows([(scope, Role.OBSERVER)], Permission.VOTE)
