"""Comments and suggestions in the draft editor, in the browser: a member selects a
passage and comments on it, a rapporteur (another browser) sees it come, replies and
resolves it; a member proposes a replacement that the rapporteur accepts, and every
open editor's text changes; an observer reads the comments without a form; the panel
works on a phone (a third tab) — without a single Content-Security-Policy violation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.helpers import LOUISE, MARIE, OLIVIER, PAUL, PHONE, a11y_problems, screenshot
from tests.browser.test_drafts import (
    create_draft,
    draft_bundle,  # noqa: F401 - the autouse fixture that builds the draft bundle
    editor,
    open_draft,
    shared_text,
    shown_text,
)
from tests.processes import ServerProcess

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]
Cookies = Callable[[str], str]


# Accents and an emoji (two UTF-16 units, one character) come before the passages: the
# browser counts UTF-16 units, the server characters, pycrdt a mix of both.
TEXT = (
    "## Bourgs-centres 🏘\n\n"
    "Les commerces de proximité ferment à Figeac.\n\n"
    "Les écoles rurales résistent mieux."
)

PASSAGE_BOX = """text => {
    const view = window.atelierDraft.editor.view;
    const from = view.state.doc.toString().indexOf(text);
    if (from < 0) return null;
    const a = view.coordsAtPos(from, 1);
    const b = view.coordsAtPos(from + text.length, -1);
    return [a.left, (a.top + a.bottom) / 2, b.right, (b.top + b.bottom) / 2];
}"""

SELECTED = """() => {
    const view = window.atelierDraft.editor.view;
    const sel = view.state.selection.main;
    return view.state.sliceDoc(sel.from, sel.to);
}"""


def write_text(page: Any, text: str) -> None:
    editor(page).click()
    page.keyboard.type(text)
    page.wait_for_function("t => window.atelierDraft.ytext.toString() === t", arg=text)


def select_text(page: Any, text: str) -> None:
    """Select ``text`` in the editor with the mouse, as a member would."""
    box = page.evaluate(PASSAGE_BOX, text)
    assert box, f"{text!r} is not in the editor"
    x1, y1, x2, y2 = box
    page.mouse.move(x1 + 1, y1)
    page.mouse.down()
    page.mouse.move(x2 - 1, y2, steps=6)
    page.mouse.up()
    page.wait_for_function(f"t => ({SELECTED})() === t", arg=text)


def panel(page: Any) -> Any:
    return page.locator("#draft-panel-comments")


def thread(page: Any, quote: str) -> Any:
    return page.locator(".draft-thread").filter(has=page.locator("q", has_text=quote))


def open_as(open_page: OpenPage, email: str, draft_id: int, **options: Any) -> Any:
    page = open_page(email, **options)
    open_draft(page, draft_id)
    expect(page.locator("#draft-comments-note")).not_to_have_text("Chargement des commentaires…")
    return page


def new_draft(app_server: ServerProcess, cookies: Cookies, title: str) -> int:
    return create_draft(app_server, cookies(MARIE), f"{title} {uuid.uuid4().hex[:6]}")


def test_member_comments_and_rapporteur_replies_and_resolves(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    draft_id = new_draft(app_server, cookies, "Retours de terrain")
    marie = open_as(open_page, MARIE, draft_id)
    write_text(marie, TEXT)

    olivier = open_as(open_page, OLIVIER, draft_id)
    expect(olivier.locator(".cm-line", has_text="écoles rurales")).to_be_visible()
    expect(editor(olivier)).to_have_attribute("aria-readonly", "true")
    expect(panel(olivier)).to_contain_text("Aucun commentaire pour l'instant.")

    # Nothing selected: the button says why it cannot act yet (and stays reachable).
    comment_button = olivier.get_by_role("button", name="Commenter la sélection")
    expect(comment_button).to_have_attribute("aria-disabled", "true")
    expect(comment_button).to_have_accessible_description(
        "Sélectionnez d'abord un passage du texte pour le commenter ou proposer une modification."
    )
    comment_button.focus()
    olivier.keyboard.press("Enter")
    expect(olivier.locator(".draft-comment-form")).to_have_count(0)
    expect(olivier.locator("#draft-announcer")).to_have_text(
        "Sélectionnez d'abord un passage du texte pour le commenter ou proposer une modification."
    )

    # He selects a passage, comments on it.
    select_text(olivier, "commerces de proximité")
    expect(comment_button).not_to_have_attribute("aria-disabled", "true")
    comment_button.click()
    form = olivier.get_by_role("form", name="Commenter le passage")
    expect(form.locator(".draft-form-quote q")).to_have_text("commerces de proximité")
    body = form.get_by_label("Votre commentaire")
    expect(body).to_be_focused()
    # An empty comment is refused before it leaves, with the reason said.
    form.get_by_role("button", name="Publier le commentaire").click()
    expect(form.get_by_role("alert")).to_have_text("Écrivez votre commentaire avant de le publier.")
    expect(body).to_have_attribute("aria-invalid", "true")
    body.fill("Lesquels ? Il faudrait **des chiffres** de la CCI.")
    form.get_by_role("button", name="Publier le commentaire").click()
    expect(form).to_have_count(0)

    mine = thread(olivier, "commerces de proximité")
    expect(mine).to_contain_text("Olivier Gay")
    expect(mine).to_contain_text("Ouvert")
    expect(mine.locator(".draft-comment-body strong")).to_have_text("des chiffres")
    expect(olivier.locator(".cm-comment")).to_have_text("commerces de proximité")
    expect(olivier.locator("#draft-comments-title")).to_have_text("Commentaires (1)")
    expect(olivier.locator("#draft-announcer")).to_have_text("Commentaire publié.")
    # He may resolve his own comment, not accept anything.
    expect(mine.get_by_role("button", name="Résoudre")).to_be_visible()
    # (Before any screenshot: Playwright's caret hiding leaves style="" on inputs.)
    assert a11y_problems(olivier) == []
    screenshot(olivier, "draft-comments-member")

    # Marie's page learns of it without a reload.
    hers = thread(marie, "commerces de proximité")
    expect(hers).to_contain_text("Lesquels ? Il faudrait des chiffres de la CCI.")
    expect(marie.locator(".cm-comment")).to_have_text("commerces de proximité")
    announcer = marie.locator("#draft-announcer")
    expect(announcer).to_contain_text("Olivier Gay a ajouté un commentaire.")

    # The thread leads to its passage: a click, or Enter on its quote.
    editor(marie).click()
    marie.keyboard.press("Control+End")
    hers.locator(".draft-comment-body").click()
    marie.wait_for_function(f"() => ({SELECTED})() === 'commerces de proximité'")
    editor(marie).click()
    marie.keyboard.press("Control+End")
    quote = hers.get_by_role("button", name="Voir dans le texte : commerces de proximité")
    quote.focus()
    marie.keyboard.press("Enter")
    marie.wait_for_function(f"() => ({SELECTED})() === 'commerces de proximité'")
    expect(marie.locator(".cm-comment-active")).to_have_text("commerces de proximité")
    expect(hers).to_have_class("draft-thread is-current")

    # She replies.
    hers.get_by_role("button", name="Répondre").click()
    reply = hers.get_by_label("Votre réponse")
    expect(reply).to_be_focused()
    reply.fill("Je demande les chiffres à la CCI du Lot.")
    reply.press("Control+Enter")
    expect(hers.locator(".draft-reply")).to_contain_text("Je demande les chiffres à la CCI du Lot.")
    expect(hers.get_by_role("button", name="Répondre")).to_be_focused()
    expect(mine.locator(".draft-reply")).to_contain_text("Marie Dupont")
    expect(mine.locator(".draft-reply")).to_contain_text("CCI du Lot")

    # Reloaded, the page shows the same thread.
    marie.reload()
    expect(marie.locator("#draft-status")).to_have_text("Connecté")
    hers = thread(marie, "commerces de proximité")
    expect(hers.locator(".draft-reply")).to_contain_text("CCI du Lot")
    expect(marie.locator(".cm-comment")).to_have_text("commerces de proximité")
    expect(marie.locator("#draft-words")).to_have_text("13 mots")
    assert a11y_problems(marie) == []
    screenshot(marie, "draft-comments-desktop")

    # She resolves it: folded under "Commentaires résolus (1)", on both pages.
    hers.get_by_role("button", name="Résoudre").click()
    expect(marie.locator("#draft-announcer")).to_contain_text("Commentaire résolu.")
    resolved = marie.locator("#draft-resolved")
    expect(resolved.locator("summary")).to_have_text("Commentaires résolus (1)")
    expect(resolved).not_to_have_attribute("open", "")
    expect(thread(marie, "commerces de proximité")).to_be_hidden()
    expect(marie.locator(".cm-comment")).to_have_count(0)
    expect(marie.locator("#draft-comments-title")).to_have_text("Commentaires")
    expect(panel(marie)).to_contain_text("Aucun commentaire ouvert.")
    resolved.locator("summary").click()
    expect(thread(marie, "commerces de proximité")).to_contain_text("Résolu")
    expect(olivier.locator("#draft-resolved summary")).to_have_text("Commentaires résolus (1)")
    expect(olivier.locator(".cm-comment")).to_have_count(0)

    # Reopened by its author.
    olivier.locator("#draft-resolved summary").click()
    thread(olivier, "commerces de proximité").get_by_role("button", name="Rouvrir").click()
    expect(thread(olivier, "commerces de proximité")).to_contain_text("Ouvert")
    expect(olivier.locator("#draft-resolved")).to_be_hidden()
    expect(marie.locator(".cm-comment")).to_have_text("commerces de proximité")


def test_member_suggests_and_rapporteur_accepts(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    draft_id = new_draft(app_server, cookies, "Synthèse")
    marie = open_as(open_page, MARIE, draft_id)
    write_text(marie, TEXT)
    paul = open_as(open_page, PAUL, draft_id)
    olivier = open_as(open_page, OLIVIER, draft_id)
    expect(olivier.locator(".cm-line", has_text="écoles rurales")).to_be_visible()

    # Olivier proposes a change: the field starts with the passage.
    select_text(olivier, "ferment")
    olivier.get_by_role("button", name="Proposer une modification").click()
    form = olivier.get_by_role("form", name="Proposer une modification")
    proposed = form.get_by_label("Texte proposé")
    expect(proposed).to_have_value("ferment")
    expect(proposed).to_be_focused()
    # While he writes, the passage stays marked in the text.
    expect(olivier.locator(".cm-comment-pending")).to_have_text("ferment")
    proposed.fill("ferment peu à peu")
    form.get_by_label("Explication (facultative)").fill("Le mouvement est progressif.")

    # The network drops: he is told, and nothing is lost.
    olivier.context.set_offline(True)
    form.get_by_role("button", name="Envoyer la suggestion").click()
    expect(form.get_by_role("alert")).to_contain_text("Connexion impossible")
    expect(proposed).to_have_value("ferment peu à peu")
    olivier.context.set_offline(False)
    expect(olivier.locator("#draft-status")).to_have_text("Connecté", timeout=15_000)
    form.get_by_role("button", name="Envoyer la suggestion").click()
    expect(form).to_have_count(0)
    expect(olivier.locator(".cm-comment-pending")).to_have_count(0)

    suggestion = thread(olivier, "ferment")
    expect(suggestion).to_contain_text("Suggestion en attente")
    expect(suggestion).to_contain_text("Proposé : ferment peu à peu")
    expect(suggestion.get_by_role("button", name="Accepter")).to_have_count(0)
    expect(olivier.locator(".cm-comment-suggestion")).to_have_text("ferment")

    # The rapporteurs see it with the means to decide.
    theirs = thread(marie, "ferment")
    expect(theirs).to_contain_text("Le mouvement est progressif.")
    expect(thread(paul, "ferment").get_by_role("button", name="Accepter")).to_be_visible()
    screenshot(marie, "draft-suggestion-desktop")
    # Paul's page misses the news (its list requests fail) and keeps the buttons.
    paul.route("**/api/drafts/*/comments", lambda route: route.abort())

    theirs.get_by_role("button", name="Accepter").click()
    expect(marie.locator("#draft-announcer")).to_contain_text(
        "Suggestion acceptée : le texte est modifié."
    )
    expected = TEXT.replace("ferment", "ferment peu à peu")
    for page in (marie, paul, olivier):
        page.wait_for_function("t => window.atelierDraft.ytext.toString() === t", arg=expected)
        expect(page.locator(".cm-line", has_text="ferment peu à peu à Figeac")).to_be_visible()
    assert shown_text(marie) == shown_text(paul) == expected
    assert shared_text(olivier) == expected
    expect(marie.locator("#draft-resolved summary")).to_have_text("Commentaires résolus (1)")
    marie.locator("#draft-resolved summary").click()
    expect(thread(marie, "ferment")).to_contain_text("Suggestion acceptée")
    expect(thread(olivier, "ferment")).to_contain_text("Suggestion acceptée")

    # Paul, a step behind, accepts too: the server's refusal is said, in French.
    paul.unroute("**/api/drafts/*/comments")
    stale = thread(paul, "ferment")
    expect(stale.get_by_role("button", name="Accepter")).to_be_visible()
    paul.route(
        "**/api/drafts/*/comments",
        lambda route: route.abort() if route.request.method == "GET" else route.continue_(),
    )
    stale.get_by_role("button", name="Accepter").click()
    expect(paul.locator("#draft-comments-alert")).to_have_text(
        "Cette suggestion a déjà été traitée."
    )
    paul.unroute("**/api/drafts/*/comments")
    assert shared_text(paul) == expected


def test_observer_reads_comments_without_forms(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    draft_id = new_draft(app_server, cookies, "Relevé")
    marie = open_as(open_page, MARIE, draft_id)
    write_text(marie, TEXT)
    select_text(marie, "écoles rurales")
    marie.get_by_role("button", name="Commenter la sélection").click()
    marie.get_by_label("Votre commentaire").fill("Source : rectorat.")
    marie.get_by_role("button", name="Publier le commentaire").click()
    expect(thread(marie, "écoles rurales")).to_be_visible()

    louise = open_as(open_page, LOUISE, draft_id)
    shown = thread(louise, "écoles rurales")
    expect(shown).to_contain_text("Source : rectorat.")
    expect(shown).to_contain_text("Marie Dupont")
    expect(louise.locator(".cm-comment")).to_have_text("écoles rurales")
    # No way to write: no selection bar, no reply, no resolve.
    expect(louise.locator("#draft-select-bar")).to_have_count(0)
    expect(louise.get_by_role("button", name="Commenter la sélection")).to_have_count(0)
    expect(louise.get_by_role("button", name="Proposer une modification")).to_have_count(0)
    expect(shown.get_by_role("button", name="Répondre")).to_have_count(0)
    expect(shown.get_by_role("button", name="Résoudre")).to_have_count(0)
    expect(louise.locator("textarea")).to_have_count(0)
    # She can still go to the passage.
    shown.get_by_role("button", name="Voir dans le texte : écoles rurales").click()
    louise.wait_for_function(f"() => ({SELECTED})() === 'écoles rurales'")
    assert a11y_problems(louise) == []
    screenshot(louise, "draft-comments-observer")


def test_comments_on_a_phone(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    draft_id = new_draft(app_server, cookies, "Notes")
    marie = open_as(open_page, MARIE, draft_id)
    write_text(marie, TEXT)

    page = open_as(open_page, OLIVIER, draft_id, viewport=PHONE, is_mobile=True, has_touch=True)
    tabs = page.get_by_role("tablist", name="Rédaction, aperçu ou commentaires")
    write = tabs.get_by_role("tab", name="Texte")
    comments = tabs.get_by_role("tab", name="Commentaires")
    expect(write).to_have_attribute("aria-selected", "true")
    expect(panel(page)).to_be_hidden()

    # Select with the keyboard in the read-only text, then comment: the form opens in
    # the comments tab.
    page.locator(".cm-line", has_text="écoles rurales").click()
    page.keyboard.press("Home")
    for _ in range(len("Les écoles")):
        page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function(f"() => ({SELECTED})() === 'Les écoles'")
    page.get_by_role("button", name="Commenter la sélection").tap()
    expect(comments).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Votre commentaire")).to_be_focused()
    assert a11y_problems(page) == []
    screenshot(page, "draft-comments-phone-form")
    page.get_by_label("Votre commentaire").fill("Lesquelles ? Citer Cajarc et Marcilhac.")
    page.get_by_role("button", name="Publier le commentaire").tap()
    expect(thread(page, "Les écoles")).to_contain_text("Citer Cajarc")
    expect(comments).to_have_text("Commentaires (1)")
    assert page.evaluate("() => document.querySelector('main').scrollWidth") <= PHONE["width"]
    for locator in (tabs, panel(page)):
        box = locator.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    screenshot(page, "draft-comments-phone")

    # The tabs follow the keyboard: End is the comments.
    write.focus()
    page.keyboard.press("End")
    expect(comments).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(write).to_have_attribute("aria-selected", "true")
    comments.tap()

    # The thread leads back to the text, on the passage.
    thread(page, "Les écoles").get_by_role("button", name="Voir dans le texte").tap()
    expect(write).to_have_attribute("aria-selected", "true")
    expect(editor(page)).to_be_focused()
    page.wait_for_function(f"() => ({SELECTED})() === 'Les écoles'")
    screenshot(page, "draft-comments-phone-passage")

    # The skip link leads to the comments, on their tab.
    page.get_by_role("link", name="Aller aux commentaires").focus()
    page.keyboard.press("Enter")
    expect(comments).to_have_attribute("aria-selected", "true")
    expect(panel(page)).to_be_focused()
