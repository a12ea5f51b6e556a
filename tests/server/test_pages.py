"""Sign-in, pages and HTTP hygiene through real HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories import PASSWORD, World
from tests.forms import post_form


@pytest.fixture
async def http(server: LiveServer) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=server.base_url, follow_redirects=False) as client:
        yield client


async def test_sign_in_sets_a_session_cookie_and_sign_out_revokes_it(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/")).headers["location"].startswith("/connexion")
    form = await http.get("/connexion")
    assert form.status_code == 200
    assert 'lang="fr"' in form.text
    response = await post_form(
        http, "/connexion", data={"email": "MARIE@test.atelier ", "password": PASSWORD, "next": "/"}
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "atelier_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    home = await http.get("/")
    assert home.status_code == 200
    assert "Groupe 1" in home.text
    assert "Chantier 1.1" in home.text
    token = http.cookies["atelier_session"]
    assert (await post_form(http, "/deconnexion", {})).status_code == 303
    http.cookies.set("atelier_session", token)
    assert (await http.get("/")).status_code == 303  # the old session is dead


async def test_wrong_password_and_unknown_account_get_the_same_answer(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    wrong = await post_form(
        http, "/connexion", data={"email": "marie@test.atelier", "password": "x"}
    )
    unknown = await post_form(
        http, "/connexion", data={"email": "nobody@test.atelier", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "Adresse ou mot de passe incorrect" in wrong.text
    assert "Adresse ou mot de passe incorrect" in unknown.text
    assert "atelier_session" not in wrong.headers.get("set-cookie", "")


async def test_sign_in_never_redirects_off_site(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = await post_form(
            http,
            "/connexion",
            data={"email": "marie@test.atelier", "password": PASSWORD, "next": target},
        )
        assert response.headers["location"] == "/"


async def test_cross_site_posts_are_refused(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    refused = await post_form(
        http,
        "/connexion",
        data={"email": "marie@test.atelier", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    same = await post_form(
        http,
        "/connexion",
        data={"email": "marie@test.atelier", "password": PASSWORD},
        headers={"Origin": server.base_url},
    )
    assert same.status_code == 303


async def test_pages_carry_security_headers(server: LiveServer, http: httpx.AsyncClient) -> None:
    response = await http.get("/connexion")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_room_page_and_its_boot_data(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    http.cookies.set("atelier_session", world.cookies["marie"])
    page = await http.get(f"/salons/{world.chantier_room}")
    assert page.status_code == 200
    assert "Chantier 1.1" in page.text
    assert '"can_post": true' in page.text or '"can_post":true' in page.text
    hidden = await http.get(f"/salons/{world.other_group_room}")
    assert hidden.status_code == 404
    http.cookies.set("atelier_session", world.cookies["observer"])
    observer = await http.get(f"/salons/{world.group_room}")
    assert '"can_post": false' in observer.text or '"can_post":false' in observer.text


async def test_english_is_available(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    switched = await post_form(http, "/langue", data={"lang": "en", "next": "/connexion"})
    assert switched.status_code == 303
    page = await http.get("/connexion")
    assert 'lang="en"' in page.text


async def test_accessibility_statement_is_public(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    page = await http.get("/accessibilite")
    assert page.status_code == 200
    assert "accessibilité" in page.text.lower()


async def test_unread_api(server: LiveServer, world: World, http: httpx.AsyncClient) -> None:
    http.cookies.set("atelier_session", world.cookies["marie"])
    body = (await http.get("/api/unread")).json()
    assert set(body["rooms"]) == {str(world.group_room), str(world.chantier_room)}


async def test_every_form_post_needs_the_csrf_token(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    from starlette.routing import Route

    http.cookies.set("atelier_session", world.cookies["marie"])
    await http.get("/connexion")  # the browser has a token, but the forged form lacks it
    posts = [
        r.path
        for r in server.app.routes
        if isinstance(r, Route) and "POST" in (r.methods or ()) and "{" not in r.path
    ]
    assert {"/connexion", "/deconnexion", "/langue"} <= set(posts)
    for path in posts:
        forged = await http.post(path, data={"email": "marie@test.atelier", "lang": "en"})
        assert forged.status_code == 403, path
        if not path.startswith("/admin/"):  # there the role check answers first
            assert "formulaire a expiré" in forged.text, path
    # Nothing happened: still signed in.
    assert (await http.get("/api/unread")).status_code == 200


async def test_over_https_the_cookie_is_host_prefixed_and_secure(
    server: LiveServer, world: World, http: httpx.AsyncClient
) -> None:
    # uvicorn trusts X-Forwarded-Proto from the local proxy, as behind nginx.
    https = {"X-Forwarded-Proto": "https"}
    page = await http.get("/accessibilite", headers=https)
    assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie too
    # The test client speaks plain HTTP, so it would not send a Secure cookie: hand it over.
    http.cookies.set("atelier_csrf", "t" * 43)
    response = await http.post(
        "/connexion",
        data={"email": "marie@test.atelier", "password": PASSWORD, "csrf": "t" * 43},
        headers={**https, "Origin": f"https://127.0.0.1:{server.port}"},
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-atelier_session=")
    assert "Secure" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie
    token = cookie.split("=", 1)[1].split(";", 1)[0]
    async with httpx.AsyncClient(base_url=server.base_url) as again:
        again.cookies.set("__Host-atelier_session", token)
        assert (await again.get("/api/unread")).status_code == 200
