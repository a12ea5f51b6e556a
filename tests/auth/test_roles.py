"""The permission matrix: one table, read the same way everywhere."""

from __future__ import annotations

import pytest

from auth.roles import PERMISSIONS, Permission, Role, allows, render_matrix_markdown

WRITE = [Permission.POST_MESSAGE, Permission.EDIT_OWN_MESSAGE, Permission.DELETE_OWN_MESSAGE,
         Permission.REACT]  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
def test_everyone_with_a_role_reads(role: Role) -> None:
    assert allows([role], Permission.READ_ROOM)


@pytest.mark.parametrize("permission", WRITE)
def test_observers_only_read(permission: Permission) -> None:
    assert not allows([Role.OBSERVER], permission)
    assert allows([Role.OBSERVER, Role.MEMBER], permission)


def test_only_copilots_comite_and_admins_manage_topics() -> None:
    assert PERMISSIONS[Permission.MANAGE_TOPICS] == {Role.ADMIN, Role.COMITE, Role.COPILOTE}
    assert not allows([Role.MEMBER, Role.RAPPORTEUR, Role.CO_RAPPORTEUR], Permission.MANAGE_TOPICS)


def test_no_role_no_permission() -> None:
    assert not any(allows([], p) for p in Permission)


def test_matrix_documents_every_cell() -> None:
    table = render_matrix_markdown().splitlines()
    assert len(table) == 2 + len(Permission)
    for permission, row in zip(Permission, table[2:], strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert cells == ["✅" if r in PERMISSIONS[permission] else "—" for r in Role]
