"""Moderation in the room page, live between a copilot and members: hiding with a
reason, pins, lock, flags reaching the copilot's queue, an announcement acknowledged;
a mute and a block given from a message's menu and lifted from the moderation page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.helpers import (
    HELENE,
    MARIE,
    PAUL,
    PHONE,
    PIERRE,
    a11y_problems,
    open_chantier_room,
    screenshot,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]
ELODIE = "elodie.cazals@demo.atelier.test"  # member of group 3: writes in chantier 3.2's room


def confirmed(page: Any, text: str) -> Any:
    return page.locator("article.msg[data-id]", has_text=text)


def post(page: Any, text: str) -> None:
    page.get_by_label("Votre message", exact=True).fill(text)
    page.get_by_label("Votre message", exact=True).press("Enter")
    expect(confirmed(page, text)).to_be_visible()


def test_copilot_moderates_and_members_see_it(open_page: OpenPage) -> None:
    pierre, marie, paul = open_page(PIERRE), open_page(MARIE), open_page(PAUL)
    for page in (pierre, marie, paul):
        open_chantier_room(page)
    expect(marie.locator("#mod-tools")).to_have_count(0)
    tools = pierre.locator("#mod-tools")
    tools.locator("summary").click()
    expect(tools.get_by_role("link", name="Journal de modération")).to_be_visible()
    tag = uuid.uuid4().hex[:8]

    # Hiding with a reason: the room sees the tombstone, the author is told why.
    post(marie, f"Message déplacé {tag}")
    on_pierre = confirmed(pierre, tag)
    on_pierre.get_by_role("button", name="Modérer le message de Marie Dupont").click()
    pierre.once("dialog", lambda dialog: dialog.accept("Hors charte"))
    on_pierre.get_by_role("button", name="Masquer…").click()
    expect(paul.locator("article.msg-hidden").last).to_have_text(
        re.compile("Message masqué par la modération")
    )
    expect(paul.get_by_text(f"Message déplacé {tag}")).to_have_count(0)
    expect(marie.locator("#chat-alert")).to_contain_text("Motif : Hors charte")

    # Pinning: the pin shows in everyone's side panel.
    post(marie, f"Compte rendu en ligne {tag}")
    pinned = confirmed(pierre, f"Compte rendu en ligne {tag}")
    pinned.get_by_role("button", name="Modérer le message de Marie Dupont").click()
    pinned.get_by_role("button", name="Épingler").click()
    expect(paul.locator("#pin-list")).to_contain_text(f"Compte rendu en ligne {tag}")
    expect(confirmed(paul, f"Compte rendu en ligne {tag}").locator(".msg-pin")).to_have_text(
        "Épinglé"
    )

    # A member flags a message: it reaches the copilot's queue live.
    post(pierre, f"Message de la modération {tag}")
    post(marie, f"Achetez mes bougies {tag}")
    flagged = confirmed(paul, f"Achetez mes bougies {tag}")
    flagged.get_by_role(
        "button", name="Signaler le message de Marie Dupont à la modération"
    ).click()
    flagged.get_by_label("Motif").select_option("spam")
    flagged.get_by_label("Précision (facultatif)").fill("publicité")
    flagged.get_by_role("button", name="Envoyer le signalement").click()
    queue = pierre.locator("#flag-queue")
    expect(queue).to_contain_text(f"Achetez mes bougies {tag}")
    expect(queue).to_contain_text("Indésirable (spam) (1)")
    expect(pierre.locator("#flag-count")).to_have_text("1")
    queue.locator(".flag-item", has_text=tag).get_by_role(
        "button", name="Garder le message"
    ).click()
    expect(queue).not_to_contain_text(tag)

    # Lock: members see why they cannot write; the copilot still writes; then unlock.
    pierre.once("dialog", lambda dialog: dialog.accept("Pause"))
    tools.get_by_role("button", name="Verrouiller le salon").click()
    expect(marie.locator("#room-status")).to_have_text(
        "Salon verrouillé par la modération : lecture seule."
    )
    marie.get_by_label("Votre message", exact=True).fill("pendant la pause")
    marie.get_by_label("Votre message", exact=True).press("Enter")
    expect(marie.locator("#chat-alert")).to_contain_text("verrouillé")
    tools.get_by_role("button", name="Déverrouiller le salon").click()
    expect(marie.locator("#room-status")).to_have_text("")

    # An announcement to acknowledge; the copilot sees the count, not the members.
    tools.get_by_label("Annonce à faire lire").fill(f"Réunion **jeudi** à 9 h 30 ({tag})")
    tools.get_by_role("button", name="Publier l'annonce").click()
    banner = marie.locator(".announcement", has_text=tag)
    expect(banner.locator("strong")).to_have_text("jeudi")
    assert not a11y_problems(marie)
    screenshot(marie, "room-moderation-member")
    banner.get_by_role("button", name="J'ai pris connaissance").click()
    expect(banner).to_have_count(0)
    expect(pierre.locator(".announcement", has_text=tag)).to_contain_text("1 prise de connaissance")
    paul.locator(".announcement", has_text=tag).get_by_role(
        "button", name="J'ai pris connaissance"
    ).click()
    expect(pierre.locator(".announcement", has_text=tag)).to_contain_text(
        "2 prises de connaissance"
    )
    assert not a11y_problems(pierre)
    screenshot(pierre, "room-moderation-copilot")

    # The log page, in French.
    pierre.get_by_role("link", name="Journal de modération").click()
    expect(pierre.get_by_role("heading", level=1)).to_contain_text("Modération")
    expect(pierre.locator("table").last).to_contain_text("Hors charte")
    assert not a11y_problems(pierre)
    screenshot(pierre, "room-moderation-log", full_page=True)


def open_moderation_page(page: Any) -> None:
    """From the room, through the moderation tools' link."""
    tools = page.locator("#mod-tools")
    if tools.get_attribute("open") is None:
        tools.locator("summary").click()
    tools.get_by_role("link", name="Journal de modération").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Modération")


