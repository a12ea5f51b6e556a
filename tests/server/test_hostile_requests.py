"""HTTP input a hostile or broken client could send: ids no row can have, NUL characters.

On PostgreSQL every integer column is 32-bit and text cannot hold a NUL character, so
such input used to reach the driver and come back as a 500. Each is now a 404 (an id
in a path matches no route), a 400 (a query parameter), or input taken without the NUL
(a form, a comment): never a server error, on either database.
"""

from __future__ import annotations

import re

import httpx
import pytest

from auth.base import INT_MAX, as_id
from documents import actions
from server.app import up_to
from tests.conftest import LiveServer
from tests.factories import World
from tests.forms import csrf, post_form

TOO_BIG = 2**31  # one more than an INTEGER column holds
HUGE = 2**40

PATHS = [
    "/salons/{n}",
    "/salons/{n}/moderation",
    "/salons/{n}/votes",
    "/salons/{room}/votes/{n}",
    "/brouillons/{n}",
    "/brouillons/{n}/versions",
    "/brouillons/{n}/export.md",
    "/api/drafts/{n}/preview",
    "/api/drafts/{n}/comments",
    "/api/rooms/{n}/messages",
    "/api/rooms/{n}/events",
    "/api/rooms/{n}/topics",
    "/api/rooms/{n}/state",
    "/api/rooms/{n}/moderation",
    "/api/rooms/{n}/polls",
    "/api/rooms/{room}/polls/{n}/result",
    "/api/messages/{n}/history",
]
QUERIES = [
    "/api/rooms/{room}/messages?before={n}",
    "/api/rooms/{room}/messages?after={n}",
    "/api/rooms/{room}/messages?after=-{n}",
    "/api/rooms/{room}/messages?limit={n}",
    "/api/rooms/{room}/events?after={n}",
    "/brouillons?espace=group:{n}",
    "/brouillons?espace=chantier:{n}",
    "/salons/{room}/moderation?ok=levee&membre={n}",
    "/salons/{room}/moderation?ok=levee&membre=²",
]
NUL_QUERIES = [
    "/brouillons?espace=group%3A1%00",
    "/api/rooms/{room}/messages?topic=a%00b",
    "/salons/{room}?sujet=a%00b",
]


@pytest.fixture
async def admin(server: LiveServer, world: World) -> httpx.AsyncClient:
    cookies = {"atelier_session": world.cookies["admin"]}
    async with httpx.AsyncClient(base_url=server.base_url, cookies=cookies) as client:
        yield client


async def test_ids_no_row_can_have_are_not_found_or_refused(
    admin: httpx.AsyncClient, world: World
) -> None:
    room = world.group_room
    for n in (TOO_BIG, HUGE):
        for path in PATHS:
            response = await admin.get(path.format(n=n, room=room))
            assert response.status_code == 404, (path, n, response.status_code)
        for path in QUERIES:
            response = await admin.get(path.format(n=n, room=room))
            assert response.status_code < 500, (path, n, response.status_code)
    # The largest id a column holds is still an id: it matches the route, and no row.
    assert (await admin.get(f"/salons/{TOO_BIG - 1}")).status_code == 404
    assert (await admin.get(f"/api/rooms/{room}/messages?before={TOO_BIG}")).status_code == 400
    assert (await admin.get(f"/api/rooms/{room}/messages?before={TOO_BIG - 1}")).status_code == 200


async def test_nul_characters_in_a_query_are_refused(
    admin: httpx.AsyncClient, world: World
) -> None:
    for path in NUL_QUERIES:
        response = await admin.get(path.format(room=world.group_room))
        assert response.status_code == 400, path
        assert response.text == "Requête incorrecte."


async def test_nul_characters_in_forms_are_taken_out(
    server: LiveServer, admin: httpx.AsyncClient, world: World
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        signed_in = await post_form(
            anonymous, "/connexion", {"email": "marie@test\x00.atelier", "password": "x\x00"}
        )
        assert signed_in.status_code < 500
        reset = await post_form(anonymous, "/mot-de-passe/oublie", {"email": "a\x00@b.fr"})
        assert reset.status_code < 500
    profile = await post_form(admin, "/profil", {"display_name": "Alice\x00 Admin"})
    assert profile.status_code == 303
    page = await admin.get("/profil")
    assert 'value="Alice Admin"' in page.text
    created = await post_form(admin, "/brouillons", {"space": "group:1", "title": "Note\x00"})
    assert created.status_code < 500
    for form in (
        {"user_id": str(HUGE), "space": "group:1", "role": "member"},
        {"user_id": "²", "space": "group:1", "role": "member"},
    ):
        for path in ("/admin/roles", "/admin/roles/retrait"):
            response = await post_form(admin, path, form)
            assert response.status_code < 500, (path, form, response.status_code)
    assert (await post_form(admin, f"/admin/membres/{HUGE}/desactivation", {})).status_code == 404


async def test_a_comment_loses_its_nul_and_a_huge_parent_is_refused(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Rapport", author_id=None, initial_text="Texte\n"
        )
    path, headers = f"/api/drafts/{draft.id}/comments", {"X-CSRF-Token": await csrf(admin)}
    made = await admin.post(path, json={"range": [0, 5], "body": "Bon\x00jour"}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "Bonjour"
    refused = await admin.post(path, json={"body": "Oui", "parent_id": HUGE}, headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["field"] == "parent_id"


@pytest.mark.parametrize("limit", [0, 7, 9, 10, 19, 20, 99, 100, 305, 1000, 2**31 - 1])
def test_the_id_pattern_matches_exactly_the_numbers_up_to_its_limit(limit: int) -> None:
    pattern = re.compile(up_to(limit))
    near = {*range(min(limit, 2000) + 50), limit - 1, limit, limit + 1, limit * 10, 10**12}
    for n in sorted(v for v in near if v >= 0):
        assert bool(pattern.fullmatch(str(n))) == (n <= limit), n


def test_as_id_takes_only_ascii_digits_an_integer_column_holds() -> None:
    assert [as_id(raw) for raw in ("0", "42", str(INT_MAX), "007")] == [0, 42, INT_MAX, 7]
    for raw in ("", "-1", "4.2", "²", "٣", " 1", str(INT_MAX + 1), "9" * 40):
        assert as_id(raw) is None, raw
