"""Co-edited drafts in the browser: two rapporteurs write in the same draft at once and
end with the same text, the preview renders it, an observer reads without writing,
edits made offline merge on return, and the page works on a phone — without a single
Content-Security-Policy violation (the editor's styles are adopted sheets)."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.browser.helpers import (
    BOURGS_CENTRES,
    DESKTOP,
    LOUISE,
    MARIE,
    PAUL,
    PHONE,
    a11y_problems,
    screenshot,
)
from tests.processes import ROOT, ServerProcess
from tests.services import unavailable

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]
Cookies = Callable[[str], str]

ONLINE = "Connecté"
OFFLINE = "Hors ligne — vos modifications seront envoyées au retour"


@pytest.fixture(scope="module", autouse=True)
def draft_bundle(built_assets: None) -> None:
    """The draft page's bundle (the shared fixture only looks at the older two)."""
    bundle = ROOT / "web/static/build/draft.js"
    sources = list((ROOT / "web/src").glob("draft*.js"))
    if bundle.exists() and bundle.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return
    npm = shutil.which("npm")
    if npm is None:
        unavailable("the draft bundle is missing or stale and npm is absent")
        return
    subprocess.run([npm, "run", "--silent", "build"], cwd=ROOT, check=True)


def create_draft(app_server: ServerProcess, cookie: str, title: str) -> int:
    """A new, empty draft in chantier 3.2, through the form of the space's drafts page."""
    with httpx.Client(base_url=app_server.base_url, cookies={"atelier_session": cookie}) as http:
        home = http.get("/").text
        space = re.search(
            r'href="/brouillons\?espace=(chantier:\d+)">[^<]*'
            rf'<span class="visually-hidden"> — {re.escape(BOURGS_CENTRES)}</span>',
            home,
        )
        assert space, "no drafts link for chantier 3.2 on the home page"
        http.get(f"/brouillons?espace={space.group(1)}")  # hands out the CSRF cookie
        response = http.post(
            "/brouillons",
            data={
                "csrf": http.cookies["atelier_csrf"],
                "space": space.group(1),
                "title": title,
                "kind": "report",
            },
        )
        assert response.status_code == 303, response.text
        found = re.fullmatch(r"/brouillons/(\d+)", response.headers["location"])
        assert found, response.headers["location"]
        return int(found.group(1))


def open_draft(page: Any, draft_id: int) -> None:
    page.goto(f"/brouillons/{draft_id}")
    expect(page.locator("#draft-status")).to_have_text(ONLINE)


def editor(page: Any) -> Any:
    """CodeMirror's editable text (inside the editor's open shadow root)."""
    return page.get_by_role("textbox", name="Texte du brouillon (Markdown)")


def shared_text(page: Any) -> str:
    text: str = page.evaluate("() => window.atelierDraft.ytext.toString()")
    return text


SHOWN_LINES = """lines => lines.map(line => {
    const copy = line.cloneNode(true);
    for (const caret of copy.querySelectorAll(".cm-remote-caret")) caret.remove();
    return copy.textContent;
})"""


def shown_text(page: Any) -> str:
    """What the editor shows, line by line (CodeMirror draws one .cm-line per line),
    without the other members' carets and name flags."""
    lines: list[str] = page.locator(".cm-line").evaluate_all(SHOWN_LINES)
    return "\n".join(lines)


def type_at_line_end(page: Any, line_text: str, text: str) -> None:
    """Click the line containing ``line_text``, go to its end and type ``text``."""
    page.locator(".cm-line", has_text=line_text).click()
    page.keyboard.press("End")
    page.keyboard.type(text)


