"""The pages around the chat: sign-in, the assembly, read-only rooms, the statement."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.helpers import (
    BOURGS_CENTRES,
    LOUISE,
    MARIE,
    PAUL,
    SOPHIE,
    a11y_problems,
    open_chantier_room,
    screenshot,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]

GROUPS = [
    "Attractivité et Innovation",
    "Qualité de vie et Cohésion sociale",
    "Solidarités Territoriales",
    "Territoires en transition durable",
]
CHANTIERS = [
    "Tourisme et impact des résidences secondaires",
    "Usages numériques et collaboratifs et développement territorial",
    "Bonheur sociétal et bien-être territorial",
    "Le tourisme expérientiel",
    "Attirer de nouvelles populations",
    BOURGS_CENTRES,
    "L'appropriation locale de la production d'énergies renouvelables",
    "Les circuits alimentaires de proximité en restauration collective",
]


def test_wrong_password_shows_the_french_error_then_signing_in_works(open_page: OpenPage) -> None:
    page = open_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_text("mot de passe commun « atelier-demo »")).to_be_visible()
    screenshot(page, "login")

    page.get_by_label("Adresse électronique").fill(MARIE)
    page.get_by_label("Mot de passe").fill("pas-le-bon")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text("Adresse ou mot de passe incorrect.")
    expect(page.get_by_label("Mot de passe")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Adresse électronique")).to_have_value(MARIE)
    screenshot(page, "login-error")

    page.get_by_label("Mot de passe").fill("atelier-demo")
    page.get_by_label("Mot de passe").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("L'Assemblée des Territoires")
    expect(page.locator(".account-name")).to_contain_text("Marie Dupont")


def test_home_lists_the_four_groups_their_eight_chantiers_and_the_saisines(
    open_page: OpenPage,
) -> None:
    page = open_page(MARIE)
    page.goto("/")
    cards = page.locator(".group-card")
    expect(cards).to_have_count(4)
    for number, title in enumerate(GROUPS, start=1):
        expect(cards.nth(number - 1).get_by_role("heading", level=3)).to_have_text(title)
        expect(cards.nth(number - 1)).to_contain_text(f"Groupe {number}")
    links = page.locator(".chantier-title a")
    expect(links).to_have_count(8)
    expect(links).to_have_text(CHANTIERS)
    for link in links.all():
        assert re.fullmatch(r"/salons/\d+", link.get_attribute("href") or "")
    expect(page.locator(".saisine")).to_have_count(4)
    screenshot(page, "home", full_page=True)


def test_home_badges_say_unread_counts_in_words(open_page: OpenPage) -> None:
    # No test opens a room as Sophie Vidal: the demo's messages stay unread for her.
    page = open_page(SOPHIE)
    page.goto("/")
    chantier = page.locator(".chantier", has_text=BOURGS_CENTRES)
    expect(chantier.locator(".unread .badge")).to_have_text(re.compile(r"^\d+$"))
    sentence = chantier.locator(".unread .visually-hidden")
    expect(sentence).to_have_text(re.compile(r"^\d+ messages non lus$"))
    before = int(chantier.locator(".unread .badge").inner_text())

    # Paul mentions Sophie; home.js refreshes the badges when the page becomes visible.
    paul = open_page(PAUL)
    open_chantier_room(paul)
    paul.get_by_label("Votre message", exact=True).fill("Une question pour @**Sophie Vidal**")
    paul.keyboard.press("Enter")
    expect(paul.locator("article.msg[data-id]", has_text="Une question pour")).not_to_have_count(0)
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(chantier.locator(".unread .badge").first).to_have_text(str(before + 1))
    expect(sentence).to_have_text(f"{before + 1} messages non lus, dont 1 mention")
    expect(chantier.locator(".badge-mention")).to_have_text("@1")


def test_reading_a_room_clears_its_badge_at_home(open_page: OpenPage) -> None:
    """The room's page sends a read receipt once its messages are shown; the server
    writes it with the others of a quarter of a second (server/receipts.py), and the home
    page's badge, refreshed, has gone."""
    paul = open_page(PAUL)
    open_chantier_room(paul)
    paul.get_by_label("Votre message", exact=True).fill("Un point pour les observateurs")
    paul.keyboard.press("Enter")
    expect(paul.locator("article.msg[data-id]", has_text="Un point pour")).not_to_have_count(0)

    home = open_page(LOUISE)
    home.goto("/")
    badge = home.locator(".chantier", has_text=BOURGS_CENTRES).locator(".unread .badge")
    expect(badge.first).to_have_text(re.compile(r"^[1-9]\d*$"))
    room = home.context.new_page()
    received: list[str] = []
    room.on("websocket", lambda ws: ws.on("framereceived", lambda f: received.append(str(f))))
    open_chantier_room(room)
    expect(room.locator("article.msg[data-id]", has_text="Un point pour")).not_to_have_count(0)
    # The page opens at the first unread message; she reads down to the last one.
    room.locator("#scroller").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    # The receipt leaves 0.6 s after that; once written, the server sends the member's
    # devices their counts: none left in the room.
    for _ in range(100):
        if any('"type":"unread"' in f and '"unread":0' in f for f in received):
            break
        room.wait_for_timeout(50)
    else:
        raise AssertionError(f"no unread counts of 0 after the receipt: {received}")
    home.bring_to_front()
    home.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(badge).to_have_count(0)


