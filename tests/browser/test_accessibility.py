"""Every page a member can reach passes axe-core's WCAG 2.1 A/AA rules, for every role.

The other browser tests check the pages in the states they drive (menus open, ballots,
comments…); this one walks what each role sees from the home page, three links deep, one
page of each kind (``/salons/3`` stands for every room), on a desktop and on a phone.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.helpers import (
    ADMIN,
    DESKTOP,
    HELENE,
    LOUISE,
    MARIE,
    OLIVIER,
    PHONE,
    PIERRE,
    a11y_problems,
)

# Downloads (exports, the API's JSON, CSV) are not pages; signing out is a form, not a link.
NOT_PAGES = re.compile(r"/export|\.(json|csv|md|pdf|docx|odt|html)$|^/(static|api)/")


def _kind(path: str) -> str:
    """One page of each kind: the path with its numbers as placeholders (``/salons/N``).
    The query stays: each space's list of drafts is its own page, so that the walk finds
    the space that has one."""
    path, _, query = path.split("#")[0].partition("?")
    return re.sub(r"/\d+", "/N", path) + (f"?{query}" if query else "")


def _settle(page: Any) -> None:
    """Wait until what the page loads after its HTML is shown: a room's messages, a
    draft's text."""
    page.wait_for_load_state("load")
    if page.locator("#messages").count():
        page.locator("#messages[aria-busy='false']").wait_for()
    if page.locator("#draft-editor").count():
        page.locator("#draft-editor .cm-content[aria-readonly]").first.wait_for(state="attached")


def _links(page: Any) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href^='/']", "links => links.map(a => a.getAttribute('href'))"
    )
    return [h for h in hrefs if not NOT_PAGES.search(h)]


def _crawl(page: Any, depth: int = 3) -> dict[str, list[str]]:
    """The problems of each kind of page reachable from home within ``depth`` links."""
    problems: dict[str, list[str]] = {}
    frontier = ["/"]
    for _ in range(depth + 1):
        following: list[str] = []
        for path in frontier:
            if _kind(path) in problems:
                continue
            response = page.goto(path)
            assert response is not None
            assert response.ok, f"{path}: {response.status}"
            _settle(page)
            problems[_kind(path)] = a11y_problems(page)
            following += _links(page)
        frontier = following
    return problems


@pytest.mark.parametrize(
    ("email", "viewport"),
    [
        pytest.param(ADMIN, DESKTOP, id="admin"),
        pytest.param(HELENE, DESKTOP, id="comite"),
        pytest.param(PIERRE, DESKTOP, id="copilote"),
        pytest.param(MARIE, DESKTOP, id="rapporteure"),
        pytest.param(OLIVIER, DESKTOP, id="membre"),
        pytest.param(LOUISE, DESKTOP, id="observatrice"),
        pytest.param(MARIE, PHONE, id="rapporteure-phone"),
        pytest.param(PIERRE, PHONE, id="copilote-phone"),
    ],
)
def test_every_page_a_role_reaches_passes_axe(open_page: Any, email: str, viewport: dict) -> None:
    problems = _crawl(open_page(email, viewport))
    assert len(problems) >= 8, sorted(problems)  # the walk did reach the pages
    assert {kind: found for kind, found in problems.items() if found} == {}


def test_pages_before_signing_in_pass_axe(open_page: Any) -> None:
    page = open_page()
    problems = {}
    for path in ("/connexion", "/mot-de-passe/oublie", "/accessibilite", "/invitation/inconnue"):
        page.goto(path)
        problems[path] = a11y_problems(page)
    assert problems == {path: [] for path in problems}


def test_the_check_finds_what_it_is_for(open_page: Any) -> None:
    """The check itself can fail: a field without a label and grey on white are caught."""
    page = open_page()
    page.goto("/accessibilite")
    page.evaluate(
        """() => {
          const main = document.querySelector("main");
          main.insertAdjacentHTML("beforeend", '<input type="text" id="bare">');
          const faint = document.createElement("p");
          faint.textContent = "Texte trop pâle";
          faint.style.color = "#bbbbbb";
          main.append(faint);
        }"""
    )
    found = " ".join(a11y_problems(page))
    assert "field without label" in found  # the project's smoke
    assert "inline style: P" in found
    assert "color-contrast" in found  # axe-core
    assert "label (critical)" in found
