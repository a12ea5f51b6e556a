"""Sign-in with an OpenID provider, end to end against a real provider.

Atelier and the provider of ``tests/oidc_provider.py`` both listen on real sockets; the
browser is an httpx client that follows every redirect by hand, carrying cookies, so
the test sees each hop: Atelier → provider ``/authorize`` → Atelier's callback (which
talks to the provider's token, JWKS and UserInfo endpoints) → the page asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select

from auth import audit
from auth.actions import do_create_user
from auth.base import utcnow
from auth.models import AuditEvent, Invitation, OidcIdentity, User
from rooms.models import Membership
from server.config import load_settings
from server.oidc import oidc_login_context, signing_key
from tests.conftest import LiveServer, live_server
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, TestProvider, running_provider

CALLBACK = "/connexion/oidc/retour"
CONTACT = "comite@test.atelier"


@pytest.fixture
async def provider() -> AsyncIterator[TestProvider]:
    async with running_provider() as running:
        yield running


@pytest.fixture
async def atelier(database_url: str, provider: TestProvider) -> AsyncIterator[LiveServer]:
    async with live_server(
        database_url,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_display_name="ProConnect",
        secret_key="a-test-secret-key-that-is-long-enough-0123456789",
        contact_email=CONTACT,
    ) as server:
        provider.client.redirect_uris.append(server.base_url + CALLBACK)
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
        yield client


@dataclass
class Flow:
    start: httpx.Response  # Atelier's redirect to the provider
    authorize: httpx.Response  # the provider's redirect back to Atelier
    callback: httpx.Response | None  # Atelier's answer at the callback


async def sign_in(
    browser: httpx.AsyncClient,
    atelier: LiveServer,
    provider: TestProvider,
    *,
    next_url: str = "/",
    tamper: dict[str, str] | None = None,
    stop_before_callback: bool = False,
) -> Flow:
    """Click "sign in with ProConnect" and follow the redirects by hand."""
    start = await browser.get(f"{atelier.base_url}/connexion/oidc", params={"next": next_url})
    assert start.status_code == 302, start.text
    assert start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    authorize = await browser.get(start.headers["location"])
    assert authorize.status_code == 302, authorize.text
    back = authorize.headers["location"]
    assert back.startswith(atelier.base_url + CALLBACK + "?")
    if tamper:
        parts = urlsplit(back)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | tamper
        back = parts._replace(query=urlencode(query)).geturl()
    if stop_before_callback:
        return Flow(start, authorize, None)
    return Flow(start, authorize, await browser.get(back))


async def create_member(atelier: LiveServer, email: str, name: str = "Marie Dupont") -> User:
    async with atelier.state.db.transaction() as session:
        return await do_create_user(session, email=email, display_name=name, civility="mme")


async def add_invitation(atelier: LiveServer, email: str, **fields: Any) -> int:
    values: dict[str, Any] = {
        "token_digest": secrets.token_hex(32),
        "email": email,
        "display_name": "Jeanne Martin",
        "civility": "mme",
        "territory": "Lozère",
        "grants": [{"space": "assembly", "role": "membre", "starts_on": None, "ends_on": None}],
        "expires_at": utcnow() + dt.timedelta(days=14),
    } | fields
    async with atelier.state.db.transaction() as session:
        invitation = Invitation(**values)
        session.add(invitation)
        await session.flush()
        return invitation.id


async def identities(atelier: LiveServer) -> list[OidcIdentity]:
    async with atelier.state.db.read() as session:
        return list(await session.scalars(select(OidcIdentity).order_by(OidcIdentity.id)))


async def audit_events(atelier: LiveServer, action: str) -> list[AuditEvent]:
    async with atelier.state.db.read() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows)


async def assert_signed_out(browser: httpx.AsyncClient, atelier: LiveServer) -> None:
    assert "atelier_session" not in browser.cookies
    home = await browser.get(f"{atelier.base_url}/")
    assert home.status_code == 303
    assert home.headers["location"].startswith("/connexion")


# -- members get in ----------------------------------------------------------------------
async def test_a_member_signs_in_and_the_identity_is_remembered_by_sub(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    marie = await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="Marie@Test.Atelier")

    flow = await sign_in(browser, atelier, provider, next_url="/accessibilite")

    assert flow.callback is not None
    assert flow.callback.status_code == 303, flow.callback.text
    assert flow.callback.headers["location"] == "/accessibilite"
    session_cookie = next(
        c for c in flow.callback.headers.get_list("set-cookie") if "atelier_session=" in c
    )
    assert "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    assert "atelier_oidc" not in browser.cookies  # the pending sign-in is used up
    home = await browser.get(f"{atelier.base_url}/")
    assert home.status_code == 200
    assert "Marie Dupont" in home.text
    [identity] = await identities(atelier)
    assert (identity.issuer, identity.subject, identity.user_id) == (
        provider.issuer,
        "pc-sub-marie",
        marie.id,
    )
    assert identity.email == "marie@test.atelier"
    [linked] = await audit_events(atelier, audit.OIDC_LINKED)
    assert linked.target_user_id == marie.id
    assert linked.details["subject"] == "pc-sub-marie"
    logins = await audit_events(atelier, audit.LOGIN_SUCCEEDED)
    assert [(e.target_user_id, e.details["method"]) for e in logins] == [(marie.id, "oidc")]

    # Later the provider knows her under another address (even an unconfirmed one):
    # the (issuer, sub) pair still leads to her.
    browser.cookies.clear()
    provider.user = Person(
        sub="pc-sub-marie", email="m.dupont@ailleurs.example", email_verified=False
    )
    again = await sign_in(browser, atelier, provider)
    assert again.callback is not None
    assert again.callback.status_code == 303, again.callback.text
    assert again.callback.headers["location"] == "/"
    home = await browser.get(f"{atelier.base_url}/")
    assert home.status_code == 200
    assert "Marie Dupont" in home.text
    [identity] = await identities(atelier)
    assert identity.user_id == marie.id
    assert identity.last_used_at is not None
    assert len(await audit_events(atelier, audit.OIDC_LINKED)) == 1


async def test_the_next_page_is_never_off_site(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        browser.cookies.clear()
        flow = await sign_in(browser, atelier, provider, next_url=target)
        assert flow.callback is not None
        assert flow.callback.headers["location"] == "/"


async def test_an_invited_person_gets_an_account_from_the_invitation(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    invitation_id = await add_invitation(atelier, "jeanne.martin@lozere.example")
    provider.user = Person(sub="pc-sub-jeanne", email="Jeanne.Martin@lozere.example")

    flow = await sign_in(browser, atelier, provider)

    assert flow.callback is not None
    assert flow.callback.status_code == 303, flow.callback.text
    home = await browser.get(f"{atelier.base_url}/")
    assert home.status_code == 200
    assert "Jeanne Martin" in home.text
    async with atelier.state.db.read() as session:
        user = await session.scalar(
            select(User).where(User.email == "jeanne.martin@lozere.example")
        )
        assert user is not None
        assert (user.display_name, user.civility, user.territory) == (
            "Jeanne Martin",
            "mme",
            "Lozère",
        )
        assert user.password_hash is None
        invitation = await session.get(Invitation, invitation_id)
        assert invitation is not None
        assert invitation.accepted_at is not None
        assert invitation.user_id == user.id
        roles = list(
            await session.execute(
                select(Membership.space, Membership.role).where(Membership.user_id == user.id)
            )
        )
        assert [tuple(r) for r in roles] == [("assembly", "membre")]
    [identity] = await identities(atelier)
    assert identity.user_id == user.id
    accepted = await audit_events(atelier, audit.INVITATION_ACCEPTED)
    assert [e.target_user_id for e in accepted] == [user.id]


@pytest.mark.parametrize("state", ["accepted", "revoked", "expired"])
async def test_an_invitation_that_is_no_longer_pending_lets_nobody_in(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient, state: str
) -> None:
    now = utcnow()
    fields = {
        "accepted": {"accepted_at": now - dt.timedelta(days=1)},
        "revoked": {"revoked_at": now - dt.timedelta(days=1)},
        "expired": {"expires_at": now - dt.timedelta(minutes=1)},
    }[state]
    await add_invitation(atelier, "jeanne.martin@lozere.example", **fields)
    provider.user = Person(sub="pc-sub-jeanne", email="jeanne.martin@lozere.example")
    flow = await sign_in(browser, atelier, provider)
    assert flow.callback is not None
    assert flow.callback.status_code == 403
    assert "pas membre" in flow.callback.text
    await assert_signed_out(browser, atelier)


# -- everyone else is refused --------------------------------------------------------------
async def test_an_unknown_person_gets_the_not_a_member_page_in_french(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-x", email="inconnu@mairie.example")

    flow = await sign_in(browser, atelier, provider)

    assert flow.callback is not None
    page = flow.callback
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Vous n&#39;êtes pas membre de l&#39;Assemblée des Territoires" in page.text
    assert "inconnu@mairie.example" in page.text
    assert "comité d&#39;animation" in page.text or "comité d'animation" in page.text
    assert f'href="mailto:{CONTACT}"' in page.text
    assert "atelier_session" not in page.headers.get("set-cookie", "")
    await assert_signed_out(browser, atelier)
    assert await identities(atelier) == []
    [refused] = await audit_events(atelier, audit.OIDC_REFUSED)
    assert refused.details["reason"] == "unknown_email"
    assert refused.details["email"] == "inconnu@mairie.example"
    assert refused.details["subject"] == "pc-sub-x"


@pytest.mark.parametrize("verified", [False, None, "false"])
async def test_an_unverified_email_is_refused_even_for_a_member(
    atelier: LiveServer,
    provider: TestProvider,
    browser: httpx.AsyncClient,
    verified: bool | str | None,
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier", email_verified=verified)

    flow = await sign_in(browser, atelier, provider)

    assert flow.callback is not None
    assert flow.callback.status_code == 403
    assert "Adresse électronique non confirmée" in flow.callback.text
    await assert_signed_out(browser, atelier)
    assert await identities(atelier) == []
    [refused] = await audit_events(atelier, audit.OIDC_REFUSED)
    assert refused.details["reason"] == "email_not_verified"


async def test_a_closed_account_is_refused(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    marie = await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")
    assert (await sign_in(browser, atelier, provider)).callback.status_code == 303  # type: ignore[union-attr]
    async with atelier.state.db.transaction() as session:
        user = await session.get(User, marie.id)
        assert user is not None
        user.is_active = False
    browser.cookies.clear()
    flow = await sign_in(browser, atelier, provider)
    assert flow.callback is not None
    assert flow.callback.status_code == 403
    assert "plus actif" in flow.callback.text
    await assert_signed_out(browser, atelier)


async def test_cancelling_at_the_provider_goes_back_to_the_sign_in_page(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    provider.user = None  # the person clicks "cancel" at the provider
    flow = await sign_in(browser, atelier, provider, next_url="/accessibilite")
    assert flow.callback is not None
    assert flow.callback.status_code == 303
    assert flow.callback.headers["location"] == "/connexion?next=%2Faccessibilite"
    await assert_signed_out(browser, atelier)


# -- the protocol checks -------------------------------------------------------------------
async def test_a_tampered_or_missing_state_is_refused(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")

    tampered = await sign_in(browser, atelier, provider, tamper={"state": "forged-" + "x" * 40})
    assert tampered.callback is not None
    assert tampered.callback.status_code == 400
    assert "n&#39;a pas abouti" in tampered.callback.text
    await assert_signed_out(browser, atelier)

    # A callback from a browser that never started a sign-in (login CSRF): no cookie.
    flow = await sign_in(browser, atelier, provider, stop_before_callback=True)
    async with httpx.AsyncClient(follow_redirects=False) as other_browser:
        foreign = await other_browser.get(flow.authorize.headers["location"])
    assert foreign.status_code == 400

    # The pending sign-in is single use: replaying a good callback fails.
    good = await browser.get(flow.authorize.headers["location"])
    assert good.status_code == 303
    browser.cookies.delete("atelier_session")
    replay = await browser.get(flow.authorize.headers["location"])
    assert replay.status_code == 400
    reasons = [e.details["reason"] for e in await audit_events(atelier, audit.OIDC_REFUSED)]
    assert reasons == ["invalid_state", "missing_state", "missing_state"]
    assert len(await identities(atelier)) == 1


@pytest.mark.parametrize(
    ("misbehaviour", "caught"),
    [
        ({"id_token_issuer": "https://attacker.example/op"}, "Invalid claim: 'iss'"),
        ({"id_token_audience": "another-client"}, "Invalid claim: 'aud'"),
        ({"sign_with_other_key": True}, "BadSignatureError"),
        ({"nonce": "omit"}, "Missing claim: 'nonce'"),
        ({"nonce": "wrong"}, "Invalid claim: 'nonce'"),
        ({"expired": True}, "ExpiredTokenError"),
    ],
    ids=["wrong-issuer", "wrong-audience", "bad-signature", "no-nonce", "wrong-nonce", "expired"],
)
async def test_an_id_token_that_fails_a_check_is_refused(
    atelier: LiveServer,
    provider: TestProvider,
    browser: httpx.AsyncClient,
    misbehaviour: dict[str, Any],
    caught: str,
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")
    for name, value in misbehaviour.items():
        setattr(provider.misbehave, name, value)

    flow = await sign_in(browser, atelier, provider)

    assert flow.callback is not None
    assert flow.callback.status_code == 400
    await assert_signed_out(browser, atelier)
    assert await identities(atelier) == []
    [refused] = await audit_events(atelier, audit.OIDC_REFUSED)
    assert refused.details["reason"] == "invalid_id_token"
    assert caught in str(refused.details["detail"])


async def test_pkce_s256_is_sent_and_the_provider_wants_the_right_verifier(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")
    flow = await sign_in(browser, atelier, provider, stop_before_callback=True)
    [asked] = provider.authorize_requests
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 32  # ProConnect's minimum
    assert len(asked["nonce"]) >= 32
    assert asked["redirect_uri"] == atelier.base_url + CALLBACK
    code = parse_qs(urlsplit(flow.authorize.headers["location"]).query)["code"][0]

    # Someone who got hold of the code cannot redeem it without the verifier.
    token_url = f"{provider.issuer}/token"
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": asked["redirect_uri"]}
    auth = (CLIENT_ID, CLIENT_SECRET)
    async with httpx.AsyncClient() as attacker:
        missing = await attacker.post(token_url, data=form, auth=auth)
        wrong = await attacker.post(
            token_url, data=form | {"code_verifier": secrets.token_urlsafe(48)}, auth=auth
        )
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"

    # Atelier holds the verifier: the same code works for it.
    done = await browser.get(flow.authorize.headers["location"])
    assert done.status_code == 303, done.text
    verifier = provider.token_requests[-1]["code_verifier"]
    assert create_s256_code_challenge(verifier) == asked["code_challenge"]


async def test_a_provider_refuses_an_authorization_request_without_pkce(
    provider: TestProvider,
) -> None:
    provider.client.redirect_uris.append("http://127.0.0.1:9/cb")
    async with httpx.AsyncClient(follow_redirects=False) as client:
        response = await client.get(
            f"{provider.issuer}/authorize",
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": "http://127.0.0.1:9/cb",
                "scope": "openid email",
                "state": "s" * 32,
                "nonce": "n" * 32,
            },
        )
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["location"]


# -- the email from UserInfo (ProConnect) ---------------------------------------------------
@pytest.mark.parametrize("as_jwt", [False, True], ids=["json", "signed-jwt"])
async def test_the_email_may_come_from_userinfo(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient, as_jwt: bool
) -> None:
    marie = await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")
    provider.misbehave.claims_in_id_token = False
    provider.misbehave.userinfo_as_jwt = as_jwt
    flow = await sign_in(browser, atelier, provider)
    assert flow.callback is not None
    assert flow.callback.status_code == 303, flow.callback.text
    [identity] = await identities(atelier)
    assert identity.user_id == marie.id


async def test_a_userinfo_about_someone_else_is_refused(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    await create_member(atelier, "marie@test.atelier")
    provider.user = Person(sub="pc-sub-mallory", email="marie@test.atelier")
    provider.misbehave.claims_in_id_token = False
    provider.misbehave.userinfo_sub = "pc-sub-marie"
    flow = await sign_in(browser, atelier, provider)
    assert flow.callback is not None
    assert flow.callback.status_code == 400
    await assert_signed_out(browser, atelier)
    [refused] = await audit_events(atelier, audit.OIDC_REFUSED)
    assert refused.details["reason"] == "invalid_userinfo"


# -- configuration ----------------------------------------------------------------------------
async def test_a_discovery_document_for_another_issuer_is_not_trusted(
    atelier: LiveServer, provider: TestProvider, browser: httpx.AsyncClient
) -> None:
    provider.misbehave.discovery_issuer = "https://attacker.example/op"
    response = await browser.get(f"{atelier.base_url}/connexion/oidc")
    assert response.status_code == 502
    assert "n&#39;a pas abouti" in response.text
    assert provider.authorize_requests == []
    # Fixed at the provider: the document is fetched again and accepted.
    provider.misbehave.discovery_issuer = None
    provider.user = Person(sub="pc-sub-x", email="inconnu@mairie.example")
    flow = await sign_in(browser, atelier, provider)
    assert flow.callback is not None
    assert flow.callback.status_code == 403


async def test_the_sign_in_page_shows_the_provider_button(
    atelier: LiveServer, browser: httpx.AsyncClient
) -> None:
    page = await browser.get(f"{atelier.base_url}/connexion", params={"next": "/accessibilite"})
    assert page.status_code == 200
    assert "Se connecter avec ProConnect" in page.text
    assert re.search(r'href="/connexion/oidc\?next=(/|%2F)accessibilite"', page.text)


async def test_without_a_provider_there_is_no_oidc_sign_in(database_url: str) -> None:
    async with live_server(database_url) as server:
        assert not server.settings.oidc_enabled
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            assert (await client.get("/connexion/oidc")).status_code == 404
            assert (await client.get(CALLBACK + "?code=x&state=y")).status_code == 404
            login = await client.get("/connexion")
        assert login.status_code == 200
        assert "/connexion/oidc" not in login.text  # no provider button
    assert oidc_login_context(server.settings) == {"oidc_enabled": False, "oidc_name": "ProConnect"}


@pytest.mark.parametrize("shared_key", [True, False], ids=["shared-key", "random-keys"])
async def test_the_callback_may_reach_another_process_only_with_the_same_secret_key(
    database_url: str, provider: TestProvider, browser: httpx.AsyncClient, shared_key: bool
) -> None:
    settings: dict[str, Any] = {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "secret_key": "a-test-secret-key-that-is-long-enough-0123456789" if shared_key else "",
    }
    async with (
        live_server(database_url, **settings) as first,
        live_server(database_url, **settings) as second,
    ):
        provider.client.redirect_uris.append(first.base_url + CALLBACK)
        await create_member(first, "marie@test.atelier")
        provider.user = Person(sub="pc-sub-marie", email="marie@test.atelier")
        flow = await sign_in(browser, first, provider, stop_before_callback=True)
        # A load balancer sends the way back to the other process.
        back = flow.authorize.headers["location"].replace(first.base_url, second.base_url)
        done = await browser.get(back)
        assert done.status_code == (303 if shared_key else 400)


def test_without_a_secret_key_each_process_makes_one_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(
        {"OIDC_ISSUER": "https://auth.example.gouv.fr/api/v2", "OIDC_CLIENT_ID": "atelier"}
    )
    with caplog.at_level(logging.WARNING, logger="server.oidc"):
        first, second = signing_key(settings), signing_key(settings)
    assert first != second
    assert len(first) >= 32
    assert "SECRET_KEY" in caplog.text
    configured = dataclasses.replace(settings, secret_key="k" * 40)
    assert signing_key(configured) == "k" * 40


def test_oidc_settings() -> None:
    env = {
        "OIDC_ISSUER": "https://auth.example.gouv.fr/api/v2",
        "OIDC_CLIENT_ID": "atelier",
        "OIDC_CLIENT_SECRET": "secret",
    }
    settings = load_settings(env)
    assert settings.oidc_enabled
    assert settings.oidc_scopes == "openid email profile"
    assert oidc_login_context(settings) == {"oidc_enabled": True, "oidc_name": "ProConnect"}
    assert "secret" not in repr(settings)
    named = load_settings(env | {"OIDC_DISPLAY_NAME": "Connexion Région"})
    assert oidc_login_context(named)["oidc_name"] == "Connexion Région"
    from server.config import ConfigError

    for bad in (
        {"OIDC_ISSUER": "https://auth.example.gouv.fr"},  # no client id
        env | {"OIDC_ISSUER": "http://auth.example.gouv.fr"},  # not https
        env | {"OIDC_SCOPES": "email profile"},  # no openid
        env | {"SECRET_KEY": "too short"},
    ):
        with pytest.raises(ConfigError):
            load_settings(bad)
