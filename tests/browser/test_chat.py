"""Two members in one chantier room, live: messages, replies, reactions, typing; hostile
Markdown stays inert; the room works on a phone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.helpers import (
    DESKTOP,
    MARIE,
    PAUL,
    PHONE,
    PIERRE,
    a11y_problems,
    open_chantier_room,
    screenshot,
)
from tests.processes import ServerProcess, login_cookie

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]


def confirmed(page: Any, text: str) -> Any:
    """The message containing ``text`` once the server has it (it has an id)."""
    return page.locator("article.msg[data-id]", has_text=text)


def both_online(marie: Any, paul: Any) -> None:
    expect(marie.locator("#presence-list")).to_contain_text("Paul Sicard")
    expect(paul.locator("#presence-list")).to_contain_text("Marie Dupont")


def test_two_members_talk_live_reply_and_react(open_page: OpenPage) -> None:
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_chantier_room(marie)
    open_chantier_room(paul)
    expect(marie.get_by_role("heading", level=1)).to_have_text("La politique des bourgs-centres")
    both_online(marie, paul)

    tag = uuid.uuid4().hex[:8]
    question = f"Pouvons-nous fixer la visio à jeudi 14 h ? ({tag})"
    marie.get_by_label("Votre message", exact=True).fill(question)
    marie.get_by_label("Votre message", exact=True).press("Enter")
    expect(marie.get_by_label("Votre message", exact=True)).to_have_value("")
    on_paul = confirmed(paul, question)
    expect(on_paul).to_be_visible()
    expect(on_paul.locator(".msg-author")).to_have_text("Marie Dupont")
    expect(on_paul.locator(".msg-topic")).to_contain_text("Discussion générale")
    expect(on_paul.locator("time")).to_contain_text("aujourd'hui")
    expect(confirmed(marie, question)).to_be_visible()
    expect(marie.locator("article.msg-pending")).to_have_count(0)
    # A screen reader hears it as one sentence, not the article with its time and buttons;
    # one's own messages are not read out.
    expect(paul.locator("#messages")).to_have_attribute("aria-live", "off")
    expect(paul.locator("#message-announcer")).to_have_attribute("aria-live", "polite")
    expect(paul.locator("#message-announcer p")).to_have_text(
        [f"Marie Dupont, Discussion générale : {question}"]
    )
    expect(marie.locator("#message-announcer p")).to_have_count(0)

    on_paul.get_by_role("button", name="Répondre au message de Marie Dupont").click()
    expect(paul.locator("#reply-preview")).to_contain_text("Réponse à Marie Dupont")
    answer_end = f"je prépare l'ordre du jour. ({tag})"
    answer = f"Jeudi me convient @**Marie Dupont**, {answer_end}"
    paul.get_by_label("Votre message", exact=True).fill(answer)
    expect(marie.locator("#typing")).to_have_text("Paul Sicard écrit…")
    paul.get_by_role("button", name="Envoyer").click()
    reply = confirmed(marie, answer_end)
    expect(reply).to_be_visible()
    expect(reply.locator(".msg-reply")).to_contain_text("En réponse à Marie Dupont")
    expect(reply.locator(".msg-reply")).to_contain_text(question[:30])
    expect(reply.locator(".mention.mention-me")).to_have_text("@Marie Dupont")
    expect(reply).to_have_class(re.compile("msg-mentions-me"))
    expect(marie.locator("#typing")).to_have_text("")
    expect(marie.locator("#message-announcer p").last).to_have_text(
        f"Paul Sicard, Discussion générale : Jeudi me convient @Marie Dupont, {answer_end}"
    )
    assert a11y_problems(marie) == []
    screenshot(marie, "room-desktop")

    reply.get_by_role("button", name="Réagir au message de Paul Sicard").click()
    assert a11y_problems(marie) == []  # the palette open
    reply.get_by_role("group", name="Choisir une réaction").get_by_role("button", name="🎉").click()
    badge_on_paul = confirmed(paul, answer_end).locator(".msg-reactions .reaction")
    expect(badge_on_paul).to_have_count(1)
    expect(badge_on_paul).to_have_attribute("aria-pressed", "false")
    expect(badge_on_paul).to_have_attribute("title", "Marie Dupont")
    expect(badge_on_paul).to_contain_text("1")
    badge_on_paul.click()
    expect(badge_on_paul).to_have_attribute("aria-pressed", "true")
    badge_on_marie = reply.locator(".msg-reactions .reaction")
    expect(badge_on_marie).to_contain_text("2")
    expect(badge_on_marie).to_have_attribute("aria-label", re.compile("2 réactions : vous, Paul"))
    badge_on_marie.click()
    expect(badge_on_paul).to_contain_text("1")
    expect(badge_on_paul).to_have_attribute("title", "vous")

    # A member's "#" heading sits under the page's own (the room's h1, the list's h2).
    marie.get_by_label("Votre message", exact=True).fill(f"# Ordre du jour {tag}")
    marie.get_by_label("Votre message", exact=True).press("Enter")
    agenda = confirmed(paul, f"Ordre du jour {tag}")
    expect(agenda.get_by_role("heading", level=3)).to_have_text(f"Ordre du jour {tag}")
    assert a11y_problems(paul) == []
    screenshot(paul, "room-desktop-paul")


def test_edit_and_delete_own_message_show_on_the_other_side(open_page: OpenPage) -> None:
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_chantier_room(marie)
    open_chantier_room(paul)
    both_online(marie, paul)
    tag = uuid.uuid4().hex[:8]
    marie.get_by_label("Votre message", exact=True).fill(f"Brouillon {tag}")
    marie.keyboard.press("Enter")
    # While edited the text is in a textarea, not in the article's text: find it by id.
    mine = marie.locator(f"#{confirmed(marie, tag).get_attribute('id')}")
    mine.get_by_role("button", name="Modifier votre message").click()
    editor = mine.get_by_role("textbox", name="Modifier le texte du message")
    expect(editor).to_be_focused()
    editor.fill(f"Version **corrigée** {tag}")
    editor.press("Enter")
    on_paul = confirmed(paul, tag)
    expect(on_paul.locator(".msg-body strong")).to_have_text("corrigée")
    expect(on_paul.locator(".msg-edited")).to_have_text("(modifié)")
    expect(mine.get_by_role("button", name="Modifier votre message")).to_be_focused()

    marie.once("dialog", lambda dialog: dialog.accept())
    mine.get_by_role("button", name="Supprimer votre message").click()
    tombstone = paul.locator("article.msg-deleted").last
    expect(tombstone).to_have_text(re.compile("Message supprimé"))
    expect(paul.get_by_text(tag)).to_have_count(0)


def test_a_deleted_messages_topic_leaves_the_others_list_without_asking_the_server(
    open_page: OpenPage,
) -> None:
    """Each browser counts its room's topics: a deletion does not send every member back to
    the server for the list, which recounts the whole room each time (finding 36)."""
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_chantier_room(marie)
    open_chantier_room(paul)
    both_online(marie, paul)
    asked: list[str] = []
    paul.on(
        "request", lambda request: asked.append(request.url) if "/topics" in request.url else None
    )

    tag = uuid.uuid4().hex[:8]
    topic = f"Budget {tag}"
    marie.get_by_label("Sujet", exact=True).fill(topic)
    marie.get_by_label("Votre message", exact=True).fill(f"Une première piste ({tag})")
    marie.get_by_label("Votre message", exact=True).press("Enter")
    in_list = paul.locator("#topic-list button.topic-button", has_text=topic)
    expect(in_list).to_have_count(1)

    marie.once("dialog", lambda dialog: dialog.accept())
    confirmed(marie, tag).get_by_role("button", name="Supprimer votre message").click()
    expect(paul.locator("article.msg-deleted").last).to_have_text(re.compile("Message supprimé"))
    expect(in_list).to_have_count(0)
    paul.wait_for_timeout(300)  # a request the deletion made would have gone by now
    assert asked == []


def test_hostile_message_renders_as_inert_text(open_page: OpenPage) -> None:
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_chantier_room(marie)
    open_chantier_room(paul)
    both_online(marie, paul)
    tag = uuid.uuid4().hex[:8]
    hostile = (
        f"Test {tag} <script>window.__pwned=1</script> "
        '<img src=x onerror="window.__pwned=1"> '
        "[clic](javascript:window.__pwned=1)"
    )
    marie.get_by_label("Votre message", exact=True).fill(hostile)
    marie.get_by_role("button", name="Envoyer").click()
    for page in (marie, paul):
        message = confirmed(page, tag)
        expect(message).to_contain_text("<script>window.__pwned=1</script>")
        expect(message).to_contain_text('<img src=x onerror="window.__pwned=1">')
        assert message.locator("script, img, iframe, object, embed").count() == 0
        hrefs = message.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h and h.strip().lower().startswith("javascript")]
        message.get_by_text("clic", exact=False).click()
        assert page.evaluate("() => window.__pwned") is None
        assert page.locator("img[src='x']").count() == 0


def test_room_is_usable_on_a_phone(open_page: OpenPage) -> None:
    page = open_page(PAUL, viewport=PHONE, is_mobile=True, has_touch=True)
    open_chantier_room(page)
    composer = page.get_by_label("Votre message", exact=True)
    send = page.get_by_role("button", name="Envoyer")
    for control in (composer, send, page.get_by_label("Sujet", exact=True)):
        expect(control).to_be_visible()
        expect(control).to_be_in_viewport()
        box = control.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= PHONE["height"]
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    tag = uuid.uuid4().hex[:8]
    composer.fill(f"Envoyé depuis mon téléphone ({tag})")
    send.tap()
    expect(confirmed(page, tag)).to_be_in_viewport()
    page.get_by_role("button", name="Calendrier").tap()
    expect(page.get_by_role("button", name="Calendrier")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#messages article.msg")).not_to_have_count(0)
    expect(page.get_by_label("Sujet", exact=True)).to_have_value("Calendrier")
    screenshot(page, "room-phone")


def test_a_copilots_room_bar_fits_a_phone(open_page: OpenPage) -> None:
    """A copilot's room has three panels (about, moderation, presence): side by side with
    the topics on one row, they left the topics a few pixels and opened the first panel
    off the screen. The topics keep a row of their own; each panel opens on the screen."""
    page = open_page(PIERRE, viewport=PHONE, is_mobile=True, has_touch=True)
    open_chantier_room(page)
    width = PHONE["width"]

    def on_screen(locator: Any) -> None:
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        assert box is not None
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= width, box

    topics = page.locator("#topic-list")
    box = topics.bounding_box()
    assert box is not None
    assert box["width"] >= width * 0.8, box
    on_screen(page.get_by_role("button", name=re.compile("^Tous les sujets")))
    panels = (
        ("#room-info", ".side-panel-body"),
        ("#mod-tools", ".side-panel-body"),
        ("#presence", ".presence-list"),
    )
    for panel, body in panels:
        summary = page.locator(f"{panel} > summary")
        on_screen(summary)
        if page.locator(panel).get_attribute("open") is None:
            summary.tap()
        on_screen(page.locator(f"{panel} {body}"))
        screenshot(page, f"room-phone-copilot-{panel[1:]}")
        summary.tap()
        expect(page.locator(f"{panel} {body}")).to_be_hidden()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.get_by_role("button", name="Calendrier").tap()
    expect(page.locator("#composer-topic")).to_have_value("Calendrier")


def test_message_written_offline_is_sent_once_after_the_server_comes_back(
    browser: Any, built_assets: None, tmp_path: Path
) -> None:
    """The outbox survives a lost connection and is re-sent with the same client_id."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/atelier.db"
    first = ServerProcess(database_url).start()
    second: ServerProcess | None = None
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR", base_url=first.base_url)
    try:
        cookie = login_cookie(first.base_url, MARIE)
        context.add_cookies([{"name": "atelier_session", "value": cookie, "url": first.base_url}])
        page = context.new_page()
        open_chantier_room(page)
        expect(page.locator("#presence-list")).to_contain_text("Marie Dupont")
        first.stop()
        expect(page.locator("#conn-status")).to_contain_text("Connexion perdue")

        tag = uuid.uuid4().hex[:8]
        page.get_by_label("Votre message", exact=True).fill(f"Écrit hors connexion ({tag})")
        page.keyboard.press("Enter")
        expect(page.locator("article.msg-pending")).to_contain_text("En attente de connexion")
        screenshot(page, "room-offline")

        second = ServerProcess(database_url, port=first.port).start()
        expect(confirmed(page, tag)).to_have_count(1, timeout=20_000)
        expect(page.locator("article.msg-pending")).to_have_count(0)
        expect(page.locator("#conn-status")).to_contain_text("Connecté")
        room_id = page.url.rsplit("/", 1)[1]
        stored = httpx.get(
            f"{second.base_url}/api/rooms/{room_id}/messages",
            cookies={"atelier_session": cookie},
        ).json()["messages"]
        assert [m["source"] for m in stored].count(f"Écrit hors connexion ({tag})") == 1
    finally:
        context.close()
        first.stop()
        if second is not None:
            second.stop()
