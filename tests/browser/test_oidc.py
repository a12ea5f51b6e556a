"""OpenID Connect sign-in in Chromium, through the real redirects to a real provider."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.helpers import screenshot
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, TestProvider
from tests.processes import ServerProcess

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser


class ProviderThread:
    """The test provider on its own event loop, since Playwright's sync API blocks ours."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.provider: TestProvider | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.provider = await TestProvider().start()
        self.ready.set()
        await self._stop.wait()
        await self.provider.stop()

    def __enter__(self) -> TestProvider:
        self._thread.start()
        assert self.ready.wait(30), "the test provider did not start"
        assert self.provider is not None
        return self.provider

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


@pytest.fixture(scope="module")
def oidc_setup(
    tmp_path_factory: pytest.TempPathFactory, built_assets: None
) -> Iterator[tuple[TestProvider, ServerProcess]]:
    with ProviderThread() as provider:
        database = tmp_path_factory.mktemp("oidc") / "atelier.db"
        server = ServerProcess(
            f"sqlite+aiosqlite:///{database}",
            extra_env={
                "OIDC_ISSUER": provider.issuer,
                "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_DISPLAY_NAME": "ProConnect",
                "SECRET_KEY": "k" * 40,
            },
        )
        # Register the redirect URI at the provider, as an operator would at ProConnect.
        provider.client.redirect_uris.append(f"{server.base_url}/connexion/oidc/retour")
        server.start()
        try:
            yield provider, server
        finally:
            server.stop()


def new_page(browser: Any, server: ServerProcess) -> Any:
    context = browser.new_context(locale="fr-FR", base_url=server.base_url)
    return context.new_page()


def test_a_member_signs_in_with_the_provider(
    browser: Any, oidc_setup: tuple[TestProvider, ServerProcess]
) -> None:
    provider, server = oidc_setup
    provider.user = Person(
        sub="pc-4242", email="marie.dupont@demo.atelier.test", name="Marie Dupont"
    )
    page = new_page(browser, server)
    page.goto("/salons/1")
    expect(page).to_have_url(re.compile(r"/connexion"))
    screenshot(page, "login-oidc")
    page.get_by_role("link", name="Se connecter avec ProConnect").click()
    # Provider → callback → the page asked for at first.
    expect(page).to_have_url(re.compile(r"/salons/1$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    request = provider.authorize_requests[-1]
    assert request["code_challenge_method"] == "S256"
    page.context.close()


def test_someone_who_is_not_a_member_is_told_whom_to_contact(
    browser: Any, oidc_setup: tuple[TestProvider, ServerProcess]
) -> None:
    provider, server = oidc_setup
    provider.user = Person(sub="pc-9999", email="inconnu@mairie.example", name="Inconnu")
    page = new_page(browser, server)
    page.goto("/connexion")
    page.get_by_role("link", name="Se connecter avec ProConnect").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("membre")
    expect(page.get_by_text("assemblee-territoires@laregion.fr").first).to_be_visible()
    screenshot(page, "oidc-not-member")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    page.context.close()