def test_observer_reads_a_room_without_a_composer(open_page: OpenPage) -> None:
    page = open_page(LOUISE)
    open_chantier_room(page)
    expect(page.get_by_role("heading", name="Lecture seule")).to_be_visible()
    expect(page.locator("#composer")).to_have_count(0)
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.locator("article.msg").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Répondre"))).to_have_count(0)
    screenshot(page, "room-observer")


def test_accessibility_statement_is_reachable_from_every_footer(open_page: OpenPage) -> None:
    anonymous = open_page()
    anonymous.goto("/connexion")
    anonymous.get_by_role("contentinfo").get_by_role(
        "link", name="Accessibilité : partiellement conforme"
    ).click()
    expect(anonymous.get_by_role("heading", level=1)).to_have_text("Déclaration d'accessibilité")

    page = open_page(MARIE)
    open_chantier_room(page)
    page.get_by_role("link", name="Accessibilité : partiellement conforme").click()
    expect(page).to_have_url(re.compile(r"/accessibilite$"))
    for heading in (
        "État de conformité",
        "Contenus non accessibles",
        "Établissement de cette déclaration d'accessibilité",
        "Retour d'information et contact",
        "Voies de recours",
    ):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("partiellement conforme")
    expect(page.locator("main")).to_contain_text("Défenseur des droits")


def test_unknown_room_is_a_french_404(open_page: OpenPage) -> None:
    page = open_page(MARIE)
    response = page.goto("/salons/99999")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Salon introuvable")
    page.get_by_role("link", name="Revenir à l'accueil").click()
    expect(page.locator(".group-card")).to_have_count(4)


def test_language_switch_and_back(open_page: OpenPage) -> None:
    page = open_page(MARIE)
    page.goto("/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=2, name="Working groups")).to_be_visible()
    page.get_by_role("button", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=2, name="Groupes de travail")).to_be_visible()


def test_pages_pass_the_accessibility_smoke(open_page: OpenPage) -> None:
    anonymous = open_page()
    anonymous.goto("/connexion")
    pages = {"login": anonymous}
    pages["accessibility"] = open_page()
    pages["accessibility"].goto("/accessibilite")
    member = open_page(MARIE)
    member.goto("/")
    member.keyboard.press("Tab")
    expect(member.locator(":focus")).to_have_text("Aller au contenu")
    member.keyboard.press("Enter")
    expect(member.locator("main")).to_be_focused()
    pages["home"] = member
    room = open_page(MARIE)
    open_chantier_room(room)
    pages["room"] = room
    observer = open_page(LOUISE)
    open_chantier_room(observer)
    pages["observer"] = observer
    missing = open_page(MARIE)
    missing.goto("/salons/99999")
    pages["404"] = missing
    problems = {name: a11y_problems(page) for name, page in pages.items()}
    assert problems == {name: [] for name in pages}