def test_a_menu_opened_on_the_last_message_is_shown_on_a_phone(open_page: OpenPage) -> None:
    """The moderation menu and the reactions' palette open under their message: on the
    last message of a phone's short list they opened below what the scroller showed."""
    page = open_page(PIERRE, viewport=PHONE, is_mobile=True, has_touch=True)
    open_chantier_room(page)
    last = page.locator("article.msg[data-id]").last
    last.scroll_into_view_if_needed()
    last.get_by_role("button", name=re.compile("^Modérer le message")).tap()
    # Nearly whole: scrolled to the scroller's edge, a fraction of a pixel may stay out
    # (before, 4 % of the button showed).
    expect(last.get_by_role("button", name="Masquer…")).to_be_in_viewport(ratio=0.95)
    expect(last.locator(".msg-modmenu")).to_be_in_viewport(ratio=0.95)
    screenshot(page, "moderation-menu-phone")
    last.get_by_role("button", name=re.compile("^Réagir")).tap()
    expect(last.locator(".msg-palette")).to_be_in_viewport(ratio=0.95)


def test_copilot_mutes_from_the_menu_and_lifts_it_from_the_moderation_page(
    open_page: OpenPage,
) -> None:
    pierre, elodie = open_page(PIERRE), open_page(ELODIE)
    for page in (pierre, elodie):
        open_chantier_room(page)
    tag = uuid.uuid4().hex[:8]
    post(elodie, f"Encore et encore {tag}")
    message = confirmed(pierre, tag)
    message.get_by_role("button", name="Modérer le message de Élodie Cazals").click()
    # Blocking across the assembly is for the comité and the administrators.
    expect(message.get_by_role("button", name="Bloquer dans toute l'assemblée…")).to_have_count(0)
    pierre.once("dialog", lambda dialog: dialog.accept("Messages répétés"))
    message.get_by_role("button", name="Sourdine 1 h…").click()
    expect(elodie.locator("#chat-alert")).to_contain_text("Motif : Messages répétés")
    expect(elodie.locator("#room-status")).to_contain_text("Vous êtes en sourdine")
    elodie.get_by_label("Votre message", exact=True).fill(f"je proteste {tag}")
    elodie.get_by_label("Votre message", exact=True).press("Enter")
    expect(elodie.locator("#chat-alert")).to_contain_text("sourdine")

    open_moderation_page(pierre)
    row = pierre.locator("table.restrictions tbody tr", has_text="Élodie Cazals")
    expect(row).to_contain_text("En sourdine jusqu'au")
    expect(row).to_contain_text("Messages répétés")
    expect(row).to_contain_text("Pierre Rouquette")
    assert not a11y_problems(pierre)
    screenshot(pierre, "moderation-page-mute", full_page=True)
    # The same page on a phone: the cells stack and say what they are.
    phone = open_page(PIERRE, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(pierre.url)
    phone_row = phone.locator("table.restrictions tbody tr", has_text="Élodie Cazals")
    expect(phone_row).to_contain_text("Motif : Messages répétés")
    lift_on_phone = phone_row.get_by_role(
        "button", name="Lever la sourdine imposée à Élodie Cazals"
    )
    expect(lift_on_phone).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone_row.scroll_into_view_if_needed()
    screenshot(phone, "moderation-page-mute-phone")

    row.get_by_role("button", name="Lever la sourdine imposée à Élodie Cazals").click()
    expect(pierre.locator(".callout[role='status']")).to_have_text(
        "Sourdine levée pour Élodie Cazals : ce membre peut de nouveau écrire dans ce salon."
    )
    expect(row).to_have_count(0)
    expect(pierre.locator("table").last).to_contain_text("Sourdine levée")
    screenshot(pierre, "moderation-page-lifted")
    # Élodie is told at once, and her composer works again.
    expect(elodie.locator("#room-status")).to_have_text("")
    post(elodie, f"Merci, je serai brève {tag}")


def test_comite_blocks_from_the_menu_and_unblocks_from_the_moderation_page(
    open_page: OpenPage,
) -> None:
    helene, elodie = open_page(HELENE), open_page(ELODIE)
    for page in (helene, elodie):
        open_chantier_room(page)
    tag = uuid.uuid4().hex[:8]
    post(elodie, f"Propos déplacés {tag}")
    message = confirmed(helene, tag)
    message.get_by_role("button", name="Modérer le message de Élodie Cazals").click()
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept("Propos haineux")

    message.locator(".msg-modmenu").scroll_into_view_if_needed()
    assert not a11y_problems(helene)
    screenshot(helene, "room-menu-block")
    helene.once("dialog", answer)
    message.get_by_role("button", name="Bloquer dans toute l'assemblée…").click()
    expect(elodie.locator("#chat-alert")).to_contain_text("Motif : Propos haineux")
    expect(elodie.locator("#room-status")).to_contain_text("Votre compte est bloqué")
    assert "Élodie Cazals" in asked[0]

    open_moderation_page(helene)
    row = helene.locator("table.restrictions tbody tr", has_text="Élodie Cazals")
    expect(row).to_contain_text("Bloqué·e dans toute l'assemblée")
    assert not a11y_problems(helene)
    screenshot(helene, "moderation-page-block", full_page=True)
    row.get_by_role("button", name="Débloquer Élodie Cazals dans toute l'assemblée").click()
    expect(helene.locator(".callout[role='status']")).to_contain_text(
        "Blocage levé pour Élodie Cazals"
    )
    expect(row).to_have_count(0)
    expect(elodie.locator("#room-status")).to_have_text("")
    post(elodie, f"Je reprends calmement {tag}")
