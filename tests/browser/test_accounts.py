"""Accounts in the browser: accepting an invitation, signing in, the profile page."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import ADMIN, PHONE, a11y_problems, screenshot
from tests.processes import ROOT, ServerProcess

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]


def invite(server: ServerProcess, tmp_path: Path, email: str, name: str, *roles: str) -> str:
    """Invite through the operator's command, as an admin would, and return the link."""
    done = subprocess.run(
        [sys.executable, "-m", "server", "admin", "invite", email, name, "--civility", "mme",
         *[arg for role in roles for arg in ("--role", role)], "--url", server.base_url],
        cwd=ROOT,
        env={**server.env, "MAIL_OUTBOX_DIR": str(tmp_path / "mail")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    found = re.search(r"(http://\S+/invitation/\S+)", done.stdout)
    assert found, done.stdout
    return found.group(1)


def test_an_invited_member_sets_a_password_and_arrives_in_the_assembly(
    open_page: OpenPage, app_server: ServerProcess, tmp_path: Path
) -> None:
    link = invite(app_server, tmp_path, "lea.martin@exemple.fr", "Léa Martin", "group:1=membre")
    page = open_page()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Rejoindre l'Assemblée des Territoires"
    )
    expect(page.get_by_text("Bienvenue, Léa Martin")).to_be_visible()
    assert not a11y_problems(page)
    page.get_by_label("Nouveau mot de passe").fill("azertyuiop123")
    page.get_by_label("Confirmez le mot de passe").fill("azertyuiop123")
    page.get_by_role("button", name="Créer mon accès").click()
    expect(page.get_by_role("alert")).to_contain_text("les plus répandus")
    screenshot(page, "invitation-refused")
    page.get_by_label("Nouveau mot de passe").fill("la garrigue au printemps")
    page.get_by_label("Confirmez le mot de passe").fill("la garrigue au printemps")
    page.get_by_role("button", name="Créer mon accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("L'Assemblée des Territoires")
    expect(page.get_by_text("Bonjour Léa Martin")).to_be_visible()
    # The link is used up.
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("n'est plus valable")


def test_sign_in_then_profile_and_sign_out(open_page: OpenPage, app_server: ServerProcess) -> None:
    page = open_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    page.get_by_label("Adresse électronique").fill("sophie.vidal@demo.atelier.test")
    page.get_by_label("Mot de passe").fill("atelier-demo")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Bonjour Sophie Vidal")).to_be_visible()
    page.get_by_role("link", name="Mon profil").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon profil")
    assert not a11y_problems(page)
    screenshot(page, "profile")
    page.get_by_label("Territoire").fill("Montpellier Méditerranée Métropole")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Vos informations sont enregistrées")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion"))


def test_the_profile_fits_a_phone_with_a_long_address(open_page: OpenPage) -> None:
    """The account's deletion asks for the address in its label; a long one, which has
    no place to break, widened the page past a phone's screen."""
    page = open_page(ADMIN, viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/profil")
    expect(page.get_by_text(f"({ADMIN})", exact=False)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
