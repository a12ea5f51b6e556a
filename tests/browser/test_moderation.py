"""Moderation in the room page, live between a copilot and members: hiding with a
reason, pins, lock, flags reaching the copilot's queue, an announcement acknowledged."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.helpers import MARIE, PAUL, a11y_problems, open_chantier_room, screenshot

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]
PIERRE = "pierre.rouquette@demo.atelier.test"  # copilote of group 3 (chantier 3.2's group)


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