def test_two_rapporteurs_write_together(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    tag = uuid.uuid4().hex[:6]
    draft_id = create_draft(app_server, cookies(MARIE), f"Synthèse des auditions {tag}")
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_draft(marie, draft_id)
    open_draft(paul, draft_id)
    expect(marie.get_by_role("heading", level=1)).to_contain_text(f"Synthèse des auditions {tag}")
    expect(marie.locator("#draft-presence-list")).to_contain_text("Paul Sicard")
    expect(paul.locator("#draft-presence-list")).to_contain_text("Marie Dupont")
    expect(marie.locator("#draft-presence-title")).to_have_text("Dans le brouillon (2)")

    # Marie lays out the plan; Paul sees it arrive.
    editor(marie).click()
    marie.keyboard.type("# Titre du rapport\n\nMarie :\n\nPaul :")
    expect(paul.locator(".cm-line", has_text="Paul :")).to_be_visible()

    # Both type at once, each on a line, in turns and without waiting for each other.
    marie.locator(".cm-line", has_text="Marie :").click()
    marie.keyboard.press("End")
    paul.locator(".cm-line", has_text="Paul :").click()
    paul.keyboard.press("End")
    for marie_part, paul_part in [
        (" les bourgs", " les commerces"),
        (" structurent", " de proximité"),
        (" le territoire.", " ferment."),
    ]:
        marie.keyboard.type(marie_part)
        paul.keyboard.type(paul_part)

    expected = (
        "# Titre du rapport\n\n"
        "Marie : les bourgs structurent le territoire.\n\n"
        "Paul : les commerces de proximité ferment."
    )
    for page in (marie, paul):
        expect(page.locator(".cm-line", has_text="ferment.")).to_be_visible()
        expect(page.locator(".cm-line", has_text="le territoire.")).to_be_visible()
    marie.wait_for_function("t => window.atelierDraft.ytext.toString() === t", arg=expected)
    paul.wait_for_function("t => window.atelierDraft.ytext.toString() === t", arg=expected)
    assert shown_text(marie) == shown_text(paul) == expected

    # Each sees the other's caret, named (the flags are hidden from screen readers).
    expect(marie.locator(".cm-remote-flag", has_text="Paul Sicard")).to_be_attached()
    expect(paul.locator(".cm-remote-flag", has_text="Marie Dupont")).to_be_attached()
    expect(marie.locator(".cm-remote-caret").first).to_have_attribute("aria-hidden", "true")

    # The preview is the server's rendering: the "# " line is a heading there, under the
    # page's h1 (the draft's title) and the preview's h2.
    for page in (marie, paul):
        preview = page.locator("#draft-preview")
        expect(preview.get_by_role("heading", level=3)).to_have_text("Titre du rapport")
        expect(preview).to_contain_text("les commerces de proximité ferment.")
        expect(page.locator("#draft-words")).to_have_text("15 mots")
    screenshot(marie, "draft-desktop")
    screenshot(paul, "draft-desktop-paul")

    # What the server keeps is what both see (a fresh reader gets the same text).
    html = httpx.get(
        f"{app_server.base_url}/api/drafts/{draft_id}/preview",
        cookies={"atelier_session": cookies(PAUL)},
    ).json()["html"]
    assert "les bourgs structurent le territoire." in html

    # Paul leaves: Marie's list says so.
    paul.close()
    expect(marie.locator("#draft-presence-list")).not_to_contain_text("Paul Sicard")
    expect(marie.locator("#draft-presence-title")).to_have_text("Dans le brouillon (1)")
    expect(marie.locator("#draft-announcer")).to_have_text("Paul Sicard a quitté le brouillon.")


def test_observer_reads_without_writing(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    tag = uuid.uuid4().hex[:6]
    draft_id = create_draft(app_server, cookies(MARIE), f"Relevé de décisions {tag}")
    marie = open_page(MARIE)
    open_draft(marie, draft_id)
    editor(marie).click()
    marie.keyboard.type("# Relevé\n\nLe chantier retient trois pistes.")

    louise = open_page(LOUISE)
    open_draft(louise, draft_id)
    expect(louise.locator("#draft-note")).to_contain_text("Lecture seule")
    text = editor(louise)
    expect(text).to_have_attribute("contenteditable", "false")
    expect(text).to_have_attribute("aria-readonly", "true")
    expect(louise.locator(".cm-line", has_text="trois pistes")).to_be_visible()
    expect(louise.locator("#draft-preview").get_by_role("heading", level=3)).to_have_text("Relevé")
    expect(louise.locator("#draft-presence-list")).to_contain_text("Marie Dupont")
    expect(marie.locator("#draft-presence-list")).to_contain_text("Louise Fournier")

    # Her keys change nothing, and she stays connected (no refused update, no 4003).
    text.click()
    louise.keyboard.press("End")
    louise.keyboard.type(" Louise écrit ici.")
    louise.keyboard.press("Enter")
    assert "Louise" not in shared_text(louise)
    marie.keyboard.type(" Une quatrième est à l'étude.")
    expect(louise.locator(".cm-line", has_text="quatrième")).to_be_visible()
    expect(louise.locator("#draft-status")).to_have_text(ONLINE)
    assert "Louise" not in shared_text(marie)
    # The writing help is for those who write.
    expect(louise.locator(".draft-help")).to_have_count(0)
    expect(louise.locator("#draft-preview")).to_contain_text("Une quatrième est à l'étude.")
    expect(louise.locator("#draft-words")).to_have_text("11 mots")
    screenshot(louise, "draft-observer")


def test_offline_edits_merge_on_return(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    tag = uuid.uuid4().hex[:6]
    draft_id = create_draft(app_server, cookies(MARIE), f"Compte rendu {tag}")
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_draft(marie, draft_id)
    open_draft(paul, draft_id)
    editor(marie).click()
    marie.keyboard.type("Début.\n\nFin.")
    expect(paul.locator(".cm-line", has_text="Fin.")).to_be_visible()

    # Paul's network goes: the page says so, and he keeps writing.
    paul.context.set_offline(True)
    paul.evaluate("() => window.atelierDraft.provider.ws?.close()")  # the socket drops
    expect(paul.locator("#draft-status")).to_have_text(OFFLINE)
    expect(paul.locator("#draft-preview-note")).to_have_text(
        "Aperçu en pause tant que vous êtes hors ligne."
    )
    type_at_line_end(paul, "Fin.", " Ajout de Paul hors ligne.")
    type_at_line_end(marie, "Début.", " Ajout de Marie en ligne.")
    marie.wait_for_timeout(500)
    assert "hors ligne" not in shared_text(marie)
    screenshot(paul, "draft-offline")

    # Back online: the provider reconnects and Yjs merges both sides.
    paul.context.set_offline(False)
    expect(paul.locator("#draft-status")).to_have_text(ONLINE, timeout=15_000)
    expected = "Début. Ajout de Marie en ligne.\n\nFin. Ajout de Paul hors ligne."
    marie.wait_for_function("t => window.atelierDraft.ytext.toString() === t", arg=expected)
    paul.wait_for_function("t => window.atelierDraft.ytext.toString() === t", arg=expected)
    expect(paul.locator("#draft-preview")).to_contain_text("Ajout de Marie en ligne.")


def test_draft_on_a_phone(open_page: OpenPage, app_server: ServerProcess, cookies: Cookies) -> None:
    tag = uuid.uuid4().hex[:6]
    draft_id = create_draft(app_server, cookies(MARIE), f"Notes de terrain {tag}")
    page = open_page(PAUL, viewport=PHONE, is_mobile=True, has_touch=True)
    open_draft(page, draft_id)
    # Nothing of the draft page is wider than the phone (the site header is not ours).
    assert page.evaluate("() => document.querySelector('main').scrollWidth") <= PHONE["width"]
    export = page.locator("#draft-export")
    export.locator("summary").tap()
    for link in export.get_by_role("link").all():
        box = link.bounding_box()
        assert box is not None
        assert 0 <= box["x"]
        assert box["x"] + box["width"] <= PHONE["width"]
    export.locator("summary").tap()

    tabs = page.get_by_role("tablist", name="Rédaction, aperçu ou commentaires")
    write = tabs.get_by_role("tab", name="Rédiger")
    show = tabs.get_by_role("tab", name="Aperçu")
    expect(write).to_have_attribute("aria-selected", "true")
    expect(page.locator("#draft-panel-preview")).to_be_hidden()

    editor(page).tap()
    page.keyboard.type("# Visite à Figeac\n\nLa halle est rénovée.")
    expect(page.locator(".cm-line", has_text="La halle est rénovée.")).to_be_visible()
    expect(page.locator("#draft-words")).to_have_text("7 mots")
    box = page.locator(".cm-editor").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= 150
    screenshot(page, "draft-phone-write")

    show.tap()
    expect(show).to_have_attribute("aria-selected", "true")
    expect(page.locator("#draft-panel-write")).to_be_hidden()
    expect(
        page.get_by_role("tabpanel", name="Aperçu").get_by_role("heading", level=3)
    ).to_have_text("Visite à Figeac")
    screenshot(page, "draft-phone-preview")

    # The tabs follow the keyboard too (arrows, Home, End); the third is the comments.
    show.focus()
    page.keyboard.press("ArrowLeft")
    expect(write).to_be_focused()
    expect(write).to_have_attribute("aria-selected", "true")
    expect(page.locator("#draft-panel-write")).to_be_visible()
    page.keyboard.press("End")
    expect(tabs.get_by_role("tab", name="Commentaires")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(show).to_have_attribute("aria-selected", "true")

    # Who is here, folded away by default.
    page.locator("#draft-presence summary").tap()
    expect(page.locator("#draft-presence-list")).to_contain_text("Paul Sicard")


def test_draft_page_accessibility(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    draft_id = create_draft(app_server, cookies(MARIE), f"Annexe {uuid.uuid4().hex[:6]}")
    page = open_page(MARIE, viewport=DESKTOP)
    open_draft(page, draft_id)
    editor(page).click()
    page.keyboard.type("Un paragraphe, sans titre.")
    expect(page.locator("#draft-preview")).to_contain_text("Un paragraphe, sans titre.")
    assert a11y_problems(page) == []
    # No inline style outside the editor's shadow root (colours are classes).
    assert page.evaluate("() => document.querySelectorAll('[style]').length") == 0
    # CodeMirror's styles are adopted sheets in its shadow root: no <style> element.
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0
    assert (
        page.evaluate(
            "() => document.getElementById('draft-editor').shadowRoot.adoptedStyleSheets.length"
        )
        >= 2
    )

    # The skip link puts the caret in the text.
    page.goto(f"/brouillons/{draft_id}")
    expect(page.locator("#draft-status")).to_have_text(ONLINE)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller à l'éditeur")).to_be_focused()
    page.keyboard.press("Enter")
    expect(editor(page)).to_be_focused()

    # The export menu opens from the keyboard and Escape closes it, focus back on it.
    summary = page.locator("#draft-export summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="PDF (.pdf)")).to_be_visible()
    page.get_by_role("link", name="Markdown (.md)").focus()
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="PDF (.pdf)")).to_be_hidden()
    expect(summary).to_be_focused()

    # The status line is a polite live region; the editor is labelled and described.
    expect(page.locator("#draft-status")).to_have_attribute("role", "status")
    expect(editor(page)).to_have_attribute("aria-describedby", "draft-cm-hint")


def test_lock_makes_the_draft_read_only(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    draft_id = create_draft(app_server, cookies(MARIE), f"Version finale {uuid.uuid4().hex[:6]}")
    marie = open_page(MARIE)
    paul = open_page(PAUL)
    open_draft(marie, draft_id)
    open_draft(paul, draft_id)
    editor(marie).click()
    marie.keyboard.type("Texte arrêté.")
    expect(paul.locator(".cm-line", has_text="Texte arrêté.")).to_be_visible()

    # Marie locks it: her page comes back read-only, with the reason.
    marie.get_by_role("button", name="Verrouiller").click()
    marie.wait_for_url(f"**/brouillons/{draft_id}")
    expect(marie.locator("#draft-note")).to_contain_text("Brouillon verrouillé")
    expect(marie.locator("#draft-status")).to_have_text(ONLINE)
    expect(editor(marie)).to_have_attribute("contenteditable", "false")
    expect(marie.get_by_role("button", name="Déverrouiller")).to_be_visible()

    # Paul's page was open: his next key is refused by the server (4003) and his
    # editor turns read-only, saying why.
    type_at_line_end(paul, "Texte arrêté.", " Paul ajoute")
    alert = paul.locator("#draft-alert")
    expect(alert).to_contain_text("Vous ne pouvez plus modifier ce brouillon")
    expect(alert.get_by_role("link", name="Recharger la page")).to_be_visible()
    expect(editor(paul)).to_have_attribute("contenteditable", "false")
    expect(paul.locator("#draft-status")).to_have_text(ONLINE, timeout=15_000)
    marie.wait_for_timeout(500)
    assert shared_text(marie) == "Texte arrêté."
    screenshot(paul, "draft-locked-meanwhile")

    marie.get_by_role("button", name="Déverrouiller").click()
    expect(marie.locator("#draft-note")).to_have_count(0)
    expect(editor(marie)).to_have_attribute("contenteditable", "true")


def test_oversized_paste_is_refused(
    open_page: OpenPage, app_server: ServerProcess, cookies: Cookies
) -> None:
    """One change is one update on the wire: over the server's limit it stays out, and
    the member is told how to go about it, instead of a refused, lost update."""
    draft_id = create_draft(app_server, cookies(MARIE), f"Annexe longue {uuid.uuid4().hex[:6]}")
    page = open_page(MARIE)
    open_draft(page, draft_id)
    limit = page.evaluate("() => JSON.parse(document.getElementById('boot').textContent)")[
        "limits"
    ]["update_bytes"]
    editor(page).click()
    page.keyboard.type("Avant. ")
    page.keyboard.insert_text("é" * (limit // 2 + 1))  # two bytes each in UTF-8
    expect(page.locator("#draft-alert")).to_contain_text("Ce texte est trop long")
    assert shared_text(page) == "Avant. "
    page.keyboard.insert_text("Un collage raisonnable.")
    page.wait_for_function(
        "() => window.atelierDraft.ytext.toString() === 'Avant. Un collage raisonnable.'"
    )
    expect(page.locator("#draft-status")).to_have_text(ONLINE)
